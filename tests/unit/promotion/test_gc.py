"""gc: only this environment's tagged custom models that are neither active, nor rollback targets, nor young are
deleted (their deployments first); a dry run sends no delete. Exact requests checked by botocore's Stubber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.promotion.gc import GcPolicy, collect_and_delete
from nova_pipeline.promotion.record import ActiveModelRecord

NOW = datetime(2026, 12, 2, tzinfo=UTC)
OLD, YOUNG = NOW - timedelta(days=60), NOW - timedelta(days=2)
ACCOUNT = "123456789012"
BASE = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"


def model(name: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/{name}"


def deployment(name: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/{name}"


def tags(environment: str | None) -> dict[str, Any]:
    if environment is None:
        return {"tags": [{"key": "team", "value": "ml"}]}
    return {"tags": [{"key": "project", "value": "nova-customization"}, {"key": "environment", "value": environment}]}


def record(name: str) -> str:
    return ActiveModelRecord(
        deployment_arn=deployment(name), custom_model_arn=model(name), base_model="nova-micro", promoted_at=OLD
    ).model_dump_json(by_alias=True)


# name, created, tags' environment (None: untagged)
MODELS = [
    ("first00000001", OLD, "dev"),  # promoted at version 1: beyond the one rollback target kept -> deleted
    ("second0000002", OLD, "dev"),  # promoted at version 2: the rollback target
    ("active0000003", OLD, "dev"),  # version 3: active
    ("reject0000004", OLD, "dev"),  # a kept rejected model, old -> deleted
    ("young00000005", YOUNG, "dev"),  # younger than the retention
    ("manual0000006", OLD, None),  # not the pipeline's
    ("prodmodel0007", OLD, "prod"),  # another environment's
]
DEPLOYMENTS = {"first00000001": "deploy0000001", "active0000003": "deploy0000003"}
KEPT = {
    model("second0000002"): "rollback target (version 2)",
    model("active0000003"): "active model (version 3)",
    model("young00000005"): "younger than the retention (30 days)",
    model("manual0000006"): "not tagged by the pipeline",
    model("prodmodel0007"): "environment prod",
}


def _expect_listing(ssm: Stubber, bedrock: Stubber) -> None:
    history = [
        {"Name": "/nova-customization/dev/active-model", "Version": v, "Value": record(n), "Type": "SecureString"}
        for v, n in ((1, "first00000001"), (2, "second0000002"), (3, "active0000003"))
    ]
    ssm.add_response(
        "get_parameter_history",
        {"Parameters": history},
        {"Name": "/nova-customization/dev/active-model", "WithDecryption": True},
    )
    bedrock.add_response(
        "list_custom_model_deployments",
        {
            "modelDeploymentSummaries": [
                {
                    "customModelDeploymentArn": deployment(d),
                    "customModelDeploymentName": d,
                    "modelArn": model(m),
                    "createdAt": OLD,
                    "status": "Active",
                }
                for m, d in DEPLOYMENTS.items()
            ]
        },
        {},
    )
    summaries = [
        {"modelArn": model(n), "modelName": n, "creationTime": c, "baseModelArn": BASE, "baseModelName": "Nova Micro"}
        for n, c, _ in MODELS
    ]
    bedrock.add_response("list_custom_models", {"modelSummaries": summaries}, {})
    for name, _, environment in MODELS:
        bedrock.add_response("list_tags_for_resource", tags(environment), {"resourceARN": model(name)})
        if name == "first00000001":  # a candidate: its deployment must be this environment's too
            bedrock.add_response("list_tags_for_resource", tags("dev"), {"resourceARN": deployment("deploy0000001")})


@pytest.mark.parametrize("dry_run", [True, False])
def test_gc_deletes_only_old_unprotected_models_of_its_environment(dry_run: bool) -> None:
    ssm, bedrock = boto3.client("ssm", region_name="us-east-1"), boto3.client("bedrock", region_name="us-east-1")
    policy = GcPolicy(environment="dev", retention_days=30, keep_versions=1)
    with Stubber(ssm) as ssm_stub, Stubber(bedrock) as stub:
        _expect_listing(ssm_stub, stub)
        if not dry_run:  # exactly these deletes, the deployment before its model
            stub.add_response(
                "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": deployment("deploy0000001")}
            )
            stub.add_response("delete_custom_model", {}, {"modelIdentifier": model("first00000001")})
            stub.add_response("delete_custom_model", {}, {"modelIdentifier": model("reject0000004")})

        report = collect_and_delete(bedrock, ssm, policy, now=NOW, dry_run=dry_run)

        stub.assert_no_pending_responses()
    assert [c.model_arn for c in report.deleted] == [model("first00000001"), model("reject0000004")]
    assert report.kept == KEPT
    assert report.monthly_savings_usd == 3.90  # 2 x $1.95 (prices.json customModelStoragePerMonth)
    dumped = report.dump()
    assert ("wouldDelete" if dry_run else "deleted") in dumped and dumped["dryRun"] is dry_run
    assert report.summary().splitlines()[0] == (
        f"dev: {'would delete' if dry_run else 'deleted'} 2 custom model(s), saving $3.90 a month in storage; kept 5"
    )


def test_a_model_bedrock_refuses_to_delete_now_is_kept_with_the_reason() -> None:
    ssm, bedrock = boto3.client("ssm", region_name="us-east-1"), boto3.client("bedrock", region_name="us-east-1")
    with Stubber(ssm) as ssm_stub, Stubber(bedrock) as stub:
        _expect_listing(ssm_stub, stub)
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": deployment("deploy0000001")}
        )
        stub.add_client_error("delete_custom_model", "ConflictException", "deployment is being deleted")
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": model("reject0000004")})

        report = collect_and_delete(bedrock, ssm, GcPolicy("dev", 30, 1), now=NOW, dry_run=False)

    assert [c.model_arn for c in report.deleted] == [model("reject0000004")]
    assert report.kept[model("first00000001")] == (
        "could not be deleted now: bedrock DeleteCustomModel: ConflictException: deployment is being deleted"
    )
