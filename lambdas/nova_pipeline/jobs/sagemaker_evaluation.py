"""SageMaker's Nova evaluation recipes on the trained checkpoint (`sagemaker.evaluationRecipes`): one training job
per task with the evaluation image, the checkpoint as `run.model_name_or_path`, output under the artifacts bucket's
jobs/ prefix; the metrics are read from the job's `results_*.json` and reported, never gated.

Sources: SageMaker developer guide, "Evaluating your SageMaker AI-trained model"
(https://docs.aws.amazon.com/sagemaker/latest/dg/nova-model-evaluation.html: evaluation recipe pointing at the
trained model, a separate job per evaluation, metrics in S3) and "Understanding the recipe parameters"
(`model_name_or_path`: "S3 path for the post-trained checkpoint"; `replicas` 1); "Accessing and analyzing evaluation
results" (`eval-result/results_[timestamp].json`); the request shape is the SageMaker Python SDK v3's
`ModelTrainer.from_recipe` for a recipe with an `evaluation` section (`sagemaker/train/sm_recipes/utils.py`
`_get_args_from_nova_recipe`: `base_model_location` for an s3:// model path, `eval_lambda_arn` only when the
recipe's `processor.lambda_arn` is set); metrics extraction as the SDK's
`sagemaker/train/common_utils/show_results_utils.py` `_extract_metrics_from_results` (`results.all`, else the first
non-empty task key such as gen_qa's `custom|gen_qa_gen_qa|0`).
"""

from __future__ import annotations

import tarfile
from importlib import resources
from typing import Any

from nova_pipeline.contract.catalog import (
    SAGEMAKER_EVALUATION_TASKS,
    evaluation_image_uri,
    evaluation_instance_types,
    evaluation_recipe,
)
from nova_pipeline.contract.execution_input import EvaluationRecipeInput, ExecutionInput
from nova_pipeline.contract.run_state import (
    ExecutionRef,
    RunState,
    SageMakerEvaluationJob,
    SageMakerEvaluationState,
)
from nova_pipeline.core import layout
from nova_pipeline.core.errors import AwsRequestFailed, aws_call
from nova_pipeline.core.problems import InputProblemsError, Problem
from nova_pipeline.jobs.naming import pipeline_tags, resource_name
from nova_pipeline.jobs.training import (
    RECIPE_CHANNEL_PATH,
    TRAINING_VOLUME_GB,
    TrainingResources,
    _read_object,
    _set,
    checkpoint_from_output,
    json_in_output,
    load_recipe_text,
    start_training_job,
    upload_recipe,
)

EVALUATION_INSTANCE_COUNT = 1  # "You must set this value to 1 because multi-node is not supported" (recipe parameters)
TERMINAL = ("Completed", "Failed", "Stopped")


def load_evaluation_recipe(name: str) -> dict[str, Any]:
    path = resources.files("nova_pipeline.jobs") / "recipes" / "evaluation" / f"{name}.yaml"
    loaded = load_recipe_text(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def evaluation_job_name(environment: str, run: ExecutionInput, execution: ExecutionRef, task: str) -> str:
    return resource_name(environment, run.run_name, execution.name, f"eval-{task.replace('_', '-')}")


def build_evaluation_recipe(
    run: ExecutionInput, requested: EvaluationRecipeInput, *, model_path: str, job_name: str
) -> tuple[str, dict[str, Any]]:
    """The published recipe of the model for the task, pointed at the checkpoint, with the task's strategy/metric."""
    task = SAGEMAKER_EVALUATION_TASKS[requested.task]
    name = evaluation_recipe(run.base_model or "", task)
    recipe = load_evaluation_recipe(name)
    problems = [
        problem
        for path, value in (
            ("run.name", job_name),
            ("run.model_name_or_path", model_path),
            ("run.replicas", EVALUATION_INSTANCE_COUNT),
            ("evaluation.task", task.name),
            ("evaluation.strategy", task.strategy),
            ("evaluation.metric", task.metric),
        )
        if (problem := _set(recipe, path, value))
    ]
    if problems:  # a shipped recipe without these keys is a defect of this repository, not of the input
        raise AssertionError(f"{name}: {'; '.join(problems)}")
    return name, recipe


def evaluation_job_request(
    run: ExecutionInput,
    requested: EvaluationRecipeInput,
    execution: ExecutionRef,
    resources_: TrainingResources,
    *,
    recipe: dict[str, Any],
    recipe_uri: str,
    recipe_file: str,
    job_name: str,
    data_bucket: str,
) -> dict[str, Any]:
    """CreateTrainingJob for an evaluation recipe, shaped like `ModelTrainer.from_recipe`: the `recipe` channel,
    gen_qa's dataset as the `train` channel, `base_model_location` = the checkpoint, one instance."""
    model = run.base_model or ""
    channels: list[dict[str, Any]] = []
    if requested.dataset:
        channels.append(_channel("train", f"s3://{data_bucket}/{requested.dataset}"))
    channels.append({**_channel("recipe", recipe_uri.rsplit("/", 1)[0] + "/"), "InputMode": "File"})
    output: dict[str, Any] = {"S3OutputPath": f"s3://{resources_.artifacts_bucket}/{layout.JOBS}"}
    if resources_.kms_key_arn:
        output["KmsKeyId"] = resources_.kms_key_arn
    tags = pipeline_tags(resources_.environment, run.run_name, execution.name, run.tags)
    hyperparameters = {
        "sagemaker_recipe_local_path": f"{RECIPE_CHANNEL_PATH}/{recipe_file}",
        "base_model_location": str(recipe["run"]["model_name_or_path"]),
    }
    try:
        image = evaluation_image_uri(resources_.region)
    except ValueError as error:
        raise InputProblemsError("execution input", [Problem("$.sagemaker.evaluationRecipes", str(error))]) from None
    return {
        "TrainingJobName": job_name,
        "RoleArn": resources_.role_arn,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "InputDataConfig": channels,
        "OutputDataConfig": output,
        "ResourceConfig": {
            "InstanceType": requested.instance_type or evaluation_instance_types(model)[0],
            "InstanceCount": EVALUATION_INSTANCE_COUNT,
            "VolumeSizeInGB": TRAINING_VOLUME_GB,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": int(run.sagemaker.max_runtime_hours * 3600)},
        "EnableNetworkIsolation": False,
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
    }


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
    }


def start_sagemaker_evaluation(
    state: RunState, resources_: TrainingResources, *, data_bucket: str, s3: Any, sagemaker: Any, wait_seconds: int
) -> SageMakerEvaluationState:
    """StartSageMakerEvaluation: the checkpoint from the training output's manifest, then one job per task."""
    run, job = state.input, state.job
    assert run is not None and job is not None and job.output_uri, "runs after the training job"
    model_path = checkpoint_from_output(_read_object(s3, job.output_uri), job.output_uri)
    jobs: list[SageMakerEvaluationJob] = []
    for requested in run.sagemaker.evaluation_recipes:
        job_name = evaluation_job_name(resources_.environment, run, state.execution, requested.task)
        name, recipe = build_evaluation_recipe(run, requested, model_path=model_path, job_name=job_name)
        recipe_uri, recipe_file = upload_recipe(s3, resources_.artifacts_bucket, job_name, name, recipe)
        request = evaluation_job_request(
            run,
            requested,
            state.execution,
            resources_,
            recipe=recipe,
            recipe_uri=recipe_uri,
            recipe_file=recipe_file,
            job_name=job_name,
            data_bucket=data_bucket,
        )
        started = start_training_job(sagemaker, request, wait_seconds=wait_seconds)
        assert started.output_uri is not None
        jobs.append(
            SageMakerEvaluationJob(
                task=requested.task, job_name=job_name, job_arn=started.job_arn, output_uri=started.output_uri
            )
        )
    return SageMakerEvaluationState(model_path=model_path, jobs=jobs, wait_seconds=wait_seconds)


def metrics_from_output(archive: bytes, source: str) -> tuple[dict[str, float], bool]:
    """The numeric metrics of the `results_*.json` in an evaluation job's output.tar.gz, and whether it says it
    was SIMULATED (the offline twin's)."""

    def is_results(member: tarfile.TarInfo) -> bool:
        base = member.name.rsplit("/", 1)[-1]
        return member.isfile() and base.startswith("results_") and base.endswith(".json")

    name, document = json_in_output(
        archive, source, is_results, missing="results_*.json: the evaluation job wrote no metrics", kind="evaluation"
    )
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, dict):
        raise AwsRequestFailed(f"{source}: {name} has no `results` object")
    chosen = results.get("all") or next((v for v in results.values() if isinstance(v, dict) and v), {})
    metrics = {str(k): float(v) for k, v in chosen.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return metrics, bool(document.get("simulated"))


def poll_sagemaker_evaluation(
    sagemaker: Any, s3: Any, evaluation: SageMakerEvaluationState, *, wait_seconds: int
) -> SageMakerEvaluationState:
    """Describe every unfinished job; read a completed job's metrics once. Done when every job has ended."""
    jobs: list[SageMakerEvaluationJob] = []
    for job in evaluation.jobs:
        if job.status in TERMINAL:
            jobs.append(job)
            continue
        with aws_call("sagemaker", "DescribeTrainingJob"):
            response = sagemaker.describe_training_job(TrainingJobName=job.job_name)
        status = str(response["TrainingJobStatus"])
        update: dict[str, Any] = {"status": status, "failure_message": response.get("FailureReason")}
        if status == "Completed":
            try:
                update["metrics"], update["simulated"] = metrics_from_output(
                    _read_object(s3, job.output_uri), job.output_uri
                )
            except AwsRequestFailed as error:
                update["failure_message"] = str(error)
        elif status == "Stopped" and not update["failure_message"]:
            update["failure_message"] = "evaluation job ended Stopped"
        jobs.append(job.model_copy(update=update))
    return evaluation.model_copy(
        update={
            "jobs": jobs,
            "done": all(job.status in TERMINAL for job in jobs),
            "succeeded": True,
            "wait_seconds": wait_seconds,
        }
    )
