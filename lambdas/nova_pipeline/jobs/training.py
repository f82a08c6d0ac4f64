"""SageMaker AI training with Nova recipes: recipe resolution and merging, the CreateTrainingJob request, the
job lifecycle, and reading the checkpoint manifest that Bedrock imports.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from nova_pipeline.contract.catalog import MODELS, Method, Platform
from nova_pipeline.contract.execution_input import ExecutionInput, resolve_hyperparameters
from nova_pipeline.contract.run_state import ExecutionRef, JobState, ModelState, PreparedData, RunState
from nova_pipeline.core import layout
from nova_pipeline.core.errors import AwsRequestFailed, aws_call, error_code
from nova_pipeline.core.problems import InputProblemsError, Problem
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.jobs import bedrock as jobs_bedrock
from nova_pipeline.jobs.naming import client_request_token, resource_name

TRAINING_IMAGE_ACCOUNT = "708977205387"
TRAINING_IMAGE_REPOSITORY = "nova-fine-tune-repo"
RECIPE_CHANNEL_PATH = "/opt/ml/input/data/recipe"

# Where each execution-input hyperparameter lives in a Nova recipe.
RECIPE_PATHS = {
    "epochCount": "training_config.trainer.max_epochs",
    "learningRate": "training_config.model.optim.lr",
    "learningRateWarmupSteps": "training_config.model.optim.sched.warmup_steps",
    "maxLength": "training_config.max_length",
    "globalBatchSize": "training_config.global_batch_size",
    "hiddenDropout": "training_config.model.hidden_dropout",
    "attentionDropout": "training_config.model.attention_dropout",
    "ffnDropout": "training_config.model.ffn_dropout",
    "weightDecay": "training_config.model.optim.weight_decay",
    "adapterDropout": "training_config.model.peft.lora_tuning.adapter_dropout",
    "loraAlpha": "training_config.model.peft.lora_tuning.alpha",
}
DEFAULT_RECIPES = {
    ("nova-micro", Method.SFT): "nova_micro_1_0_lora_sft",
    ("nova-lite", Method.SFT): "nova_lite_1_0_lora_sft",
    ("nova-pro", Method.SFT): "nova_pro_1_0_lora_sft",
    ("nova-2-lite", Method.SFT): "nova_2_lite_lora_sft",
    ("nova-2-lite", Method.RFT): "nova_2_lite_lora_rft",
}


def shipped_recipes() -> list[str]:
    folder = resources.files("nova_pipeline.jobs") / "recipes"
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_shipped_recipe(name: str) -> dict[str, Any]:
    folder = resources.files("nova_pipeline.jobs") / "recipes"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise InputProblemsError(
            "execution input",
            [Problem("$.sagemaker.recipe", f"no shipped recipe {name!r}; shipped: {', '.join(shipped_recipes())}")],
        )
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def parse_recipe(text: str, source: str) -> dict[str, Any]:
    """A recipe given by the user (an s3:// object): YAML with a training_config section."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputProblemsError(
            "execution input", [Problem("$.sagemaker.recipe", f"{source}: invalid YAML: {error}")]
        ) from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("training_config"), dict):
        raise InputProblemsError(
            "execution input",
            [Problem("$.sagemaker.recipe", f"{source}: not a Nova recipe (no training_config section)")],
        )
    return loaded


def image_uri(model: str, method: Method, region: str) -> str:
    """The Nova training image for a model generation and method (SageMaker HyperPod Nova recipes)."""
    nova2 = model.startswith("nova-2")
    tag = {
        (False, Method.SFT): "SM-TJ-SFT-latest",
        (True, Method.SFT): "SM-TJ-SFT-V2-latest",
        (True, Method.RFT): "SM-TJ-RFT-V2-latest",
    }.get((nova2, method))
    if tag is None:
        raise AwsRequestFailed(f"no Nova training image for {method.value} on {model}")
    return f"{TRAINING_IMAGE_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{TRAINING_IMAGE_REPOSITORY}:{tag}"


def _set(tree: dict[str, Any], dotted: str, value: Any, *, must_exist: bool) -> str | None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if must_exist:
                return f"{dotted!r} is not a key of the recipe (no section {part!r})"
            child = node.setdefault(part, {})
        node = child
    if must_exist and parts[-1] not in node:
        return f"{dotted!r} is not a key of the recipe; keys here: {', '.join(sorted(node))}"
    node[parts[-1]] = value
    return None


def build_recipe(run: ExecutionInput, recipe: dict[str, Any]) -> dict[str, Any]:
    """Merge hyperparameters then `recipeOverrides` into the recipe; unknown keys and out-of-range values fail."""
    merged: dict[str, Any] = json.loads(json.dumps(recipe))
    problems: list[Problem] = []
    for name, value in run.hyperparameters.items():
        path = RECIPE_PATHS.get(name)
        if path:
            _set(merged, path, value, must_exist=False)
    by_path = {path: name for name, path in RECIPE_PATHS.items()}
    overridden: dict[str, Any] = {}
    for dotted, value in run.sagemaker.recipe_overrides.items():
        problem = _set(merged, dotted, value, must_exist=True)
        if problem:
            problems.append(Problem(f"$.sagemaker.recipeOverrides.{dotted}", problem))
        elif dotted in by_path:
            overridden[by_path[dotted]] = value
    _, range_problems = resolve_hyperparameters(Platform.SAGEMAKER, run.method, overridden)
    problems += [
        Problem(p.path.replace("$.hyperparameters.", "$.sagemaker.recipeOverrides."), p.message) for p in range_problems
    ]
    if problems:
        raise InputProblemsError("execution input", problems)
    return merged


@dataclass(frozen=True)
class TrainingResources:
    environment: str
    region: str
    role_arn: str
    artifacts_bucket: str
    kms_key_arn: str | None = None


def training_job_request(
    run: ExecutionInput,
    data: PreparedData,
    execution: ExecutionRef,
    resources_: TrainingResources,
    *,
    recipe_uri: str,
    recipe_file: str,
) -> dict[str, Any]:
    model = MODELS[run.base_model or ""]
    channels = [("train", data.train.uri)]
    if data.validation is not None and data.validation.records > 0 and model.validation_allowed:
        channels.append(("val", data.validation.uri))
    input_config = [
        {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {"S3DataType": "Converse", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
            },
        }
        for name, uri in channels
    ]
    input_config.append(
        {
            "ChannelName": "recipe",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": recipe_uri.rsplit("/", 1)[0] + "/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    )
    output: dict[str, Any] = {"S3OutputPath": f"s3://{resources_.artifacts_bucket}/{layout.JOBS}"}
    if resources_.kms_key_arn:
        output["KmsKeyId"] = resources_.kms_key_arn
    tags = {"project": "nova-customization", "environment": resources_.environment, "execution": execution.name}
    tags.update(run.tags)
    return {
        "TrainingJobName": resource_name(resources_.environment, run.run_name, execution.name, "train"),
        "RoleArn": resources_.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri(model.short_name, run.method, resources_.region),
            "TrainingInputMode": "File",
        },
        "HyperParameters": {
            "sagemaker_recipe_local_path": f"{RECIPE_CHANNEL_PATH}/{recipe_file}",
            "base_model": model.sagemaker_base_model or "",
        },
        "InputDataConfig": input_config,
        "OutputDataConfig": output,
        "ResourceConfig": {
            "InstanceType": run.sagemaker.instance_type,
            "InstanceCount": run.sagemaker.instance_count,
            "VolumeSizeInGB": 200,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": int(run.sagemaker.max_runtime_hours * 3600)},
        "EnableNetworkIsolation": False,
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
    }


def start_training_job(sagemaker: Any, request: dict[str, Any], *, wait_seconds: int) -> JobState:
    """Create the training job, or adopt the one this execution already created (names are per execution)."""
    from botocore.exceptions import ClientError

    name = request["TrainingJobName"]
    try:
        arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
        started = True
    except ClientError as error:
        if error_code(error) not in ("ResourceInUse", "ResourceInUseException"):
            with aws_call("sagemaker", "CreateTrainingJob"):
                raise
        with aws_call("sagemaker", "DescribeTrainingJob"):
            arn = sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobArn"]
        started = False
    return JobState(
        platform=Platform.SAGEMAKER.value,
        job_arn=arn,
        job_name=name,
        output_uri=f"{request['OutputDataConfig']['S3OutputPath']}{name}/output/output.tar.gz",
        started_by_this_execution=started,
        wait_seconds=wait_seconds,
    )


def poll_training_job(sagemaker: Any, job: JobState, *, wait_seconds: int) -> JobState:
    with aws_call("sagemaker", "DescribeTrainingJob"):
        response = sagemaker.describe_training_job(TrainingJobName=job.job_name)
    status = str(response["TrainingJobStatus"])
    return job.model_copy(
        update={
            "status": status,
            "done": status in ("Completed", "Failed", "Stopped"),
            "succeeded": status == "Completed",
            "failure_message": response.get("FailureReason")
            or (f"training job ended {status}" if status == "Stopped" else None),
            "wait_seconds": wait_seconds,
        }
    )


def stop_training_job(sagemaker: Any, job_name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        sagemaker.stop_training_job(TrainingJobName=job_name)
    except ClientError as error:
        if error_code(error) in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def checkpoint_from_output(archive: bytes, source: str) -> str:
    """`checkpoint_s3_bucket` of the manifest.json inside the job's output.tar.gz."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1] == "manifest.json"), None)
            if member is None:
                raise AwsRequestFailed(f"{source} has no manifest.json; the training job did not export a checkpoint")
            handle = tar.extractfile(member)
            assert handle is not None
            manifest = json.loads(handle.read())
    except (tarfile.TarError, json.JSONDecodeError) as error:
        raise AwsRequestFailed(f"{source}: unreadable training output ({error})") from None
    checkpoint = manifest.get("checkpoint_s3_bucket")
    if not isinstance(checkpoint, str) or not checkpoint.startswith("s3://"):
        raise AwsRequestFailed(f"{source}: manifest.json has no checkpoint_s3_bucket s3:// URI")
    return checkpoint


def _read_object(s3: Any, uri: str) -> bytes:
    bucket, key = split_s3(uri)
    with aws_call("s3", "GetObject"):
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def resolve_recipe(run: ExecutionInput, *, s3: Any) -> tuple[str, dict[str, Any]]:
    """The recipe's name and its merged content: shipped by default, or the user's from S3."""
    source = run.sagemaker.recipe or DEFAULT_RECIPES[(run.base_model or "", run.method)]
    if source.startswith("s3://"):
        name = source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
        base = parse_recipe(_read_object(s3, source).decode("utf-8"), source)
    else:
        name, base = source, load_shipped_recipe(source)
    return name, build_recipe(run, base)


def start_training(
    state: RunState, resources_: TrainingResources, *, s3: Any, sagemaker: Any, wait_seconds: int
) -> JobState:
    """StartTrainingJob: the merged recipe uploaded under `recipes/<job>/` (the `recipe` channel), then the job."""
    run, data = state.input, state.data
    assert run is not None and data is not None, "StartTrainingJob runs after PrepareData"
    recipe_name, recipe = resolve_recipe(run, s3=s3)
    job_name = resource_name(resources_.environment, run.run_name, state.execution.name, "train")
    recipe_file = f"{recipe_name}.yaml"
    recipe_key = layout.recipe(job_name, recipe_file)
    with aws_call("s3", "PutObject"):
        s3.put_object(
            Bucket=resources_.artifacts_bucket,
            Key=recipe_key,
            Body=yaml.safe_dump(recipe, sort_keys=False).encode(),
            ContentType="application/yaml",
        )
    request = training_job_request(
        run,
        data,
        state.execution,
        resources_,
        recipe_uri=f"s3://{resources_.artifacts_bucket}/{recipe_key}",
        recipe_file=recipe_file,
    )
    return start_training_job(sagemaker, request, wait_seconds=wait_seconds)


def import_trained_model(
    state: RunState,
    *,
    environment: str,
    role_arn: str,
    kms_key_arn: str | None,
    s3: Any,
    bedrock: Any,
    wait_seconds: int,
) -> ModelState:
    """ImportModel: CreateCustomModel from the checkpoint the job's `output.tar.gz` manifest names."""
    job, run = state.job, state.input
    assert job is not None and job.output_uri and run is not None, "ImportModel runs after the training job"
    checkpoint = checkpoint_from_output(_read_object(s3, job.output_uri), job.output_uri)
    return jobs_bedrock.import_custom_model(
        bedrock,
        checkpoint_uri=checkpoint,
        role_arn=role_arn,
        model_name=resource_name(environment, run.run_name, state.execution.name, "model"),
        token=client_request_token(state.execution.arn, "custom-model"),
        kms_key_arn=kms_key_arn,
        wait_seconds=wait_seconds,
    )
