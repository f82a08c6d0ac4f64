"""QualityGate outcomes: Promote (write the active-model record) or RejectCandidate (delete the deployment)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs import bedrock
from nova_pipeline.promotion.record import (
    ActiveModelRecord,
    MetricsSummary,
    ServedInferenceConfig,
    active_model_parameter_name,
)
from nova_pipeline.promotion.store import promote


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def promote_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    state = RunState.model_validate(event)
    run, deployment, evaluation = state.input, state.deployment, event["evaluation"]
    assert run is not None and deployment is not None
    inference = run.evaluation.inference_config
    record = ActiveModelRecord(
        deployment_arn=deployment.deployment_arn,
        custom_model_arn=deployment.model_arn,
        base_model=run.base_model or "",
        system_prompt=run.prompt.system,
        inference_config=ServedInferenceConfig(
            max_tokens=inference.max_tokens, temperature=inference.temperature, top_p=inference.top_p
        ),
        metrics=MetricsSummary(
            primary_metric=evaluation["primaryMetric"],
            candidate=evaluation["candidate"],
            baseline=evaluation.get("baseline"),
            simulated=bool(evaluation.get("simulated")),
        ),
        execution_arn=state.execution.arn,
        report_uri=evaluation.get("reportUri"),
        promoted_at=datetime.now(UTC),
    )
    stamped, version = promote(client("ssm"), settings.environment, record, settings.kms_key_arn)
    logger.info("Model promoted", extra={"deployment": deployment.deployment_arn, "version": version})
    metrics.add_metric(name="ModelsPromoted", unit="Count", value=1)
    return {
        "promoted": True,
        "parameter": active_model_parameter_name(settings.environment),
        "version": version,
        "previousVersion": stamped.previous_version,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def reject_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    state = RunState.model_validate(event)
    deleted = False
    if settings.delete_rejected and state.deployment is not None:
        deleted = bedrock.delete_deployment(client("bedrock"), state.deployment.deployment_arn)
    logger.info("Candidate rejected", extra={"deletedDeployment": deleted, "failed": event["evaluation"]["failed"]})
    return {"promoted": False, "deletedDeployment": deleted}
