"""The output of a successful execution: what was made, where it is, and how long it took."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nova_pipeline.contract.run_state import RunState


def _seconds_since(started_at: str | None, now: datetime) -> float | None:
    if not started_at:
        return None
    try:
        started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return round((now - started).total_seconds(), 3)


def run_summary(state: RunState, *, now: datetime | None = None) -> dict[str, Any]:
    """Job, model and deployment ARNs, durations, the data manifest and the evaluation result."""
    now = now or datetime.now(UTC)
    run, data, job, deployment = state.input, state.data, state.job, state.deployment
    model_arn = state.model.model_arn if state.model else (job.output_model_arn if job else None)
    chosen = state.evaluation.chosen if state.evaluation else None
    if chosen is not None:  # a multi-stage run: the chosen stage's model, not the last stage's
        model_arn = chosen.model_arn
    summary = {
        "execution": state.execution.arn,
        "runName": run.run_name if run else None,
        "baseModel": run.base_model if run else None,
        "method": run.method.value if run else None,
        "platform": run.platform.value if run else None,
        "job": {"arn": job.job_arn, "name": job.job_name, "status": job.status, "trainingLoss": job.training_loss}
        if job
        else None,
        "customModelArn": model_arn,
        "deploymentArn": deployment.deployment_arn if deployment else None,
        "data": {
            "manifestUri": data.manifest_uri,
            "train": data.train.records,
            "validation": data.validation.records if data.validation else 0,
            "test": data.test.records if data.test else 0,
        }
        if data
        else None,
        "evaluation": state.evaluation.dump() if state.evaluation else None,
        "verdict": _verdict(state),
        "promotion": state.promotion,
        "estimate": state.estimate.dump() if state.estimate else None,
        "approval": state.approval.dump() if state.approval else None,
        "durations": {"totalSeconds": _seconds_since(state.execution.started_at, now)},
        "completedAt": now.isoformat(),
    }
    if state.sagemaker_evaluation:  # sagemaker.evaluationRecipes: shown even when evaluation.enabled is false
        summary["sagemakerEvaluation"] = state.sagemaker_evaluation.report()
    if deployment is not None and deployment.kind == "provisioned-throughput":  # what bills by the hour
        promoted = bool(state.promotion and state.promotion.get("promoted"))
        summary["provisionedThroughput"] = {
            "arn": deployment.deployment_arn,
            "modelUnits": deployment.model_units,
            "hourlyUsd": deployment.hourly_usd,
            "billing": "bills every hour while it serves the API (gc deletes it once superseded)"
            if promoted
            else "deleted",
        }
    return summary


def _verdict(state: RunState) -> str | None:
    """The gate's verdict, unless an approver rejected the candidate or the approval timed out."""
    if state.evaluation is None:
        return None
    if state.approval is not None and state.approval.decision != "approved":
        return "rejected"
    return state.evaluation.verdict
