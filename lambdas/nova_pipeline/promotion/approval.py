"""Human approval before promotion, with a Step Functions task token.

RequestApproval runs as a `lambda:invoke.waitForTaskToken` task: it stores the token where the execution's ARN finds
it (`approvals/<execution name>.json` in the data bucket, KMS-encrypted) and notifies the environment's topic with
the report's link. The execution then waits, at no cost, until `nova-pipeline approve --execution ARN` sends
SendTaskSuccess or `reject` sends SendTaskFailure with error `ApprovalRejected` (Step Functions developer guide,
"Wait for a Callback with Task Token"); the Task's `TimeoutSecondsPath` rejects it when nobody decides in time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.run_state import DeploymentState, EvaluationResult, ExecutionRef
from nova_pipeline.core import layout
from nova_pipeline.core.errors import aws_call

APPROVAL_REJECTED = "ApprovalRejected"


class ApprovalRequest(BaseModel):
    """RequestApproval's payload: the task token and the parts of the run state the approver needs."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    task_token: str = Field(min_length=1)
    execution: ExecutionRef
    input: ExecutionInput
    evaluation: EvaluationResult
    deployment: DeploymentState | None = None


class ApprovalNotPendingError(Exception):
    """The execution is not waiting for an approval (never asked, already decided, timed out or ended)."""


def execution_name(execution_arn: str) -> str:
    """The execution's name: the last part of `arn:aws:states:<region>:<account>:execution:<machine>:<name>`."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        raise ValueError(f"{execution_arn!r} is not an execution ARN (arn:aws:states:...:execution:<machine>:<name>)")
    return parts[7]


def request_approval(
    request: ApprovalRequest, *, s3: Any, sns: Any, data_bucket: str, topic_arn: str, now: datetime | None = None
) -> dict[str, Any]:
    """Store the token under the execution's name, then tell the approvers what to decide and how."""
    now = now or datetime.now(UTC)
    timeout = request.input.approval.timeout_seconds or 0
    expires = now + timedelta(seconds=timeout)
    key = layout.approval(request.execution.name)
    evaluation = request.evaluation
    report = evaluation.report_url or evaluation.report_html_uri or evaluation.report_uri or "(no report)"
    document = {
        "taskToken": request.task_token,
        "executionArn": request.execution.arn,
        "requestedAt": now.isoformat(),
        "expiresAt": expires.isoformat(),
        "report": report,
    }
    with aws_call("s3", "PutObject"):
        s3.put_object(Bucket=data_bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
    result = "no primary metric"
    if evaluation.primary_metric and evaluation.candidate is not None:
        baseline = "none" if evaluation.baseline is None else f"{evaluation.baseline:.3f}"
        result = f"{evaluation.primary_metric} {evaluation.candidate:.3f} (baseline {baseline})"
    name = request.input.run_name or request.execution.name
    # A presigned link is good only while the session that signed it lasts, however long it asks for (S3 user
    # guide, "Expiration time for presigned URLs": role credentials); an approval may wait days, so the message
    # also says where the report is and how to get a fresh link.
    durable = []
    if evaluation.report_url and evaluation.report_html_uri:
        durable = [
            f"Report in S3: {evaluation.report_html_uri} (the link above expires with the session that signed it; "
            f"a fresh one: aws s3 presign {evaluation.report_html_uri} --expires-in 3600)"
        ]
    message = "\n".join(
        [
            f"Run {name} passed the quality gate and waits for an approval before promotion.",
            f"Result: {result}.",
            f"Report: {report}",
            *durable,
            f"Deployment: {request.deployment.deployment_arn if request.deployment else '(none)'}",
            "",
            f"Approve: nova-pipeline approve --execution {request.execution.arn}",
            f"Reject:  nova-pipeline reject --execution {request.execution.arn} --reason '...'",
            f"Without a decision by {expires.isoformat(timespec='seconds')} the candidate is rejected.",
        ]
    )
    with aws_call("sns", "Publish"):
        sns.publish(TopicArn=topic_arn, Subject=f"Approval needed: {name}"[:100], Message=message)
    return {"tokenUri": f"s3://{data_bucket}/{key}", "expiresAt": expires.isoformat()}


def decide(
    *,
    stepfunctions: Any,
    s3: Any,
    data_bucket: str,
    execution_arn: str,
    approve: bool,
    by: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send the decision on the execution's pending approval: SendTaskSuccess with the decision as the task's output,
    or SendTaskFailure with error `ApprovalRejected` and the reason as its cause."""
    from botocore.exceptions import ClientError

    key = layout.approval(execution_name(execution_arn))
    status = stepfunctions.describe_execution(executionArn=execution_arn)["status"]
    if status != "RUNNING":
        raise ApprovalNotPendingError(f"execution {execution_arn} is {status}, not waiting for an approval")
    try:
        token = json.loads(s3.get_object(Bucket=data_bucket, Key=key)["Body"].read())["taskToken"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise ApprovalNotPendingError(
                f"execution {execution_arn} has not asked for an approval (no s3://{data_bucket}/{key}); it asks "
                "after the quality gate passes"
            ) from None
        raise
    decision = {
        "decision": "approved" if approve else "rejected",
        "by": by,
        "at": (now or datetime.now(UTC)).isoformat(),
        "reason": reason,
    }
    try:
        if approve:
            stepfunctions.send_task_success(taskToken=token, output=json.dumps(decision))
        else:
            cause = reason or f"rejected by {by}"
            stepfunctions.send_task_failure(taskToken=token, error=APPROVAL_REJECTED, cause=cause[:32_768])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise ApprovalNotPendingError(
                f"the approval of {execution_arn} was already decided or timed out ({code})"
            ) from None
        raise
    return decision
