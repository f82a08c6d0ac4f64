"""The failure path: leave nothing running or half-made, tell the team, and fail with the real cause."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nova_pipeline.contract.catalog import Platform
from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.errors import aws_call
from nova_pipeline.jobs import bedrock as jobs_bedrock
from nova_pipeline.jobs import training

SUBJECT_LIMIT = 100


@dataclass
class CleanupReport:
    error: str
    cause: str
    stopped_job: str | None = None
    deleted_deployment: str | None = None
    deleted_model: str | None = None
    deleted_models: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "cause": self.cause,
            "stoppedJob": self.stopped_job,
            "deletedDeployment": self.deleted_deployment,
            "deletedModel": self.deleted_model,
            "deletedModels": self.deleted_models,
            "actions": self.actions,
        }


def failure_cause(state: RunState) -> tuple[str, str]:
    """The error name and the cause a user should read: the service's own message when there is one."""
    error = state.error.error if state.error else "States.Unknown"
    cause = (state.error.cause if state.error else None) or "no cause reported"
    try:
        lambda_error = json.loads(cause)
        if isinstance(lambda_error, dict) and "errorMessage" in lambda_error:
            cause = str(lambda_error["errorMessage"])
    except json.JSONDecodeError:
        pass
    return error, cause


def clean_up(state: RunState, *, bedrock: Any, sagemaker: Any, environment: str) -> CleanupReport:
    """Stop this execution's running job, delete its deployments and its custom models, every stage's in a
    multi-stage run (unless the input keeps the models or the run was promoted); every action is recorded.

    The job is this execution's whatever path created it: the one recorded at `$.job` (even if a retried start
    found it by name), or, when the start was accepted but never recorded (the function died, timed out or was
    answered an error after acceptance), the job found under the name this execution derives."""
    error, cause = failure_cause(state)
    report = CleanupReport(error=error, cause=cause)
    running = _running_job(state, bedrock=bedrock, sagemaker=sagemaker, environment=environment)
    if running is not None:
        platform, arn, name = running
        if platform == Platform.BEDROCK.value:
            stopped = jobs_bedrock.stop_bedrock_job(bedrock, arn)
        else:
            stopped = training.stop_training_job(sagemaker, name)
        if stopped:
            report.stopped_job = arn
            report.actions.append(f"stopped job {name}")
    for name in _running_evaluation_jobs(state, sagemaker=sagemaker, environment=environment):
        if training.stop_training_job(sagemaker, name):
            report.actions.append(f"stopped evaluation job {name}")
    promoted = bool(state.promotion and state.promotion.get("promoted"))
    if promoted:
        report.actions.append("kept the deployment and its custom model: they were already promoted")
        return report
    if state.deployment is not None and jobs_bedrock.delete_deployment(bedrock, state.deployment.deployment_arn):
        report.deleted_deployment = state.deployment.deployment_arn
        report.actions.append(f"deleted deployment {state.deployment.deployment_name}")
    # A multi-stage run that fails after its first stages: their evaluated deployments go too, then every
    # stage's custom model (deployments first: a model still deployed cannot be deleted).
    current = state.deployment.deployment_arn if state.deployment else None
    for stage in state.evaluation.stages if state.evaluation else []:
        if stage.deployment_arn != current and jobs_bedrock.delete_deployment(bedrock, stage.deployment_arn):
            report.actions.append(f"deleted deployment {stage.deployment_name} (stage {stage.index + 1})")
    arns = jobs_bedrock.run_model_arns(state)
    deleted, actions = jobs_bedrock.discard_run_models(bedrock, state, arns)
    report.deleted_models = deleted
    report.deleted_model = next((arn for arn in arns if arn in deleted), None)
    report.actions.extend(actions)
    return report


def _running_evaluation_jobs(state: RunState, *, sagemaker: Any, environment: str) -> list[str]:
    """Names of this execution's SageMaker evaluation-recipe jobs that may still run: the recorded ones not ended,
    or, when StartSageMakerEvaluation was cut short after training succeeded, those found under derived names."""
    from nova_pipeline.jobs import sagemaker_evaluation

    recorded = state.sagemaker_evaluation
    if recorded is not None:
        return [job.job_name for job in recorded.jobs if job.status not in sagemaker_evaluation.TERMINAL]
    run = state.input
    if run is None or not run.sagemaker.evaluation_recipes or not (state.job and state.job.succeeded):
        return []
    names = [
        sagemaker_evaluation.evaluation_job_name(environment, run, state.execution, wanted.task)
        for wanted in run.sagemaker.evaluation_recipes
    ]
    return [
        name
        for name in names
        if (found := training.find_training_job(sagemaker, name)) is not None
        and str(found.get("TrainingJobStatus")) not in sagemaker_evaluation.TERMINAL
    ]


def _running_job(state: RunState, *, bedrock: Any, sagemaker: Any, environment: str) -> tuple[str, str, str] | None:
    """(platform, ARN, name) of this execution's job if it may still be running, else None.

    In a multi-stage run `$.job` may still be the previous stage's (done) job when the next stage's start failed:
    the running stage's job is then looked up by its derived name."""
    job, run = state.job, state.input
    stage = state.stage.index
    if job is not None and (run is None or job.job_name in _stage_job_names(run, state, environment, stage)):
        return None if job.done else (job.platform, job.job_arn, job.job_name)
    if run is None:  # failed before the input was valid: no job can have been started
        return None
    if run.platform is Platform.BEDROCK:
        name = jobs_bedrock.job_name(environment, run, state.execution, stage)
        found = jobs_bedrock.find_job(bedrock, name)
        if found is None or str(found.get("status")) in jobs_bedrock.JOB_DONE:
            return None
        return Platform.BEDROCK.value, str(found["jobArn"]), name
    name = training.training_job_name(environment, run, state.execution, stage)
    described = training.find_training_job(sagemaker, name)
    if described is None or str(described.get("TrainingJobStatus")) in ("Completed", "Failed", "Stopped"):
        return None
    return Platform.SAGEMAKER.value, str(described["TrainingJobArn"]), name


def _stage_job_names(run: Any, state: RunState, environment: str, stage: int) -> set[str]:
    """The names the running stage's job can have (`$.job` of a one-stage run always is this execution's)."""
    if stage == 0:
        return {state.job.job_name} if state.job else set()
    return {
        jobs_bedrock.job_name(environment, run, state.execution, stage),
        training.training_job_name(environment, run, state.execution, stage),
    }


def notification(state: RunState, report: CleanupReport, *, environment: str, region: str) -> tuple[str, str]:
    """SNS subject and body of a failed execution."""
    subject = f"Nova customization {environment}: {state.execution.name} failed"[:SUBJECT_LIMIT]
    console = (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/"
        f"{state.execution.arn}"
    )
    lines = [
        f"Execution: {state.execution.arn}",
        f"Error: {report.error}",
        f"Cause: {report.cause}",
        f"Clean-up: {'; '.join(report.actions) or 'nothing was running'}",
        f"Console: {console}",
    ]
    if state.job is not None:
        lines.insert(3, f"Job: {state.job.job_arn} ({state.job.status})")
    return subject, "\n".join(lines)


def fail_and_notify(
    state: RunState, *, environment: str, region: str, topic_arn: str, bedrock: Any, sagemaker: Any, sns: Any
) -> CleanupReport:
    """Cleanup: stop this execution's job, delete its half-made deployment, tell the environment's topic."""
    report = clean_up(state, bedrock=bedrock, sagemaker=sagemaker, environment=environment)
    subject, message = notification(state, report, environment=environment, region=region)
    with aws_call("sns", "Publish"):
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
    return report
