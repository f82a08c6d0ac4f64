"""PrepareData: validate, sanitize and split the dataset in one invocation (inputs up to a few GB)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.service import prepare_run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = ExecutionInput.model_validate(event["input"])
    result = prepare_run(
        run,
        event["runId"],
        s3=client("s3"),
        data_bucket=function_settings().require("data_bucket"),
        progress=logger.info,
    )
    logger.info("Dataset prepared", extra={"manifest": result.manifest_uri, "records": result.manifest["records"]})
    metrics.add_metric(name="PreparedRecords", unit="Count", value=result.stats.accepted)
    return result.state()
