"""Per-environment settings: one typed, frozen, validated object built from the `cdk.json` context.

`cdk.json` holds a block per environment under the context key `nova:environments`; `-c env=NAME` selects one
(without it, every environment is synthesized). An unknown environment or an invalid value stops the synth with a
message naming the key and the allowed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.catalog import CUSTOMIZABLE_MODELS
from nova_pipeline.contract.reference import field_rows
from nova_pipeline.promotion.gc import DEFAULT_KEEP_VERSIONS, DEFAULT_RETENTION_DAYS

CONTEXT_KEY = "nova:environments"
SELECT_KEY = "env"

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
CUSTOMIZATION_REGIONS = ("us-east-1", "us-west-2")
# bedrock-runtime Converse `guardrailConfig.guardrailIdentifier` (botocore service model), without the empty value.
GUARDRAIL_IDENTIFIER = r"^([a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$"


# CreateTrainingJob `MlflowConfig.MlflowResourceArn` (botocore service model; the API reference's AIMlflowConfig names
# the two kinds: mlflow-tracking-server and mlflow-app).
MLFLOW_ARN = r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:[0-9]{12}:mlflow-(app|tracking-server)/[A-Za-z0-9\-]+$"
# A KMS key ARN (not an alias): IAM grants on keys take the key ARN.
KMS_KEY_ARN = r"^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:[0-9]{12}:key/[A-Za-z0-9\-]+$"
# A general purpose bucket (S3 user guide, "General purpose bucket naming rules") and an optional key prefix.
S3_PREFIX = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^\s]*)?$"


class ConfigError(Exception):
    """A configuration problem that stops the synth; the message names the key and the allowed values."""


class _Settings(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class ApiSettings(_Settings):
    """The inference API of the environment."""

    auth: Literal["iam", "api-key"] = "iam"
    """`iam` (SigV4, default) or `api-key` (API key + usage plan)."""
    throttle_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 10
    """Steady-state requests per second of the stage."""
    throttle_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 20
    """Burst capacity of the stage."""
    max_body_bytes: Annotated[int, Field(ge=1_024, le=1_048_576)] = 65_536
    """Largest accepted request body."""
    max_input_chars: Annotated[int, Field(ge=1, le=200_000)] = 20_000
    """Longest accepted `input` text."""
    allow_context: bool = True
    """Accept a caller's `context` (e.g. CREATE TABLE statements) in `POST /v1/generate`. It is always sent in the
    user turn between `<context>` tags, never in the system prompt; `false` refuses it with a 400."""
    debug_logging: bool = False
    """Log prompts and outputs (never in prod unless you must debug)."""
    reserved_concurrency: Annotated[int | None, Field(ge=1, le=10_000)] = None
    """Reserved concurrency of the inference function: its ceiling, and capacity no other function can take (unset:
    none). Lambda keeps 100 of the account's concurrency unreserved, so an account at the default quota of 1,000
    can reserve at most 900 in all."""


class EvaluationSettings(_Settings):
    """Defaults of the quality gate; an execution input may tighten or override them."""

    min_primary_metric: Annotated[float | None, Field(ge=0, le=1)] = None
    """Minimum primary metric (unset: no minimum)."""
    min_gain_over_baseline: float = 0.0
    """Minimum absolute gain of the primary metric over the baseline."""
    max_ttft_p90_ms: Annotated[float | None, Field(gt=0)] = None
    """Maximum time-to-first-token p90 in ms (unset: no limit)."""
    max_cost_per_1k_requests_usd: Annotated[float | None, Field(ge=0, alias="maxCostPer1kRequestsUsd")] = None
    """Maximum cost per 1,000 requests (unset: no limit)."""
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    """Maximum share of failed evaluation requests."""
    requests_per_minute: Annotated[int | None, Field(ge=1)] = None
    """Optional ceiling on evaluation's requests per minute (unset: the rate adapts to the account's quota)."""
    delete_rejected_deployment: bool = True
    """Delete the new deployment when the gate rejects it (so it costs nothing)."""
    max_general_regression: Annotated[float | None, Field(ge=0, le=1)] = None
    """Maximum drop of general-set accuracy from the base model (the forgetting guard; an input must then name an
    `evaluation.general` set). Unset: not checked."""
    max_guardrail_intervention_rate: Annotated[float | None, Field(ge=0, le=1)] = None
    """Maximum share of the candidate's evaluation answers the environment's guardrail intervened on (needs
    `guardrail`; unset: reported, not checked)."""


class GuardrailSettings(_Settings):
    """An existing Amazon Bedrock guardrail applied to the inference API's and the evaluation's Converse calls."""

    identifier: Annotated[str, Field(pattern=GUARDRAIL_IDENTIFIER)]
    """Guardrail id (e.g. `gr1abc2def3`) or ARN in the environment's account and Region."""
    version: Annotated[str, Field(pattern=r"^([1-9][0-9]{0,7}|DRAFT)$")]
    """A published version number (recommended) or `DRAFT`."""


class ApprovalSettings(_Settings):
    """Human approval before promotion: the execution waits for `nova-pipeline approve` / `reject`."""

    required: bool | None = None
    """Wait for an approval before promoting (unset: on in `prod`, off elsewhere). An execution input may require it
    where it is off, never waive it where it is on."""
    timeout_hours: Annotated[float, Field(gt=0, le=120)] = 72
    """Hours an approval may wait; then the candidate is rejected (and cleaned up like a gate rejection). At most
    120 h, inside the state machine's 7-day timeout."""


class TriggerSettings(_Settings):
    """Data-triggered runs: an execution input uploaded under the prefix starts an execution."""

    enabled: bool = False
    """Start an execution when `<prefix><name>/input.json` is uploaded to the data bucket (write it last)."""
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}/$")] = "incoming/"
    """Prefix of the data bucket watched for `input.json` objects."""


class LifecycleSettings(_Settings):
    """The scheduled clean-up of custom models (EventBridge Scheduler -> GarbageCollect; `nova-pipeline gc` by hand)."""

    enabled: bool = False
    """Run the clean-up on `schedule` (off by default; prod keeps it off unless you turn it on)."""
    retention_days: Annotated[int, Field(ge=0, le=3_650)] = DEFAULT_RETENTION_DAYS
    """Delete only custom models older than this many days."""
    keep_versions: Annotated[int, Field(ge=0, le=100)] = DEFAULT_KEEP_VERSIONS
    """Rollback targets kept besides the active model: the models of the last N promotions before it."""
    schedule: str = "rate(1 day)"
    """EventBridge Scheduler expression (`rate(...)` or `cron(...)`)."""

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not (value.startswith(("rate(", "cron(")) and value.endswith(")")):
            raise ValueError("must be an EventBridge Scheduler rate(...) or cron(...) expression")
        return value


class EnvironmentSettings(_Settings):
    """Everything that differs between environments (`dev`, `prod`, ...)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,11}$")]
    """Environment name (the key of the block); prefixes every stack and resource name."""
    account: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None
    """AWS account id; unset: the account of the credentials used at deploy time."""
    region: str = "us-east-1"
    """AWS region; Bedrock customization of Nova runs in us-east-1 or us-west-2."""
    default_base_model: str = "nova-micro"
    """Base model used when an execution input names none."""
    removal_policy: Literal["retain", "destroy"] = "retain"
    """`retain` keeps buckets and the key when the stack is deleted; `destroy` empties and deletes them (dev)."""
    log_retention_days: int = 30
    """Retention of every log group, in days (a value CloudWatch Logs accepts)."""
    poll_interval_seconds: Annotated[int, Field(ge=1, le=3_600)] = 300
    """How often the state machine polls jobs and deployments."""
    alarm_email: Annotated[str | None, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = None
    """E-mail subscribed to the environment's notification topic (unset: no subscription)."""
    api: ApiSettings = ApiSettings()
    """Inference API settings."""
    evaluation: EvaluationSettings = EvaluationSettings()
    """Evaluation and quality-gate defaults."""
    approval: ApprovalSettings = ApprovalSettings()
    """Human approval before promotion."""
    triggers: TriggerSettings = TriggerSettings()
    """Data-triggered runs (off by default)."""
    encrypt_logs: bool | None = None
    """Encrypt every log group with the environment's KMS key (unset: on in `prod`, off elsewhere)."""
    lifecycle: LifecycleSettings = LifecycleSettings()
    """Scheduled clean-up of expired custom models (retention, rollback targets kept)."""
    guardrail: GuardrailSettings | None = None
    """Optional Bedrock guardrail (`{"identifier": ..., "version": ...}`) on inference and evaluation (unset: none)."""
    mlflow_tracking_arn: Annotated[str | None, Field(pattern=MLFLOW_ARN)] = None
    """Optional SageMaker managed MLflow tracking server or MLflow app ARN: SageMaker training jobs log their
    parameters and metrics there (CreateTrainingJob `MlflowConfig`) and every evaluated stage its figures, verdict
    and report's location; unset: no experiment tracking."""
    mlflow_artifact_store_uri: Annotated[str | None, Field(pattern=S3_PREFIX)] = None
    """Optional artifact store of that server or app (its `ArtifactStoreUri`, `s3://bucket/prefix`): the evaluation
    uploads report.json and report.html there as run artifacts (the only place outside the pipeline's buckets it may
    write); unset: the run's tags carry the reports' S3 locations. Needs `mlflowTrackingArn`."""
    mlflow_artifact_key_arn: Annotated[str | None, Field(pattern=KMS_KEY_ARN)] = None
    """The customer managed KMS key the artifact store's bucket encrypts with by default, if it has one: writing an
    SSE-KMS object needs `kms:GenerateDataKey` on it (S3 user guide, "Using SSE-KMS"), granted on this key only.
    Needs `mlflowArtifactStoreUri`."""

    @model_validator(mode="after")
    def _artifact_store_needs_server(self) -> EnvironmentSettings:
        if self.mlflow_artifact_store_uri and not self.mlflow_tracking_arn:
            raise ValueError("mlflowArtifactStoreUri is set without mlflowTrackingArn (the server it belongs to)")
        if self.mlflow_artifact_key_arn and not self.mlflow_artifact_store_uri:
            raise ValueError("mlflowArtifactKeyArn is set without mlflowArtifactStoreUri (the bucket it encrypts)")
        return self

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in CUSTOMIZATION_REGIONS:
            raise ValueError(f"must be one of {', '.join(CUSTOMIZATION_REGIONS)} (where Nova customization runs)")
        return value

    @field_validator("default_base_model")
    @classmethod
    def _model(cls, value: str) -> str:
        if value not in CUSTOMIZABLE_MODELS:
            raise ValueError(f"must be one of {', '.join(CUSTOMIZABLE_MODELS)}")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @property
    def prefix(self) -> str:
        """Prefix of stack names and of the few names the pipeline sets itself (SSM parameters, jobs)."""
        return f"nova-{self.name}"

    @property
    def destroy_on_delete(self) -> bool:
        return self.removal_policy == "destroy"

    @property
    def approval_required(self) -> bool:
        """Whether promotions wait for an approval (`approval.required`; unset: only in `prod`)."""
        return self.name == "prod" if self.approval.required is None else self.approval.required

    @property
    def logs_encrypted(self) -> bool:
        """Whether log groups are encrypted with the environment's key (`encryptLogs`; unset: only in `prod`)."""
        return self.name == "prod" if self.encrypt_logs is None else self.encrypt_logs


def load_environments(context: Any, selected: str | None) -> list[EnvironmentSettings]:
    """Build the settings of the selected environment (or of all of them) from the `cdk.json` context block."""
    if not isinstance(context, Mapping) or not context:
        raise ConfigError(f"cdk.json context {CONTEXT_KEY!r} must be an object with one block per environment")
    names = sorted(context)
    if selected is not None and selected not in context:
        raise ConfigError(
            f"unknown environment {selected!r} (-c {SELECT_KEY}={selected}); allowed values: {', '.join(names)}"
        )
    return [_build(name, context[name]) for name in ([selected] if selected else names)]


def _build(name: str, block: Any) -> EnvironmentSettings:
    if not isinstance(block, Mapping):
        raise ConfigError(f"cdk.json context {CONTEXT_KEY}.{name} must be an object")
    try:
        return EnvironmentSettings.model_validate({**block, "name": name})
    except ValidationError as error:
        lines = []
        for detail in error.errors(include_url=False):
            key = ".".join(str(part) for part in (CONTEXT_KEY, name, *detail["loc"]))
            message = detail["msg"].removeprefix("Value error, ")
            if detail["type"] == "extra_forbidden":
                allowed = _allowed_keys(detail["loc"])
                message = f"is not a known setting; allowed keys: {', '.join(allowed)}"
            else:
                message = f"{message} (got {detail.get('input')!r})"
            lines.append(f"  {key}: {message}")
        raise ConfigError("invalid environment settings in cdk.json:\n" + "\n".join(lines)) from None


def _allowed_keys(location: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = EnvironmentSettings
    for part in location[:-1]:
        annotation = model.model_fields[_field_name(model, str(part))].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return sorted(field.alias or name for name, field in model.model_fields.items() if name != "name")


def _field_name(model: type[BaseModel], alias: str) -> str:
    for name, field in model.model_fields.items():
        if alias in (name, field.alias):
            return name
    return alias


def configuration_reference() -> str:
    """Markdown reference of an environment block, generated from the settings model (docs/configuration.md)."""
    rows = [row for row in field_rows(EnvironmentSettings) if not row.startswith("| `name` ")]
    return "\n".join(
        [
            "# Environment configuration reference",
            "",
            f"Each environment is a block under `context.{CONTEXT_KEY}.<name>` in `cdk.json` (the block's key is",
            "the environment name: lowercase letters and digits, up to 12 characters). Generated from",
            "`stacks/config.py`; a test keeps this file equal to the model. Unknown keys and invalid values stop the",
            "synth with a message naming the key and the allowed values.",
            "",
            "| Key | Type | Default | Description |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
