"""PollTrainingJob: the SageMaker training job's status, and how long to wait before the next poll."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import PollSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.training import poll_training_job

SETTINGS = load_settings(PollSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.job is not None, "PollTrainingJob runs after the state that starts it"
    result = poll_training_job(client("sagemaker"), state.job, wait_seconds=SETTINGS.poll_interval_seconds)
    logger.info("Training job status", extra={"status": result.status})
    return result.dump()
