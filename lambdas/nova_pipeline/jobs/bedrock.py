"""Bedrock customization jobs, custom-model import and on-demand deployments: requests and lifecycles.

Every function takes its boto3 client as a parameter (the handler passes `core.clients.client(...)`), builds the
exact request the service model expects, and is idempotent: names and `clientRequestToken`s derive from the
execution, and an existing job or deployment of this execution is found and reused instead of created again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nova_pipeline.contract.catalog import BEDROCK_CUSTOMIZATION_TYPE, HYPERPARAMETER_RULES, MODELS, Method, Platform
from nova_pipeline.contract.execution_input import ExecutionInput, stage_view
from nova_pipeline.contract.run_state import DeploymentState, ExecutionRef, JobState, ModelState, PreparedData, RunState
from nova_pipeline.core.errors import AwsRequestFailed, aws_call, error_code
from nova_pipeline.jobs.naming import client_request_token, pipeline_tags, resource_name, staged
from nova_pipeline.jobs.stage_data import stage_training_data

JOB_DONE = {"Completed", "Failed", "Stopped"}
READY = "Active"
# Teachers with no in-Region (on-demand) foundation-model support: Bedrock reaches them only through their US
# cross-Region inference profile, so the distillation job must name the profile. Nova Premier is one ("foundation
# model Regions: N/A, inference profile: us-east-1 us-east-2 us-west-2", Bedrock "Supported Regions and models for
# batch inference"); Nova Pro runs in-Region in us-east-1 and keeps its plain model id.
PROFILE_ONLY_TEACHERS = frozenset({"nova-premier"})


@dataclass(frozen=True)
class JobResources:
    """What the stack provides to a job: the service role, where outputs go, and the key."""

    environment: str
    role_arn: str
    output_uri: str
    kms_key_arn: str | None = None
    grader_function_arn: str | None = None
    data_bucket: str | None = None
    """Multi-stage runs: where a stage's own training file is written (under the run's prepared/ prefix)."""


def _tags(run: ExecutionInput, environment: str, execution: ExecutionRef) -> list[dict[str, str]]:
    """Bedrock's `Tag` list (`key`/`value`) of a resource this execution creates."""
    tags = pipeline_tags(environment, run.run_name, execution.name, run.tags)
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def bedrock_tags(run: ExecutionInput, environment: str, execution: ExecutionRef) -> list[dict[str, str]]:
    return _tags(run, environment, execution)


def job_name(environment: str, run: ExecutionInput, execution: ExecutionRef, stage: int = 0) -> str:
    """The customization job name of this execution's stage: whoever finds a job under it finds this stage's job."""
    return resource_name(environment, run.run_name, execution.name, staged("job", stage))


def bedrock_job_request(
    run: ExecutionInput,
    data: PreparedData,
    execution: ExecutionRef,
    resources: JobResources,
    *,
    stage: int = 0,
    base_model_arn: str | None = None,
) -> dict[str, Any]:
    """The CreateModelCustomizationJob request of this execution's stage; a later stage's base model is the previous
    stage's custom model (`baseModelIdentifier` takes "the model ID or ARN of the foundation model or previously
    customized model (fine-tuned or distilled)": Bedrock user guide, "Submit a model customization job")."""
    model = MODELS[run.base_model or ""]
    assert model.customization_id is not None  # guaranteed by parse_execution_input
    request: dict[str, Any] = {
        "jobName": job_name(resources.environment, run, execution, stage),
        "customModelName": resource_name(resources.environment, run.run_name, execution.name, staged("model", stage)),
        "roleArn": resources.role_arn,
        "clientRequestToken": client_request_token(execution.arn, staged("customization-job", stage)),
        "baseModelIdentifier": base_model_arn or model.customization_id,
        "customizationType": BEDROCK_CUSTOMIZATION_TYPE[run.method],
        "trainingDataConfig": {"s3Uri": data.train.uri},
        "outputDataConfig": {"s3Uri": resources.output_uri},
        "jobTags": _tags(run, resources.environment, execution),
        "customModelTags": _tags(run, resources.environment, execution),
    }
    if resources.kms_key_arn:
        request["customModelKmsKeyId"] = resources.kms_key_arn
    if data.validation is not None and data.validation.records > 0 and model.validation_allowed:
        request["validationDataConfig"] = {"validators": [{"s3Uri": data.validation.uri}]}
    if run.method is Method.SFT:
        request["hyperParameters"] = {key: _as_text(value) for key, value in run.hyperparameters.items()}
    elif run.method is Method.RFT:
        if not resources.grader_function_arn:
            raise AwsRequestFailed("RFT needs the grader function; the stack did not provide its ARN")
        typed = {
            rule.name: run.hyperparameters[rule.name]
            for rule in HYPERPARAMETER_RULES[(Platform.BEDROCK, Method.RFT)]
            if rule.name in run.hyperparameters
        }
        request["customizationConfig"] = {
            "rftConfig": {
                "graderConfig": {"lambdaGrader": {"lambdaArn": resources.grader_function_arn}},
                "hyperParameters": typed,
            }
        }
    elif run.method is Method.DISTILLATION:
        request["customizationConfig"] = {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": teacher_model_identifier(run.distillation.teacher_model),
                    "maxResponseLengthForInference": run.distillation.max_response_length,
                }
            }
        }
    return request


def teacher_model_identifier(teacher: str) -> str:
    """`teacherModelIdentifier` of a teacher: its inference profile when it has no in-Region support, else its id."""
    profile = MODELS[teacher].inference_profile_id
    return profile if teacher in PROFILE_ONLY_TEACHERS else profile.removeprefix("us.")


def _as_text(value: float | int | str) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def start_bedrock_job(bedrock: Any, request: dict[str, Any], *, wait_seconds: int) -> JobState:
    """Start the job, or find the one this execution already started (retried state, re-driven execution).

    A job found under this execution's derived name is this execution's job, whichever attempt created it (an earlier
    one may have been accepted and then answered 503, timed out or died): it is recorded as started by this
    execution, so Cleanup stops it."""
    existing = find_job(bedrock, request["jobName"])
    if existing is not None:
        return job_state_from_bedrock(existing, wait_seconds=wait_seconds, adopted=True)
    with aws_call("bedrock", "CreateModelCustomizationJob"):
        job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    return JobState(
        platform=Platform.BEDROCK.value,
        job_arn=job_arn,
        job_name=request["jobName"],
        output_uri=request["outputDataConfig"]["s3Uri"],
        wait_seconds=wait_seconds,
    )


def find_job(bedrock: Any, job_name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        job: dict[str, Any] = bedrock.get_model_customization_job(jobIdentifier=job_name)
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "ValidationException"):
            return None
        with aws_call("bedrock", "GetModelCustomizationJob"):
            raise
    return job


def job_state_from_bedrock(job: dict[str, Any], *, wait_seconds: int, adopted: bool = False) -> JobState:
    status = str(job["status"])
    loss = job.get("trainingMetrics", {}).get("trainingLoss")
    created, ended = job.get("creationTime"), job.get("endTime")
    seconds = (
        (ended - created).total_seconds() if isinstance(created, datetime) and isinstance(ended, datetime) else None
    )
    return JobState(
        platform=Platform.BEDROCK.value,
        job_arn=job["jobArn"],
        job_name=job["jobName"],
        status=status,
        done=status in JOB_DONE,
        succeeded=status == "Completed",
        failure_message=job.get("failureMessage") or (f"job ended {status}" if status in ("Stopped",) else None),
        output_model_arn=job.get("outputModelArn"),
        output_uri=job.get("outputDataConfig", {}).get("s3Uri"),
        adopted=adopted,
        wait_seconds=wait_seconds,
        training_loss=float(loss) if loss is not None else None,
        training_seconds=seconds,
    )


def poll_bedrock_job(bedrock: Any, job: JobState, *, wait_seconds: int) -> JobState:
    with aws_call("bedrock", "GetModelCustomizationJob"):
        response = bedrock.get_model_customization_job(jobIdentifier=job.job_arn)
    return job_state_from_bedrock(response, wait_seconds=wait_seconds, adopted=job.adopted)


def stop_bedrock_job(bedrock: Any, job_arn: str) -> bool:
    """Stop a running job; False when it had already ended."""
    from botocore.exceptions import ClientError

    try:
        bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    except ClientError as error:
        if error_code(error) in ("ValidationException", "ResourceNotFoundException", "ConflictException"):
            return False
        raise
    return True


# ------------------------------------------------------------------ custom model import (SageMaker path)
def import_custom_model(
    bedrock: Any,
    *,
    checkpoint_uri: str,
    role_arn: str,
    model_name: str,
    token: str,
    wait_seconds: int,
    kms_key_arn: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> ModelState:
    request: dict[str, Any] = {
        "modelName": model_name,
        "roleArn": role_arn,
        "modelSourceConfig": {"s3DataSource": {"s3Uri": checkpoint_uri}},
        "clientRequestToken": token,
    }
    if kms_key_arn:
        request["modelKmsKeyArn"] = kms_key_arn
    if tags:
        request["modelTags"] = tags
    with aws_call("bedrock", "CreateCustomModel"):
        model_arn = bedrock.create_custom_model(**request)["modelArn"]
    return ModelState(
        model_arn=model_arn,
        model_name=model_name,
        status="Creating",
        done=False,
        succeeded=False,
        wait_seconds=wait_seconds,
    )


def poll_custom_model(bedrock: Any, model: ModelState, *, wait_seconds: int) -> ModelState:
    with aws_call("bedrock", "GetCustomModel"):
        response = bedrock.get_custom_model(modelIdentifier=model.model_arn)
    status = str(response.get("modelStatus", "Active"))
    return ModelState(
        model_arn=model.model_arn,
        checkpoint_uri=model.checkpoint_uri,
        model_name=response.get("modelName", model.model_name),
        status=status,
        done=status in (READY, "Failed"),
        succeeded=status == READY,
        failure_message=response.get("failureMessage")
        or (f"model import ended {status}" if status == "Failed" else None),
        wait_seconds=wait_seconds,
    )


# ----------------------------------------------------------------------------------- deployments
def create_deployment(
    bedrock: Any,
    *,
    model_arn: str,
    environment: str,
    run: ExecutionInput,
    execution: ExecutionRef,
    wait_seconds: int,
    stage: int = 0,
) -> DeploymentState:
    """Create the on-demand deployment of `model_arn`; the same execution's stage always gets the same deployment."""
    name = resource_name(environment, run.run_name, execution.name, staged("deployment", stage))
    request = {
        "modelDeploymentName": name,
        "modelArn": model_arn,
        "description": f"Nova customization {environment}: execution {execution.name}"[:200],
        "tags": _tags(run, environment, execution),
        "clientRequestToken": client_request_token(execution.arn, staged("deployment", stage)),
    }
    with aws_call("bedrock", "CreateCustomModelDeployment"):
        arn = bedrock.create_custom_model_deployment(**request)["customModelDeploymentArn"]
    return DeploymentState(deployment_arn=arn, deployment_name=name, model_arn=model_arn, wait_seconds=wait_seconds)


def poll_deployment(bedrock: Any, deployment: DeploymentState, *, wait_seconds: int) -> DeploymentState:
    """Only `Active` is ready; `Failed` ends the run; any other status (documented or not) keeps polling."""
    with aws_call("bedrock", "GetCustomModelDeployment"):
        response = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment.deployment_arn)
    status = str(response.get("status", "Creating"))
    return DeploymentState(
        deployment_arn=deployment.deployment_arn,
        deployment_name=deployment.deployment_name,
        model_arn=deployment.model_arn,
        status=status,
        done=status in (READY, "Failed"),
        succeeded=status == READY,
        failure_message=response.get("failureMessage") or ("deployment ended Failed" if status == "Failed" else None),
        wait_seconds=wait_seconds,
    )


def delete_deployment(bedrock: Any, deployment_arn: str) -> bool:
    """Delete a deployment; False when it no longer exists."""
    from botocore.exceptions import ClientError

    try:
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def delete_custom_model(bedrock: Any, model_arn: str) -> bool:
    """Delete a custom model (no deployment may use it any more; its $1.95 a month of storage ends); False when it
    no longer exists."""
    from botocore.exceptions import ClientError

    try:
        bedrock.delete_custom_model(modelIdentifier=model_arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def run_model_arns(state: RunState) -> list[str]:
    """Every custom model this execution made, without repeats: the chosen or current deployment's first, the
    imported one (SageMaker), the current job's output (Bedrock), then each evaluated stage's (multi-stage runs)."""
    arns = [
        state.deployment.model_arn if state.deployment else "",
        state.model.model_arn if state.model else "",
        (state.job.output_model_arn or "") if state.job else "",
    ]
    arns += [stage.model_arn for stage in state.evaluation.stages] if state.evaluation is not None else []
    return [arn for index, arn in enumerate(arns) if arn and arn not in arns[:index]]


def discard_run_models(bedrock: Any, state: RunState, arns: list[str]) -> tuple[list[str], list[str]]:
    """Delete the custom models a rejected or failed run made, unless its input keeps them: (deleted ARNs, actions).

    Best effort: a model Bedrock refuses to delete now (its deployment is still being deleted, a throttle) is
    reported and left for `nova-pipeline gc` / the scheduled clean-up, which delete it once it is old enough."""
    from botocore.exceptions import ClientError

    if not arns:
        return [], []
    if state.input is not None and state.input.cleanup.keep_rejected_model:
        return [], [f"kept custom model {arn} (cleanup.keepRejectedModel)" for arn in arns]
    deleted: list[str] = []
    actions: list[str] = []
    for arn in arns:
        try:
            if delete_custom_model(bedrock, arn):
                deleted.append(arn)
                actions.append(f"deleted custom model {arn}")
        except ClientError as error:
            actions.append(f"could not delete custom model {arn} ({error_code(error)}): gc deletes it later")
    return deleted, actions


def model_to_deploy(state: RunState) -> str:
    """The custom model this execution made: the imported one (SageMaker) or the job's output (Bedrock)."""
    if state.model is not None:
        return state.model.model_arn
    if state.job is not None and state.job.output_model_arn:
        return state.job.output_model_arn
    raise RuntimeError("no custom model to deploy: neither $.model nor $.job.outputModelArn is set")


def start_customization(
    state: RunState, resources: JobResources, *, bedrock: Any, wait_seconds: int, s3: Any = None
) -> JobState:
    """StartBedrockJob: this execution's (stage's) CreateModelCustomizationJob, started once. A later stage starts
    from the custom model the previous stage's job made (`$.job.outputModelArn`, still the previous job's)."""
    assert state.input is not None and state.data is not None, "StartBedrockJob runs after PrepareData"
    stage = state.stage.index
    data = stage_training_data(state, s3=s3, data_bucket=resources.data_bucket)
    base_model_arn = None
    if stage > 0:
        if state.job is None or not state.job.output_model_arn:
            raise RuntimeError(f"stage {stage + 1} starts from the previous stage's model, but $.job has none")
        base_model_arn = state.job.output_model_arn
    run = stage_view(state.input, stage)
    request = bedrock_job_request(run, data, state.execution, resources, stage=stage, base_model_arn=base_model_arn)
    return start_bedrock_job(bedrock, request, wait_seconds=wait_seconds)
