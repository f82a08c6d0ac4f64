"""The quality gate's two outcomes: promote the candidate (write the active-model record) or reject it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nova_pipeline.contract.run_state import EvaluationResult, RunState
from nova_pipeline.jobs.bedrock import delete_deployment, discard_run_model
from nova_pipeline.promotion.record import (
    ActiveModelRecord,
    MetricsSummary,
    ServedInferenceConfig,
    active_model_parameter_name,
)
from nova_pipeline.promotion.store import ACTIVE_MODEL_CHANGED, ActiveModelChangedError, promote


def promote_candidate(
    state: RunState, evaluation: EvaluationResult, *, environment: str, kms_key_arn: str | None, ssm: Any
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
    try:
        stamped, version = promote(
            ssm,
            environment,
            record,
            kms_key_arn,
            expected_version=evaluation.active_version,
            writer=state.execution.arn,
        )
    except ActiveModelChangedError as error:
        # Another execution promoted after this candidate was compared with the active model: the comparison no
        # longer holds, so the candidate is rejected (RejectCandidate cleans it up) rather than silently replacing it.
        return {"promoted": False, "reason": ACTIVE_MODEL_CHANGED, "detail": str(error)}
    return {
        "promoted": True,
        "parameter": active_model_parameter_name(environment),
        "version": version,
        "previousVersion": stamped.previous_version,
    }


def rejection_reason(state: RunState, evaluation: EvaluationResult) -> str:
    """Why the candidate is not promoted: Promote's refusal, or the gate's failed checks."""
    refused = (state.promotion or {}).get("reason")
    if refused:
        return str(refused)
    return "quality gate: " + ("; ".join(evaluation.failed) or f"verdict {evaluation.verdict}")


def reject_candidate(
    state: RunState, evaluation: EvaluationResult, *, delete_rejected: bool, bedrock: Any
) -> dict[str, Any]:
    """A rejected candidate's deployment is deleted (unless the environment keeps them for inspection), and so is
    its custom model (unless the deployment is kept or the input says `cleanup.keepRejectedModel`)."""
    deleted, deleted_model, actions = False, None, []
    if delete_rejected and state.deployment is not None:
        deleted = delete_deployment(bedrock, state.deployment.deployment_arn)
    if delete_rejected or state.deployment is None:
        deleted_model, action = discard_run_model(bedrock, state)
        actions += [action] if action else []
    else:
        actions.append("kept the deployment and its custom model (evaluation.deleteRejectedDeployment is false)")
    return {
        "promoted": False,
        "reason": rejection_reason(state, evaluation),
        "deletedDeployment": deleted,
        "deletedModel": deleted_model,
        "actions": actions,
    }
