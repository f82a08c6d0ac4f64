"""StartFromUpload: an execution input uploaded under the trigger prefix starts an execution, once per version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.trigger import UploadedObject, start_from_upload
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import StartFromUploadSettings, load_settings
from nova_pipeline.core.tracing import tracer

SETTINGS = load_settings(StartFromUploadSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=S3EventNotificationEventBridgeModel)
def lambda_handler(event: S3EventNotificationEventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    detail = event.detail
    uploaded = UploadedObject(
        bucket=detail.bucket.name, key=detail.object.key, version_id=detail.object.version_id or "null"
    )
    result = start_from_upload(
        uploaded,
        prefix=SETTINGS.trigger_prefix,
        state_machine_arn=SETTINGS.state_machine_arn,
        s3=client("s3"),
        stepfunctions=client("stepfunctions"),
    )
    logger.info("Upload handled", extra={"key": uploaded.key, "versionId": uploaded.version_id, **result})
    metrics.add_metric(name="RunsStartedByUpload" if result["started"] else "UploadsIgnored", unit="Count", value=1)
    return result
