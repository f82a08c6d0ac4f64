"""Garbage collection of an environment's custom models: the ones nothing serves and nobody can roll back to.

A custom model costs $1.95 a month in storage whether or not it is deployed (NOVA_FACTS.md section 8 and its
correction in section 9; `evaluation/prices.json`, `customModelStoragePerMonth`). `nova-pipeline gc` and the
scheduled clean-up delete a model (and first its on-demand deployments) only when all of these hold:

- it carries the pipeline's tags for this environment (`project: nova-customization`, `environment: <env>`):
  untagged resources and other environments' are never touched (IAM refuses them too: `stage.environment_scope`);
- it is not the active model and not one of the last `keep_versions` models promoted before it (the rollback
  targets, from the active-model parameter's version history);
- it is older than `retention_days`.

Every decision is reported, with the monthly storage cost the deletions save.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.core.errors import AwsRequestFailed, aws_call, error_code
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.jobs.bedrock import delete_custom_model, delete_deployment
from nova_pipeline.jobs.naming import PROJECT_TAG
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name

DEFAULT_RETENTION_DAYS = 30
DEFAULT_KEEP_VERSIONS = 2


@dataclass(frozen=True)
class GcPolicy:
    environment: str
    retention_days: int
    keep_versions: int
    """Rollback targets kept besides the active model: the models of the last N promotions before it."""


@dataclass(frozen=True)
class Candidate:
    model_arn: str
    model_name: str
    created: datetime
    deployments: tuple[str, ...]
    monthly_storage_usd: float


@dataclass
class GcReport:
    environment: str
    dry_run: bool
    deleted: list[Candidate] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    """Custom model ARN -> why it was kept (active, rollback target, younger than the retention, not ours)."""

    @property
    def monthly_savings_usd(self) -> float:
        return round(sum(c.monthly_storage_usd for c in self.deleted), 2)

    def dump(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "dryRun": self.dry_run,
            "deleted" if not self.dry_run else "wouldDelete": [
                {
                    "modelArn": c.model_arn,
                    "modelName": c.model_name,
                    "createdAt": c.created.isoformat(),
                    "deployments": list(c.deployments),
                    "monthlyStorageUsd": c.monthly_storage_usd,
                }
                for c in self.deleted
            ],
            "kept": self.kept,
            "monthlySavingsUsd": self.monthly_savings_usd,
        }

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        lines = [
            f"{self.environment}: {verb} {len(self.deleted)} custom model(s), saving "
            f"${self.monthly_savings_usd:.2f} a month in storage; kept {len(self.kept)}"
        ]
        lines += [f"  {verb} {c.model_name} ({c.model_arn}, created {c.created:%Y-%m-%d})" for c in self.deleted]
        lines += [f"  kept {arn}: {why}" for arn, why in self.kept.items()]
        return "\n".join(lines)


def protected_models(ssm: Any, environment: str, keep_versions: int) -> dict[str, str]:
    """The active model and the rollback targets (models of the last `keep_versions` earlier promotions), by ARN."""
    from botocore.exceptions import ClientError

    versions: list[tuple[int, ActiveModelRecord]] = []
    name = active_model_parameter_name(environment)
    try:
        for page in ssm.get_paginator("get_parameter_history").paginate(Name=name, WithDecryption=True):
            for parameter in page["Parameters"]:
                versions.append((int(parameter["Version"]), ActiveModelRecord.model_validate_json(parameter["Value"])))
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return {}  # nothing was ever promoted in this environment
        with aws_call("ssm", "GetParameterHistory"):
            raise
    protected: dict[str, str] = {}
    for version, record in sorted(versions, key=lambda item: item[0], reverse=True):
        if not protected:
            protected[record.custom_model_arn] = f"active model (version {version})"
        elif record.custom_model_arn not in protected and len(protected) <= keep_versions:
            protected[record.custom_model_arn] = f"rollback target (version {version})"
    return protected


def storage_price(base_model_arn: str) -> float:
    """Monthly storage of a custom model of this base model (the price table's; the highest when unknown)."""
    prices = load_prices()
    for spec in MODELS.values():
        if spec.customization_id and spec.customization_id.split(":")[0] in base_model_arn:
            return prices.of(spec.short_name).custom_model_storage_per_month
    return max(model.custom_model_storage_per_month for model in prices.models.values())


def _tags(bedrock: Any, arn: str) -> dict[str, str]:
    with aws_call("bedrock", "ListTagsForResource"):
        return {tag["key"]: tag["value"] for tag in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}


def _not_ours(tags: dict[str, str], environment: str) -> str | None:
    if tags.get("project") != PROJECT_TAG or "environment" not in tags:
        return "not tagged by the pipeline"
    if tags["environment"] != environment:
        return f"environment {tags['environment']}"
    return None


def collect(bedrock: Any, ssm: Any, policy: GcPolicy, *, now: datetime) -> GcReport:
    """What gc would delete under `policy` (a dry-run report; `collect_and_delete` deletes it)."""
    report = GcReport(policy.environment, dry_run=True)
    protected = protected_models(ssm, policy.environment, policy.keep_versions)
    cutoff = now - timedelta(days=policy.retention_days)
    deployments: dict[str, list[str]] = {}
    with aws_call("bedrock", "ListCustomModelDeployments"):
        for page in bedrock.get_paginator("list_custom_model_deployments").paginate():
            for summary in page["modelDeploymentSummaries"]:
                deployments.setdefault(summary["modelArn"], []).append(summary["customModelDeploymentArn"])
    with aws_call("bedrock", "ListCustomModels"):
        models = [m for page in bedrock.get_paginator("list_custom_models").paginate() for m in page["modelSummaries"]]
    for model in models:
        arn = model["modelArn"]
        reason = _not_ours(_tags(bedrock, arn), policy.environment) or protected.get(arn)
        if reason is None and model["creationTime"] > cutoff:
            reason = f"younger than the retention ({policy.retention_days} days)"
        own = deployments.get(arn, [])
        if reason is None:
            foreign = next((d for d in own if _not_ours(_tags(bedrock, d), policy.environment)), None)
            reason = f"its deployment {foreign} is not this environment's" if foreign else None
        if reason is not None:
            report.kept[arn] = reason
            continue
        price = storage_price(str(model.get("baseModelArn", "")))
        report.deleted.append(Candidate(arn, model["modelName"], model["creationTime"], tuple(own), price))
    return report


def collect_and_delete(bedrock: Any, ssm: Any, policy: GcPolicy, *, now: datetime, dry_run: bool) -> GcReport:
    """Delete (unless `dry_run`) every custom model `collect` selects, its deployments first."""
    report = collect(bedrock, ssm, policy, now=now)
    report.dry_run = dry_run
    if dry_run:
        return report
    deleted = []
    for candidate in report.deleted:
        try:  # best effort: a model Bedrock refuses to delete now is reported and tried again next time
            for deployment in candidate.deployments:
                with aws_call("bedrock", "DeleteCustomModelDeployment"):
                    delete_deployment(bedrock, deployment)
            with aws_call("bedrock", "DeleteCustomModel"):
                delete_custom_model(bedrock, candidate.model_arn)
        except AwsRequestFailed as error:
            report.kept[candidate.model_arn] = f"could not be deleted now: {error}"
            continue
        deleted.append(candidate)
    report.deleted = deleted
    return report
