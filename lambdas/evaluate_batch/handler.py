"""EvaluateBatch: one item of the EvaluateBatches map: candidate and baseline answers with ConverseStream."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import BatchRequest
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import FunctionSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.evaluation.stages import run_batch

SETTINGS = load_settings(FunctionSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=BatchRequest)
def lambda_handler(request: BatchRequest, context: LambdaContext) -> dict[str, Any]:
    result = run_batch(request, s3=client("s3"), runtime=client("bedrock-runtime", retries=False))
    logger.info("Batch evaluated", extra=result.dump())
    return result.dump()
