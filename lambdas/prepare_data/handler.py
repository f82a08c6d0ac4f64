"""PrepareData: validate, sanitize and split the dataset in one invocation (inputs up to a few GB)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import PrepareRequest
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import DataSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.service import prepare_run

SETTINGS = load_settings(DataSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PrepareRequest)
def lambda_handler(request: PrepareRequest, context: LambdaContext) -> dict[str, Any]:
    result = prepare_run(
        request.input, request.run_id, s3=client("s3"), data_bucket=SETTINGS.data_bucket, progress=logger.info
    )
    logger.info("Dataset prepared", extra={"manifest": result.manifest_uri, "records": result.manifest["records"]})
    metrics.add_metric(name="PreparedRecords", unit="Count", value=result.stats.accepted)
    return result.state()
