"""The quality gate's two outcomes: promote the candidate (write the active-model record) or reject it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nova_pipeline.contract.run_state import EvaluationResult, RunState
from nova_pipeline.jobs.bedrock import delete_custom_model, delete_deployment, discard_run_models, run_model_arns
from nova_pipeline.promotion.record import (
    ActiveModelRecord,
    MetricsSummary,
    ServedInferenceConfig,
    active_model_parameter_name,
)
from nova_pipeline.promotion.store import ACTIVE_MODEL_CHANGED, ActiveModelChangedError, promote


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
        # longer holds, so the candidate is rejected (RejectCandidate cleans it up, every stage's deployment and
        # model included) rather than silently replacing it.
        return {"promoted": False, "reason": ACTIVE_MODEL_CHANGED, "detail": str(error)}
    result: dict[str, Any] = {
        "promoted": True,
        "parameter": active_model_parameter_name(environment),
        "version": version,
        "previousVersion": stamped.previous_version,
    }
    if evaluation.chosen is not None:
        result["discardedStages"] = discard_other_stages(evaluation, bedrock=bedrock)
    return result


def rejection_reason(state: RunState, evaluation: EvaluationResult) -> str:
    """Why the candidate is not promoted: Promote's refusal, the approver's rejection or its timeout, or the gate's
    failed checks."""
    refused = (state.promotion or {}).get("reason")
    if refused:
        return str(refused)
    if state.approval is not None and state.approval.decision != "approved":
        return f"approval {state.approval.decision}: {state.approval.reason or 'no reason given'}"
    return "quality gate: " + ("; ".join(evaluation.failed) or f"verdict {evaluation.verdict}")


def reject_candidate(
    state: RunState, evaluation: EvaluationResult, *, delete_rejected: bool, bedrock: Any
) -> dict[str, Any]:
    """A rejected candidate's deployment is deleted (unless the environment keeps them for inspection), and so is
    its custom model (unless the deployment is kept or the input says `cleanup.keepRejectedModel`). A Provisioned
    Throughput is always deleted: it bills every hour it exists."""
    deleted, deleted_model, actions = False, None, []
    provisioned = state.deployment is not None and state.deployment.kind == "provisioned-throughput"
    if (delete_rejected or provisioned) and state.deployment is not None:
        deleted = delete_deployment(bedrock, state.deployment.deployment_arn)
        if provisioned:
            hourly = state.deployment.hourly_usd
            actions.append(
                f"deleted Provisioned Throughput {state.deployment.deployment_name}"
                + (f" (${hourly:,.2f} per hour)" if hourly is not None else "")
            )
    chosen = evaluation.chosen
    # A multi-stage run's other stages are discarded below; the models here are the candidate's own.
    others = {stage.model_arn for stage in evaluation.stages if chosen is not None and stage.index != chosen.index}
    if delete_rejected or state.deployment is None:
        arns = [arn for arn in run_model_arns(state) if arn not in others]
        deleted_models, model_actions = discard_run_models(bedrock, state, arns)
        deleted_model = next((arn for arn in arns if arn in deleted_models), None)
        actions += model_actions
    else:
        kept = "the custom model" if provisioned else "the deployment and its custom model"
        actions.append(f"kept {kept} (evaluation.deleteRejectedDeployment is false)")
    result: dict[str, Any] = {
        "promoted": False,
        "reason": rejection_reason(state, evaluation),
        "deletedDeployment": deleted,
        "deletedModel": deleted_model,
        "actions": actions,
    }
    if chosen is not None:
        keep = state.input is not None and state.input.cleanup.keep_rejected_model
        result["discardedStages"] = discard_other_stages(evaluation, bedrock=bedrock, keep_models=keep)
    return result


def discard_other_stages(evaluation: EvaluationResult, *, bedrock: Any, keep_models: bool = False) -> list[str]:
    """Multi-stage runs: delete the deployment and the custom model of every stage but the chosen one, so that only
    the chosen stage's model is left (a custom model is billed for storage whether deployed or not); a rejected
    run's input may keep the models (`cleanup.keepRejectedModel`)."""
    chosen = evaluation.chosen
    actions: list[str] = []
    for stage in evaluation.stages:
        if chosen is not None and stage.index == chosen.index:
            continue
        if delete_deployment(bedrock, stage.deployment_arn):
            actions.append(f"deleted deployment {stage.deployment_name} (stage {stage.index + 1})")
        if keep_models:
            actions.append(f"kept custom model {stage.model_arn} (stage {stage.index + 1}, cleanup.keepRejectedModel)")
        elif delete_custom_model(bedrock, stage.model_arn):
            actions.append(f"deleted custom model {stage.model_arn} (stage {stage.index + 1})")
    return actions
