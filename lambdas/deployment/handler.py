"""On-demand deployment states: CreateDeployment (idempotent) and PollDeployment."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs import bedrock


def _model_arn(state: RunState) -> str:
    if state.model is not None:
        return state.model.model_arn
    if state.job is not None and state.job.output_model_arn:
        return state.job.output_model_arn
    raise RuntimeError("no custom model to deploy: neither $.model nor $.job.outputModelArn is set")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def create_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    assert state.input is not None
    deployment = bedrock.create_deployment(
        client("bedrock"),
        model_arn=_model_arn(state),
        environment=settings.environment,
        run=state.input,
        execution=state.execution,
        wait_seconds=settings.poll_interval_seconds,
    )
    logger.info("Deployment", extra={"deploymentArn": deployment.deployment_arn})
    metrics.add_metric(name="DeploymentsCreated", unit="Count", value=1)
    return deployment.dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def poll_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.deployment is not None, "PollDeployment runs after CreateDeployment"
    deployment = bedrock.poll_deployment(
        client("bedrock"), state.deployment, wait_seconds=function_settings().poll_interval_seconds
    )
    logger.info("Deployment status", extra={"deploymentArn": deployment.deployment_arn, "status": deployment.status})
    return deployment.dump()
