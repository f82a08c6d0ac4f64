"""PollSageMakerEvaluation: the status of every evaluation job, and the metrics of those that completed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import PollSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.sagemaker_evaluation import poll_sagemaker_evaluation

SETTINGS = load_settings(PollSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.sagemaker_evaluation is not None, "PollSageMakerEvaluation runs after StartSageMakerEvaluation"
    result = poll_sagemaker_evaluation(
        client("sagemaker"), client("s3"), state.sagemaker_evaluation, wait_seconds=SETTINGS.poll_interval_seconds
    )
    logger.info("Evaluation jobs status", extra={"jobs": {job.task: job.status for job in result.jobs}})
    return result.dump()
