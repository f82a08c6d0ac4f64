"""CreateProvisionedThroughput: a full-rank run's Provisioned Throughput (no commitment, billed hourly), bought once
per execution after the import, only when the input asks for it within its maxHourlyUsd."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import PollSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.bedrock import model_to_deploy
from nova_pipeline.jobs.provisioned import create_provisioned_throughput, provisioned_throughput_request

SETTINGS = load_settings(PollSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.input is not None and state.input.deployment.provisioned_throughput is not None
    request = provisioned_throughput_request(
        state.input, model_arn=model_to_deploy(state), environment=SETTINGS.environment, execution=state.execution
    )
    throughput = create_provisioned_throughput(
        client("bedrock"),
        request,
        hourly_usd=state.input.deployment.provisioned_throughput.hourly_usd,
        wait_seconds=SETTINGS.poll_interval_seconds,
    )
    logger.info("Provisioned Throughput", extra={"arn": throughput.deployment_arn, "hourlyUsd": throughput.hourly_usd})
    metrics.add_metric(name="ProvisionedThroughputsCreated", unit="Count", value=1)
    return throughput.dump()
