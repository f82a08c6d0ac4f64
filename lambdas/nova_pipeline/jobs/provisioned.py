"""Provisioned Throughput for a full-rank SageMaker model: buy it (no commitment), wait until it is InService, and
delete it when the candidate is rejected or the run fails. It bills per model unit and hour while it exists.

Facts (botocore `bedrock` service model, 2023-04-20; Bedrock user guide, "Provisioned Throughput"):
- `CreateProvisionedModelThroughput{modelUnits (>= 1), provisionedModelName (1-63, ([0-9a-zA-Z][_-]?)+), modelId,
  commitmentDuration?, tags?, clientRequestToken?}` -> `provisionedModelArn`
  (`arn:aws:bedrock:<region>:<account>:provisioned-model/<12 chars>`). "To request a no-commit Provisioned
  Throughput, omit [commitmentDuration]. Custom models support all levels of commitment." `modelId` is the custom
  model's ARN (imported Nova models: `custom-model/imported/<id>`, which the shape's pattern accepts).
- `GetProvisionedModelThroughput{provisionedModelId}` -> `status` `Creating | InService | Updating | Failed`,
  `failureMessage`, `modelUnits`, `modelArn`, ...
- `DeleteProvisionedModelThroughput{provisionedModelId}`: "You can't delete a Provisioned Throughput before the
  commitment term is over" (hence no commitment only).
- Inference: "use the ARN of the provisioned model as the `modelId`" of Converse / ConverseStream (Bedrock user
  guide, "Use a Provisioned Throughput with an Amazon Bedrock resource").
"""

from __future__ import annotations

from typing import Any

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.run_state import DeploymentState, ExecutionRef
from nova_pipeline.core.errors import aws_call, error_code
from nova_pipeline.jobs.naming import client_request_token, pipeline_tags, resource_name

READY = "InService"
FAILED = "Failed"
KIND = "provisioned-throughput"


class ProvisionedThroughputRefused(Exception):  # noqa: N818 - the Step Functions error name a user sees
    """The input asks for no Provisioned Throughput, or one above its `maxHourlyUsd` (ValidateInput refuses both
    first; this guards the paid call itself)."""


def provisioned_throughput_request(
    run: ExecutionInput, *, model_arn: str, environment: str, execution: ExecutionRef
) -> dict[str, Any]:
    """The CreateProvisionedModelThroughput request of this execution: no commitment (`commitmentDuration`
    omitted), tagged like every resource of the run, idempotent per execution."""
    throughput = run.deployment.provisioned_throughput
    if throughput is None:
        raise ProvisionedThroughputRefused("the input sets no deployment.provisionedThroughput")
    if throughput.commitment != "none" or throughput.hourly_usd > throughput.max_hourly_usd:
        raise ProvisionedThroughputRefused(
            f"refusing to buy {throughput.model_units} model unit(s) at ${throughput.hourly_usd:,.2f} per hour "
            f"(commitment {throughput.commitment}, maxHourlyUsd ${throughput.max_hourly_usd:,.2f})"
        )
    # The price rides along as a tag so that `gc` reports the hourly cost a deletion saves.
    tags = {
        **pipeline_tags(environment, run.run_name, execution.name, run.tags),
        "hourlyUsd": f"{throughput.hourly_usd:g}",
    }
    return {
        "modelUnits": throughput.model_units,
        "provisionedModelName": resource_name(environment, run.run_name, execution.name, "pt"),
        "modelId": model_arn,
        "tags": [{"key": key, "value": value} for key, value in sorted(tags.items())],
        "clientRequestToken": client_request_token(execution.arn, "provisioned-throughput"),
    }


def create_provisioned_throughput(
    bedrock: Any, request: dict[str, Any], *, hourly_usd: float, wait_seconds: int
) -> DeploymentState:
    """Buy the Provisioned Throughput; a retried state sends the same `clientRequestToken` and gets the same one."""
    with aws_call("bedrock", "CreateProvisionedModelThroughput"):
        arn = bedrock.create_provisioned_model_throughput(**request)["provisionedModelArn"]
    return DeploymentState(
        deployment_arn=arn,
        deployment_name=request["provisionedModelName"],
        model_arn=request["modelId"],
        kind=KIND,
        model_units=request["modelUnits"],
        hourly_usd=hourly_usd,
        wait_seconds=wait_seconds,
    )


def poll_provisioned_throughput(bedrock: Any, deployment: DeploymentState, *, wait_seconds: int) -> DeploymentState:
    """Only `InService` is ready; `Failed` ends the run (Cleanup deletes it); `Creating`/`Updating` keep polling."""
    with aws_call("bedrock", "GetProvisionedModelThroughput"):
        response = bedrock.get_provisioned_model_throughput(provisionedModelId=deployment.deployment_arn)
    status = str(response.get("status", "Creating"))
    failure = response.get("failureMessage") or (
        "Provisioned Throughput ended Failed (no failureMessage)" if status == FAILED else None
    )
    return deployment.model_copy(
        update={
            "status": status,
            "done": status in (READY, FAILED),
            "succeeded": status == READY,
            "failure_message": failure,
            "wait_seconds": wait_seconds,
        }
    )


def delete_provisioned_throughput(bedrock: Any, arn: str) -> bool:
    """Delete a Provisioned Throughput (its hourly billing stops); False when it no longer exists."""
    from botocore.exceptions import ClientError

    try:
        bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True
