"""RequestApproval: a `lambda:invoke.waitForTaskToken` task. Stores the task token under the execution's name and
notifies the environment's topic; the execution waits for `nova-pipeline approve` / `reject` or the timeout."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import RequestApprovalSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.promotion.approval import ApprovalRequest, request_approval

SETTINGS = load_settings(RequestApprovalSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ApprovalRequest)
def lambda_handler(request: ApprovalRequest, context: LambdaContext) -> dict[str, Any]:
    result = request_approval(
        request, s3=client("s3"), sns=client("sns"), data_bucket=SETTINGS.data_bucket, topic_arn=SETTINGS.topic_arn
    )
    logger.info("Approval requested", extra={"execution": request.execution.arn, **result})
    metrics.add_metric(name="ApprovalsRequested", unit="Count", value=1)
    return result
