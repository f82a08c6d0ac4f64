"""Provisioned Throughput of a full-rank run: the statuses the poll acts on, the refusal of the paid call itself.
Exact requests checked by botocore's Stubber against the bedrock service model."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import DeploymentState, ExecutionRef
from nova_pipeline.jobs.bedrock import delete_deployment
from nova_pipeline.jobs.provisioned import (
    ProvisionedThroughputRefused,
    poll_provisioned_throughput,
    provisioned_throughput_request,
)

ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/abcdef123456"
EXECUTION = ExecutionRef(name="run-1", arn="arn:aws:states:us-east-1:123456789012:execution:sm:run-1")
CREATING = DeploymentState(
    deployment_arn=ARN, deployment_name="nova-dev-x-pt-1", model_arn=MODEL, kind="provisioned-throughput"
)
WHEN = datetime(2026, 12, 2, tzinfo=UTC)


def _get(status: str, **extra: str) -> dict[str, object]:
    return {
        "modelUnits": 1, "desiredModelUnits": 1, "provisionedModelName": "nova-dev-x-pt-1", "provisionedModelArn": ARN,
        "modelArn": MODEL, "desiredModelArn": MODEL,
        "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        "status": status, "creationTime": WHEN, "lastModifiedTime": WHEN, **extra,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "done", "succeeded", "failure"),
    [
        ("Creating", False, False, None),
        ("Updating", False, False, None),
        ("InService", True, True, None),
        ("Failed", True, False, "Provisioned Throughput ended Failed (no failureMessage)"),
    ],
)
def test_only_in_service_is_ready(status: str, done: bool, succeeded: bool, failure: str | None) -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(bedrock) as stub:
        stub.add_response("get_provisioned_model_throughput", _get(status), {"provisionedModelId": ARN})

        polled = poll_provisioned_throughput(bedrock, CREATING, wait_seconds=60)

    assert (polled.status, polled.done, polled.succeeded, polled.failure_message) == (status, done, succeeded, failure)
    assert polled.kind == "provisioned-throughput" and polled.deployment_arn == ARN


def test_a_failed_provisioned_throughput_reports_the_service_message() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(bedrock) as stub:
        stub.add_response(
            "get_provisioned_model_throughput",
            _get("Failed", failureMessage="No model units available"),
            {"provisionedModelId": ARN},
        )

        polled = poll_provisioned_throughput(bedrock, CREATING, wait_seconds=60)

    assert polled.failure_message == "No model units available"


def test_deleting_the_candidate_deletes_a_provisioned_throughput_by_its_arn() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(bedrock) as stub:
        stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": ARN})
        stub.add_client_error("delete_provisioned_model_throughput", "ResourceNotFoundException", "gone")

        assert delete_deployment(bedrock, ARN) is True
        assert delete_deployment(bedrock, ARN) is False


def test_the_paid_call_itself_refuses_a_price_above_the_cap() -> None:
    run = parse_execution_input(
        {
            "dataset": {"uri": "raw/x.csv"},
            "platform": "sagemaker",
            "sagemaker": {"peftScheme": "none"},
            "deployment": {"provisionedThroughput": {"usdPerModelUnitHour": 20, "maxHourlyUsd": 20}},
        }
    )
    throughput = run.deployment.provisioned_throughput
    assert throughput is not None
    tampered = run.model_copy(
        update={"deployment": run.deployment.model_copy(update={"provisioned_throughput": throughput.model_copy(
            update={"model_units": 5})})}
    )  # fmt: skip

    with pytest.raises(ProvisionedThroughputRefused, match=r"5 model unit\(s\) at \$100.00 per hour"):
        provisioned_throughput_request(tampered, model_arn=MODEL, environment="dev", execution=EXECUTION)
