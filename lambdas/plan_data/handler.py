"""PlanData: one PrepareData invocation, or a Distributed Map over the dataset's objects."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import PlanDataSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.plan import plan_dataset

SETTINGS = load_settings(PlanDataSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    plan = plan_dataset(
        state,
        s3=client("s3"),
        data_bucket=SETTINGS.data_bucket,
        fanout_bytes=SETTINGS.fanout_bytes,
        fanout_objects=SETTINGS.fanout_objects,
    )
    logger.info("Data preparation plan", extra=plan.dump())
    return plan.dump()
