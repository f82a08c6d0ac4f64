"""The quality gate's two outcomes: promote the candidate (write the active-model record) or reject it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nova_pipeline.contract.run_state import EvaluationResult, RunState
from nova_pipeline.jobs.bedrock import delete_custom_model, delete_deployment
from nova_pipeline.promotion.record import (
    ActiveModelRecord,
    MetricsSummary,
    ServedInferenceConfig,
    active_model_parameter_name,
)
from nova_pipeline.promotion.store import promote


def promote_candidate(
    state: RunState,
    evaluation: EvaluationResult,
    *,
    environment: str,
    kms_key_arn: str | None,
    ssm: Any,
    bedrock: Any = None,
) -> dict[str, Any]:
    """The record the inference API serves: the deployment, its training system prompt and the evaluation."""
    run, deployment = state.input, state.deployment
    assert run is not None and deployment is not None, "Promote runs after the evaluation"
    if evaluation.primary_metric is None or evaluation.candidate is None:
        raise ValueError("an evaluation without a primary metric cannot promote (no evaluated rows)")
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
            primary_metric=evaluation.primary_metric,
            candidate=evaluation.candidate,
            baseline=evaluation.baseline,
            simulated=evaluation.simulated,
        ),
        execution_arn=state.execution.arn,
        report_uri=evaluation.report_uri,
        promoted_at=datetime.now(UTC),
    )
    stamped, version = promote(ssm, environment, record, kms_key_arn)
    result: dict[str, Any] = {
        "promoted": True,
        "parameter": active_model_parameter_name(environment),
        "version": version,
        "previousVersion": stamped.previous_version,
    }
    if evaluation.chosen is not None:
        result["discardedStages"] = discard_other_stages(evaluation, bedrock=bedrock)
    return result


def reject_candidate(state: RunState, *, delete_rejected: bool, bedrock: Any) -> dict[str, Any]:
    """A rejected candidate's deployment is deleted (unless the environment keeps them for inspection)."""
    deleted = False
    if delete_rejected and state.deployment is not None:
        deleted = delete_deployment(bedrock, state.deployment.deployment_arn)
    result: dict[str, Any] = {"promoted": False, "deletedDeployment": deleted}
    if state.evaluation is not None and state.evaluation.chosen is not None:
        result["discardedStages"] = discard_other_stages(state.evaluation, bedrock=bedrock)
    return result


def discard_other_stages(evaluation: EvaluationResult, *, bedrock: Any) -> list[str]:
    """Multi-stage runs: delete the deployment and the custom model of every stage but the chosen one, so that only
    the chosen stage's model is left (a custom model is billed for storage whether deployed or not)."""
    chosen = evaluation.chosen
    actions: list[str] = []
    for stage in evaluation.stages:
        if chosen is not None and stage.index == chosen.index:
            continue
        if delete_deployment(bedrock, stage.deployment_arn):
            actions.append(f"deleted deployment {stage.deployment_name} (stage {stage.index + 1})")
        if delete_custom_model(bedrock, stage.model_arn):
            actions.append(f"deleted custom model {stage.model_arn} (stage {stage.index + 1})")
    return actions
