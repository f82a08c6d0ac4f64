"""PlanEvaluation: the test split in batches for the EvaluateBatches map, paced to the requests-per-minute budget."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import GuardrailRef, RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import PlanEvaluationSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.evaluation.stages import plan_evaluation

SETTINGS = load_settings(PlanEvaluationSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    plan = plan_evaluation(
        state,
        data_bucket=SETTINGS.data_bucket,
        environment=SETTINGS.environment,
        requests_per_minute=SETTINGS.evaluation_rpm,
        start_requests_per_minute=SETTINGS.evaluation_start_rpm,
        guardrail=GuardrailRef(identifier=SETTINGS.guardrail_id, version=SETTINGS.guardrail_version)
        if SETTINGS.guardrail_id and SETTINGS.guardrail_version
        else None,
        s3=client("s3"),
        ssm=client("ssm"),
    )
    logger.info("Evaluation planned", extra=plan.dump())
    return plan.dump()
