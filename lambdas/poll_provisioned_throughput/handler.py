"""PollProvisionedThroughput: the Provisioned Throughput's status; only InService is ready."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import PollSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.provisioned import poll_provisioned_throughput

SETTINGS = load_settings(PollSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.deployment is not None, "PollProvisionedThroughput runs after CreateProvisionedThroughput"
    result = poll_provisioned_throughput(
        client("bedrock"), state.deployment, wait_seconds=SETTINGS.poll_interval_seconds
    )
    logger.info("Provisioned Throughput status", extra={"status": result.status})
    return result.dump()
