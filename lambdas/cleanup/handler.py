"""Cleanup: on any failure, stop the running job, delete a half-made deployment, notify SNS, return the cause."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import CleanupSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.cleanup import fail_and_notify

SETTINGS = load_settings(CleanupSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    report = fail_and_notify(
        state,
        environment=SETTINGS.environment,
        region=SETTINGS.region,
        topic_arn=SETTINGS.topic_arn,
        bedrock=client("bedrock"),
        sagemaker=client("sagemaker"),
        sns=client("sns"),
    )
    logger.error("Execution failed", extra={"error": report.error, "cause": report.cause, "actions": report.actions})
    metrics.add_metric(name="ExecutionsFailed", unit="Count", value=1)
    return report.dump()
