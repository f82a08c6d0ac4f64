"""CreateDeployment: this execution's on-demand (pay-per-token) deployment of its custom model, created once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import PollSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.bedrock import create_deployment, model_to_deploy

SETTINGS = load_settings(PollSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.input is not None, "CreateDeployment runs after ValidateInput"
    deployment = create_deployment(
        client("bedrock"),
        model_arn=model_to_deploy(state),
        environment=SETTINGS.environment,
        run=state.input,
        execution=state.execution,
        wait_seconds=SETTINGS.poll_interval_seconds,
        stage=state.stage.index,
    )
    logger.info("Deployment", extra={"deploymentArn": deployment.deployment_arn})
    metrics.add_metric(name="DeploymentsCreated", unit="Count", value=1)
    return deployment.dump()
