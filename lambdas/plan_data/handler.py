"""PlanData: decide between one PrepareData invocation and a Distributed Map over the dataset's objects."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.plan import plan_preparation


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    assert state.input is not None, "PlanData runs after ValidateInput"
    settings = function_settings()
    plan = plan_preparation(
        client("s3"),
        state.input.dataset.uri,
        data_bucket=settings.require("data_bucket"),
        fanout_bytes=settings.fanout_bytes,
        fanout_objects=settings.fanout_objects,
    )
    logger.info("Data preparation plan", extra=plan.dump())
    return plan.dump()
