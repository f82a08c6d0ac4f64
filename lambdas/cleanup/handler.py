"""Cleanup: on any failure, stop the running job, delete a half-made deployment, notify SNS, return the cause."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.cleanup import clean_up, notification


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    report = clean_up(state, bedrock=client("bedrock"), sagemaker=client("sagemaker"))
    subject, message = notification(state, report, environment=settings.environment, region=settings.region)
    with aws_call("sns", "Publish"):
        client("sns").publish(TopicArn=settings.require("topic_arn"), Subject=subject, Message=message)
    logger.error("Execution failed", extra={"error": report.error, "cause": report.cause, "actions": report.actions})
    metrics.add_metric(name="ExecutionsFailed", unit="Count", value=1)
    return report.dump()
