"""Promote: the gate passed; write the active-model record the inference API serves, unless another execution
replaced the record this candidate was compared with (then `promoted: false` and RejectCandidate cleans up)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import GatedState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import PromoteSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.promotion.service import promote_candidate

SETTINGS = load_settings(PromoteSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=GatedState)
def lambda_handler(state: GatedState, context: LambdaContext) -> dict[str, Any]:
    result = promote_candidate(
        state,
        state.evaluation,
        environment=SETTINGS.environment,
        kms_key_arn=SETTINGS.kms_key_arn,
        ssm=client("ssm"),
        bedrock=client("bedrock"),
    )
    if not result["promoted"]:
        logger.warning("Promotion refused", extra=result)
        metrics.add_metric(name="PromotionsRefused", unit="Count", value=1)
        return result
    logger.info("Model promoted", extra=result)
    metrics.add_metric(name="ModelsPromoted", unit="Count", value=1)
    return result
