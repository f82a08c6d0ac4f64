"""RftGrader: the RFT reward function Bedrock and SageMaker call with batches of generated answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import FunctionSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.grading.rewards import score_samples

SETTINGS = load_settings(FunctionSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=list[dict[str, Any]])
def lambda_handler(samples: list[dict[str, Any]], context: LambdaContext) -> list[dict[str, Any]]:
    results = score_samples(samples)
    metrics.add_metric(name="RewardsScored", unit="Count", value=len(results))
    return results
