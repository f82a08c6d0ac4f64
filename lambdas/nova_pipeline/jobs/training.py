"""SageMaker AI training with Nova recipes: recipe resolution and merging, the CreateTrainingJob request, the
job lifecycle, and reading the checkpoint manifest that Bedrock imports.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from nova_pipeline.contract.catalog import (
    HYPERPARAMETER_RULES,
    MODELS,
    PEFT_SCHEME_PATHS,
    SAGEMAKER_TRAINING,
    InstanceOption,
    Method,
    Platform,
    RecipeFamily,
    SageMakerTraining,
    sagemaker_image_uri,
    sagemaker_training_problem,
)
from nova_pipeline.contract.execution_input import ExecutionInput, resolve_hyperparameters, stage_view
from nova_pipeline.contract.run_state import ExecutionRef, JobState, ModelState, PreparedData, RunState
from nova_pipeline.core import layout
from nova_pipeline.core.errors import AwsRequestFailed, aws_call, error_code
from nova_pipeline.core.problems import InputProblemsError, Problem
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.core.settings import SettingsError
from nova_pipeline.jobs import bedrock as jobs_bedrock
from nova_pipeline.jobs import datamix
from nova_pipeline.jobs.naming import client_request_token, pipeline_tags, resource_name, staged
from nova_pipeline.jobs.stage_data import stage_training_data

RECIPE_CHANNEL_PATH = "/opt/ml/input/data/recipe"
# ML storage per instance (the SageMaker SDK defaults to 30 GB); Nova writes checkpoints to the escrow bucket.
TRAINING_VOLUME_GB = 200
# Set by the pipeline, never by `recipeOverrides`: the job's InstanceCount and the grader function.
REPLICAS_PATH = "run.replicas"
# The model a recipe trains from: the base model's name, or a previous job's checkpoint (`s3://`, a later stage).
MODEL_PATH = "run.model_name_or_path"
REWARD_LAMBDA_PATHS = ("run.reward_lambda_arn", "training_config.rollout.rewards.api_endpoint.lambda_arn")
# MLflow on SageMaker training jobs goes through CreateTrainingJob `MlflowConfig` (botocore; the SageMaker Python SDK's
# trainers build it in `_create_mlflow_config`), not through the recipe: the published recipe launcher leaves these
# recipe keys alone for training jobs (aws/sagemaker-hyperpod-recipes@263199555b2e, launcher/nova/launchers.py
# `DONT_OVERRIDE_IN_SMTJ`; launcher/recipe_templatization/nova/nova_recipe_template_processor.py drops them from the
# sm_jobs override parameters). A `recipeOverrides` entry for them is refused so the two cannot disagree.
MLFLOW_PATHS = ("run.mlflow_tracking_uri", "run.mlflow_experiment_name", "run.mlflow_run_name")
_MLFLOW_NAME = re.compile(r"[^A-Za-z0-9\-_./]")
_INTERPOLATION = re.compile(r"^\$\{(?:oc\.select:)?([A-Za-z0-9_.]+)(?:,[^}]*)?\}$")


class _RecipeLoader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-5` (no dot) as a string; Nova recipes (read by OmegaConf) mean a float."""


_RecipeLoader.add_implicit_resolver(  # type: ignore[no-untyped-call]
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def recipe_paths(family: RecipeFamily) -> dict[str, str]:
    """Hyperparameter name -> dotted recipe path, for one recipe family (from the catalog's rule table)."""
    return {
        rule.name: rule.recipe_path
        for rule in HYPERPARAMETER_RULES[(Platform.SAGEMAKER, family)]
        if rule.recipe_path is not None
    }


def training_spec(run: ExecutionInput) -> SageMakerTraining:
    spec = SAGEMAKER_TRAINING.get((run.base_model or "", run.method))
    if spec is None:
        problem = sagemaker_training_problem(run.base_model or "", run.method)
        raise InputProblemsError("execution input", [Problem("$.method", problem or "not available on SageMaker")])
    return spec


def instances(run: ExecutionInput) -> tuple[InstanceOption, str, int]:
    """The catalog option, instance type and count of a run (ValidateInput fills them; defaults otherwise)."""
    spec = training_spec(run)
    settings = run.sagemaker
    shipped = settings.recipe if settings.recipe and not settings.recipe.startswith("s3://") else None
    full_rank = settings.full_rank
    option = (
        spec.option(instance_type=settings.instance_type, recipe=shipped, full_rank=full_rank)
        or spec.options_for(full_rank)[0]
    )
    return option, settings.instance_type or option.instance_types[0], settings.instance_count or option.default_count


def shipped_recipes() -> list[str]:
    folder = resources.files("nova_pipeline.jobs") / "recipes"
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_recipe_text(text: str) -> Any:
    return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 - a SafeLoader subclass


def load_shipped_recipe(name: str) -> dict[str, Any]:
    folder = resources.files("nova_pipeline.jobs") / "recipes"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise InputProblemsError(
            "execution input",
            [Problem("$.sagemaker.recipe", f"no shipped recipe {name!r}; shipped: {', '.join(shipped_recipes())}")],
        )
    loaded = load_recipe_text(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def parse_recipe(text: str, source: str) -> dict[str, Any]:
    """A recipe given by the user (an s3:// object): YAML with a training_config section."""
    try:
        loaded = load_recipe_text(text)
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
    """The Nova training image of a model and method in a region (catalog `SAGEMAKER_REGIONS`)."""
    try:
        return sagemaker_image_uri(model, method, region)
    except ValueError as error:
        raise InputProblemsError("execution input", [Problem("$.platform", str(error))]) from None


def _set(tree: dict[str, Any], dotted: str, value: Any) -> str | None:
    """Set an existing key of the recipe; a path the recipe does not have is refused with the keys that exist."""
    node = tree
    parts = dotted.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            where = ".".join(parts[:depth]) or "the top level"
            return f"the recipe has no {dotted!r} (no section {part!r} at {where}; keys there: {', '.join(node)})"
        node = child
    if parts[-1] not in node:
        where = ".".join(parts[:-1]) or "the top level"
        return f"the recipe has no {dotted!r} (keys at {where}: {', '.join(node)})"
    node[parts[-1]] = value
    return None


def _get(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _resolve_interpolations(tree: Any, root: dict[str, Any]) -> Any:
    """`${oc.select:a.b}` / `${a.b}` values replaced by the value at that path (as the SDK's OmegaConf does)."""
    if isinstance(tree, dict):
        return {key: _resolve_interpolations(value, root) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_resolve_interpolations(value, root) for value in tree]
    match = _INTERPOLATION.match(tree) if isinstance(tree, str) else None
    return _resolve_interpolations(_get(root, match.group(1)), root) if match else tree


def recipe_document(recipe: dict[str, Any]) -> str:
    """The YAML uploaded as the `recipe` channel."""
    return yaml.safe_dump(recipe, sort_keys=False)


def build_recipe(
    run: ExecutionInput,
    recipe: dict[str, Any],
    *,
    reward_function_arn: str | None = None,
    checkpoint_uri: str | None = None,
) -> dict[str, Any]:
    """The recipe the job reads: hyperparameters (at the recipe family's paths), then `recipeOverrides`, then the
    instance count (`run.replicas`) and, for RFT, the reward function ARN. Only paths the recipe has are set: any
    other path, and any out-of-range value, is an `InputProblemsError` listing every problem."""
    spec = training_spec(run)
    model = MODELS[run.base_model or ""]
    merged: dict[str, Any] = json.loads(json.dumps(recipe))
    problems: list[Problem] = []
    model_type = _get(merged, "run.model_type")
    if model_type != model.customization_id:
        problems.append(
            Problem(
                "$.sagemaker.recipe",
                f"run.model_type is {model_type!r}; {model.short_name} needs {model.customization_id!r}",
            )
        )
    problems += _peft_scheme_problems(run, merged, PEFT_SCHEME_PATHS[spec.family])
    paths = recipe_paths(spec.family)
    for name, value in run.hyperparameters.items():
        path = paths.get(name)
        problem = (
            _set(merged, path, value)
            if path
            else f"has no place in a {spec.family.value} recipe; known: {', '.join(paths)}"
        )
        if problem:
            problems.append(Problem(f"$.hyperparameters.{name}", problem))
    by_path = {path: name for name, path in paths.items()}
    overridden: dict[str, Any] = {}
    pipeline_paths = (
        {
            REPLICAS_PATH: "sagemaker.instanceCount",
            MODEL_PATH: "baseModel and stages",
            PEFT_SCHEME_PATHS[spec.family]: "sagemaker.peftScheme",
        }
        | dict.fromkeys(REWARD_LAMBDA_PATHS, "the grader function")
        | dict.fromkeys(MLFLOW_PATHS, "the environment's mlflowTrackingArn")
    )
    for dotted, value in run.sagemaker.recipe_overrides.items():
        problem = (
            f"is set by the pipeline from {pipeline_paths[dotted]}"
            if dotted in pipeline_paths
            else _set(merged, dotted, value)
        )
        if problem:
            problems.append(Problem(f"$.sagemaker.recipeOverrides.{dotted}", problem))
        elif dotted in by_path:
            overridden[by_path[dotted]] = value
    _, range_problems = resolve_hyperparameters(Platform.SAGEMAKER, run.method, overridden, run.base_model)
    problems += [
        Problem(p.path.replace("$.hyperparameters.", "$.sagemaker.recipeOverrides."), p.message) for p in range_problems
    ]
    _, _, count = instances(run)
    problem = _set(merged, REPLICAS_PATH, count)
    if problem:
        problems.append(Problem("$.sagemaker.recipe", problem))
    if checkpoint_uri is not None:  # a later stage: train from the previous stage's checkpoint
        problem = _set(merged, MODEL_PATH, checkpoint_uri)
        if problem:
            problems.append(Problem("$.sagemaker.recipe", problem))
    if run.method is Method.RFT:
        if not reward_function_arn:
            raise SettingsError("SageMaker RFT needs the reward function: NOVA_GRADER_FUNCTION_ARN is not set")
        problems += [
            Problem("$.sagemaker.recipe", problem)
            for path in REWARD_LAMBDA_PATHS
            if (problem := _set(merged, path, reward_function_arn))
        ]
    if problems:
        raise InputProblemsError("execution input", problems)
    resolved = _resolve_interpolations(merged, merged)
    assert isinstance(resolved, dict)
    return resolved


def _peft_scheme_problems(run: ExecutionInput, recipe: dict[str, Any], path: str) -> list[Problem]:
    """The recipe must be the kind `sagemaker.peftScheme` asks for: `lora`, or full rank (`null`; the published
    Nova 2 full-rank SFT recipe writes the string "null")."""
    scheme = _get(recipe, path)
    full_rank = scheme is None or scheme == "null"
    if full_rank == run.sagemaker.full_rank and (full_rank or scheme == "lora"):
        return []
    wanted = "a full-rank recipe (null)" if run.sagemaker.full_rank else "a LoRA recipe ('lora')"
    shown = "null" if scheme is None else repr(scheme)
    message = f"{path} is {shown}; sagemaker.peftScheme {run.sagemaker.peft_scheme!r} needs {wanted}"
    return [Problem("$.sagemaker.recipe", message)]


@dataclass(frozen=True)
class TrainingResources:
    environment: str
    region: str
    role_arn: str
    artifacts_bucket: str
    kms_key_arn: str | None = None
    reward_function_arn: str | None = None
    """RFT: the grader Lambda the job calls for rewards (the SageMaker role needs lambda:InvokeFunction on it)."""
    data_bucket: str | None = None
    """Multi-stage runs: where a stage's own training file is written (under the run's prepared/ prefix)."""
    mlflow_tracking_arn: str | None = None
    """The environment's SageMaker managed MLflow server or app: the job logs its parameters and metrics there."""


def training_job_name(environment: str, run: ExecutionInput, execution: ExecutionRef, stage: int = 0) -> str:
    """The training job name of this execution's stage: whoever finds a job under it finds this stage's job."""
    return resource_name(environment, run.run_name, execution.name, staged("train", stage))


def training_job_request(
    run: ExecutionInput,
    data: PreparedData,
    execution: ExecutionRef,
    resources_: TrainingResources,
    *,
    recipe: dict[str, Any],
    recipe_uri: str,
    recipe_file: str,
    stage: int = 0,
) -> dict[str, Any]:
    """CreateTrainingJob for a merged recipe, shaped like the SageMaker Python SDK's `ModelTrainer.from_recipe`:
    channels `train` / `validation` (Converse for SFT, S3Prefix for RFT) plus `recipe`; hyperparameters
    `sagemaker_recipe_local_path`, `base_model` (or `base_model_location` for an s3:// checkpoint) and, for RFT,
    `reward_lambda_arn`, all read from the recipe; InstanceCount = the recipe's `run.replicas`."""
    model = MODELS[run.base_model or ""]
    _, instance_type, _ = instances(run)
    data_type = "S3Prefix" if run.method is Method.RFT else "Converse"
    channels = [("train", data.train.uri)]
    if data.validation is not None and data.validation.records > 0 and model.validation_allowed:
        channels.append(("validation", data.validation.uri))
    input_config = [
        {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {"S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
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
            "InputMode": "File",
        }
    )
    output: dict[str, Any] = {"S3OutputPath": f"s3://{resources_.artifacts_bucket}/{layout.JOBS}"}
    if resources_.kms_key_arn:
        output["KmsKeyId"] = resources_.kms_key_arn
    tags = pipeline_tags(resources_.environment, run.run_name, execution.name, run.tags)
    hyperparameters = {"sagemaker_recipe_local_path": f"{RECIPE_CHANNEL_PATH}/{recipe_file}"}
    model_path = str(_get(recipe, "run.model_name_or_path") or "")
    hyperparameters["base_model_location" if model_path.startswith("s3://") else "base_model"] = model_path
    reward_lambda_arn = _get(recipe, "run.reward_lambda_arn")
    if reward_lambda_arn:
        hyperparameters["reward_lambda_arn"] = str(reward_lambda_arn)
    mlflow = {}
    if resources_.mlflow_tracking_arn:
        mlflow["MlflowConfig"] = mlflow_config(resources_.mlflow_tracking_arn, resources_.environment, run, execution)
    return {
        "TrainingJobName": training_job_name(resources_.environment, run, execution, stage),
        "RoleArn": resources_.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri(model.short_name, run.method, resources_.region),
            "TrainingInputMode": "File",
        },
        "HyperParameters": hyperparameters,
        "InputDataConfig": input_config,
        "OutputDataConfig": output,
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": int(_get(recipe, REPLICAS_PATH)),
            "VolumeSizeInGB": TRAINING_VOLUME_GB,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": int(run.sagemaker.max_runtime_hours * 3600)},
        "EnableNetworkIsolation": False,
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        **mlflow,
    }


def mlflow_config(tracking_arn: str, environment: str, run: ExecutionInput, execution: ExecutionRef) -> dict[str, str]:
    """`MlflowConfig` of CreateTrainingJob: one experiment per environment and run name, one MLflow run per execution
    (names limited to the API reference's pattern, letters, digits and `-_./`, 1-256 characters)."""
    experiment = f"nova-{environment}-{run.run_name or run.base_model or 'run'}"
    return {
        "MlflowResourceArn": tracking_arn,
        "MlflowExperimentName": _MLFLOW_NAME.sub("-", experiment)[:256],
        "MlflowRunName": _MLFLOW_NAME.sub("-", execution.name)[:256] or "run",
    }


def start_training_job(sagemaker: Any, request: dict[str, Any], *, wait_seconds: int) -> JobState:
    """Create the training job, or adopt the one this execution already created (names are per execution).

    An adopted job is this execution's job (an earlier attempt's create was accepted and then failed, timed out or
    died): it is recorded as started by this execution, so Cleanup stops it."""
    from botocore.exceptions import ClientError

    name = request["TrainingJobName"]
    try:
        arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
        adopted = False
    except ClientError as error:
        if error_code(error) not in ("ResourceInUse", "ResourceInUseException"):
            with aws_call("sagemaker", "CreateTrainingJob"):
                raise
        with aws_call("sagemaker", "DescribeTrainingJob"):
            arn = sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobArn"]
        adopted = True
    return JobState(
        platform=Platform.SAGEMAKER.value,
        job_arn=arn,
        job_name=name,
        output_uri=f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{name}/output/output.tar.gz",
        adopted=adopted,
        wait_seconds=wait_seconds,
    )


def poll_training_job(sagemaker: Any, job: JobState, *, wait_seconds: int) -> JobState:
    with aws_call("sagemaker", "DescribeTrainingJob"):
        response = sagemaker.describe_training_job(TrainingJobName=job.job_name)
    status = str(response["TrainingJobStatus"])
    return job.model_copy(
        update={
            "training_seconds": response.get("TrainingTimeInSeconds"),
            "billable_seconds": response.get("BillableTimeInSeconds"),
            "status": status,
            "done": status in ("Completed", "Failed", "Stopped"),
            "succeeded": status == "Completed",
            "failure_message": response.get("FailureReason")
            or (f"training job ended {status}" if status == "Stopped" else None),
            "wait_seconds": wait_seconds,
        }
    )


def find_training_job(sagemaker: Any, job_name: str) -> dict[str, Any] | None:
    """DescribeTrainingJob of `job_name`, or None when there is no such job."""
    from botocore.exceptions import ClientError

    try:
        job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=job_name)
    except ClientError as error:
        if error_code(error) in ("ValidationException", "ResourceNotFound"):
            return None
        with aws_call("sagemaker", "DescribeTrainingJob"):
            raise
    return job


def stop_training_job(sagemaker: Any, job_name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        sagemaker.stop_training_job(TrainingJobName=job_name)
    except ClientError as error:
        if error_code(error) in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def json_in_output(
    archive: bytes, source: str, matches: Callable[[tarfile.TarInfo], bool], *, missing: str, kind: str
) -> tuple[str, Any]:
    """(member name, parsed JSON) of the first member of a job's output.tar.gz that `matches`; `AwsRequestFailed`
    saying `{source} has no {missing}` when none does, or that the `kind` output is unreadable."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = next((m for m in tar.getmembers() if matches(m)), None)
            if member is None:
                raise AwsRequestFailed(f"{source} has no {missing}")
            handle = tar.extractfile(member)
            assert handle is not None
            return member.name, json.loads(handle.read())
    except (tarfile.TarError, json.JSONDecodeError) as error:
        raise AwsRequestFailed(f"{source}: unreadable {kind} output ({error})") from None


def checkpoint_from_output(archive: bytes, source: str) -> str:
    """`checkpoint_s3_bucket` of the manifest.json inside the job's output.tar.gz."""
    _, manifest = json_in_output(
        archive,
        source,
        lambda member: member.name.rsplit("/", 1)[-1] == "manifest.json",
        missing="manifest.json; the training job did not export a checkpoint",
        kind="training",
    )
    checkpoint = manifest.get("checkpoint_s3_bucket")
    if not isinstance(checkpoint, str) or not checkpoint.startswith("s3://"):
        raise AwsRequestFailed(f"{source}: manifest.json has no checkpoint_s3_bucket s3:// URI")
    return checkpoint


def _read_object(s3: Any, uri: str) -> bytes:
    bucket, key = split_s3(uri)
    with aws_call("s3", "GetObject"):
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def resolve_recipe(
    run: ExecutionInput, *, s3: Any, reward_function_arn: str | None = None, checkpoint_uri: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The recipe's name and its merged content: the catalog's for the instance type, or the user's from S3."""
    source = run.sagemaker.recipe or instances(run)[0].recipe
    if source.startswith("s3://"):
        name = source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
        base = parse_recipe(_read_object(s3, source).decode("utf-8"), source)
    else:
        name, base = source, load_shipped_recipe(source)
    return name, build_recipe(run, base, reward_function_arn=reward_function_arn, checkpoint_uri=checkpoint_uri)


def upload_recipe(s3: Any, bucket: str, job_name: str, name: str, recipe: dict[str, Any]) -> tuple[str, str]:
    """The merged recipe written under `recipes/<job>/` (the job's `recipe` channel): its S3 URI and file name."""
    recipe_file = f"{name}.yaml"
    key = layout.recipe(job_name, recipe_file)
    with aws_call("s3", "PutObject"):
        s3.put_object(Bucket=bucket, Key=key, Body=recipe_document(recipe).encode(), ContentType="application/yaml")
    return f"s3://{bucket}/{key}", recipe_file


def start_training(
    state: RunState, resources_: TrainingResources, *, s3: Any, sagemaker: Any, wait_seconds: int
) -> JobState:
    """StartTrainingJob: the merged recipe uploaded under `recipes/<job>/` (the `recipe` channel), then the job.

    A later stage of a multi-stage run trains from the previous stage's checkpoint (`$.model.checkpointUri`, the
    model it imported) on its own training file."""
    assert state.input is not None and state.data is not None, "StartTrainingJob runs after PrepareData"
    stage = state.stage.index
    run = stage_view(state.input, stage)
    data = stage_training_data(state, s3=s3, data_bucket=resources_.data_bucket)
    checkpoint = None
    if stage > 0:
        if state.model is None or not state.model.checkpoint_uri:
            raise RuntimeError(f"stage {stage + 1} starts from the previous checkpoint, but $.model has none")
        checkpoint = state.model.checkpoint_uri
    job_name = training_job_name(resources_.environment, run, state.execution, stage)
    if run.data_mixing is not None:  # Nova Forge data mixing: a serverless job, no recipe (jobs/datamix.py)
        request = datamix.serverless_training_request(run, data, state.execution, resources_, job_name=job_name)
        job = start_training_job(sagemaker, request, wait_seconds=wait_seconds)
        return job.model_copy(update={"output_uri": datamix.manifest_uri(request)})
    recipe_name, recipe = resolve_recipe(
        run, s3=s3, reward_function_arn=resources_.reward_function_arn, checkpoint_uri=checkpoint
    )
    recipe_uri, recipe_file = upload_recipe(s3, resources_.artifacts_bucket, job_name, recipe_name, recipe)
    request = training_job_request(
        run,
        data,
        state.execution,
        resources_,
        recipe=recipe,
        recipe_uri=recipe_uri,
        recipe_file=recipe_file,
        stage=stage,
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
    """ImportModel: CreateCustomModel from the checkpoint the job's manifest names (in `output.tar.gz`, or beside it
    for a serverless job)."""
    job, run = state.job, state.input
    assert job is not None and job.output_uri and run is not None, "ImportModel runs after the training job"
    output = _read_object(s3, job.output_uri)
    if job.output_uri.endswith(datamix.MANIFEST_SUFFIX):  # a serverless job writes the manifest itself
        checkpoint = datamix.checkpoint_from_manifest(output, job.output_uri)
    else:
        checkpoint = checkpoint_from_output(output, job.output_uri)
    stage = state.stage.index
    model = jobs_bedrock.import_custom_model(
        bedrock,
        checkpoint_uri=checkpoint,
        role_arn=role_arn,
        model_name=resource_name(environment, run.run_name, state.execution.name, staged("model", stage)),
        token=client_request_token(state.execution.arn, staged("custom-model", stage)),
        kms_key_arn=kms_key_arn,
        wait_seconds=wait_seconds,
        tags=jobs_bedrock.bedrock_tags(run, environment, state.execution),
    )
    return model.model_copy(update={"checkpoint_uri": checkpoint})
