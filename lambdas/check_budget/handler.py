"""CheckBudget: estimate the training and evaluation cost from the prepared data's manifest and stop the run before
the paid job starts when the training estimate is above `budget.maxTrainingUsd` (error `TrainingBudgetExceeded`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import FunctionSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.evaluation.estimate import TrainingBudgetExceeded, check_budget, estimate_run

SETTINGS = load_settings(FunctionSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    estimate = estimate_run(state, s3=client("s3"))
    logger.info("Cost estimate", extra=estimate.dump())
    try:
        check_budget(estimate)
    except TrainingBudgetExceeded:
        metrics.add_metric(name="RunsRefusedByBudget", unit="Count", value=1)
        raise
    return estimate.dump()
