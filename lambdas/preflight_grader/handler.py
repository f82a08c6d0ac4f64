"""PreflightGrader: the deployed reward function checked on samples of the training set before RFT starts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import PreflightSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.grading.preflight import check_grader

SETTINGS = load_settings(PreflightSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    result = check_grader(
        state, grader_arn=SETTINGS.grader_function_arn, s3=client("s3"), lambda_client=client("lambda")
    )
    logger.info("Reward function checked", extra=result)
    return result
