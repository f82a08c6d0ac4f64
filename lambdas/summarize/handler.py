"""Summarize: the execution's output (ARNs, durations, data manifest, evaluation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.contract.summary import run_summary
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import FunctionSettings, load_settings
from nova_pipeline.core.tracing import tracer

SETTINGS = load_settings(FunctionSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    summary = run_summary(state)
    logger.info("Execution succeeded", extra={"summary": summary})
    return summary
