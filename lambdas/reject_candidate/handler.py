"""RejectCandidate: the gate failed (or Promote was refused); delete the candidate's deployment and custom model."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import GatedState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import RejectSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.promotion.service import reject_candidate

SETTINGS = load_settings(RejectSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=GatedState)
def lambda_handler(state: GatedState, context: LambdaContext) -> dict[str, Any]:
    result = reject_candidate(
        state, state.evaluation, delete_rejected=SETTINGS.delete_rejected, bedrock=client("bedrock")
    )
    logger.info("Candidate rejected", extra={**result, "failed": state.evaluation.failed})
    return result
