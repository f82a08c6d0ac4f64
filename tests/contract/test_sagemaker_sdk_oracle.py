"""Contract: our CreateTrainingJob request and recipe agree with what the official SageMaker Python SDK v3 builds.

For every recipe the catalog ships (each model x method x instance option on SageMaker), the pipeline's request
(`jobs.training.training_job_request` with the merged recipe) is compared with `ModelTrainer.from_recipe` fed the same
merged recipe file, image, instance type and data channels, offline (tests/contract/sdk_oracle.py). Compared: the
hyperparameters (the recipe file name aside), channel names and S3DataType per channel, image, instance type and count
(the SDK takes the count from run.replicas) and the recipe content uploaded as the `recipe` channel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova_pipeline.contract.catalog import MODELS, SAGEMAKER_TRAINING, Method
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import ExecutionRef, PreparedData
from nova_pipeline.jobs import training
from tests.contract import sdk_oracle

pytestmark = [
    pytest.mark.filterwarnings("ignore:register_new_resolver:UserWarning"),  # the SDK's OmegaConf use
    pytest.mark.filterwarnings("ignore:sagemaker.train.configs has been moved:DeprecationWarning"),
]

REWARD_ARN = f"arn:aws:lambda:us-east-1:{sdk_oracle.ACCOUNT}:function:nova-dev-RftGrader"
EXECUTION = ExecutionRef(name="exec-1", arn=f"arn:aws:states:us-east-1:{sdk_oracle.ACCOUNT}:execution:sm:exec-1")
DATA = PreparedData.model_validate(
    {
        "manifestUri": "s3://data/prepared/exec-1/manifest.json",
        "prefix": "s3://data/prepared/exec-1/",
        "train": {"uri": "s3://data/prepared/exec-1/train.jsonl", "records": 400},
        "validation": {"uri": "s3://data/prepared/exec-1/validation.jsonl", "records": 50},
    }
)
# The SDK's names for the models (sagemaker/train/common_utils/model_aliases.py) and techniques.
SDK_MODEL = {
    "nova-micro": "nova-textgeneration-micro",
    "nova-lite": "nova-textgeneration-lite",
    "nova-pro": "nova-textgeneration-pro",
    "nova-2-lite": "nova-textgeneration-lite-v2",
}
SDK_TECHNIQUE = {Method.SFT: "SFT", Method.RFT: "RLVR"}

CASES = [
    pytest.param(model, method, option.instance_types[0], region, full_rank, id=f"{option.recipe}-{region}")
    for (model, method), spec in SAGEMAKER_TRAINING.items()
    for full_rank in (False, True)
    for option in spec.options_for(full_rank)
    for region in ("us-east-1",)
] + [
    pytest.param("nova-2-lite", Method.RFT, "ml.p5en.48xlarge", "us-west-2", False, id="nova-2-lite-rft-p5en-us-west-2")
]


def ours(
    model: str, method: Method, instance_type: str, region: str, full_rank: bool = False
) -> tuple[dict[str, Any], str, str]:
    """Our CreateTrainingJob request, uploaded recipe YAML and recipe file name (LoRA, or the full-rank recipe)."""
    document: dict[str, Any] = {
        "dataset": {"uri": "raw/x.csv"},
        "platform": "sagemaker",
        "baseModel": model,
        "method": method.value,
        "runName": "oracle",
        "sagemaker": {"instanceType": instance_type, "peftScheme": "none" if full_rank else "lora"},
    }
    if not MODELS[model].validation_allowed:
        document["split"] = {"train": 0.9, "validation": 0, "test": 0.1}
    run = parse_execution_input(document, region=region)
    option, _, _ = training.instances(run)
    resources = training.TrainingResources(
        environment="dev",
        region=region,
        role_arn=sdk_oracle.ROLE_ARN,
        artifacts_bucket="artifacts",
        reward_function_arn=REWARD_ARN,
    )
    recipe = training.build_recipe(
        run, training.load_shipped_recipe(option.recipe), reward_function_arn=resources.reward_function_arn
    )
    recipe_file = f"{option.recipe}.yaml"
    request = training.training_job_request(
        run,
        DATA,
        EXECUTION,
        resources,
        recipe=recipe,
        recipe_uri=f"s3://artifacts/recipes/job/{recipe_file}",
        recipe_file=recipe_file,
    )
    return request, training.recipe_document(recipe), recipe_file


def channel_types(request: dict[str, Any]) -> dict[str, str]:
    return {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataType"] for c in request["InputDataConfig"]}


def hyperparameters(request: dict[str, Any]) -> dict[str, str]:
    """Hyperparameters with the recipe file name dropped from its container path (the SDK names it recipe.yaml)."""
    values = dict(request["HyperParameters"])
    values["sagemaker_recipe_local_path"] = os.path.dirname(values["sagemaker_recipe_local_path"])
    return values


@pytest.mark.parametrize(("model", "method", "instance_type", "region", "full_rank"), CASES)
def test_our_request_matches_the_sagemaker_sdk(
    model: str, method: Method, instance_type: str, region: str, full_rank: bool, tmp_path: Path
) -> None:
    request, document, recipe_file = ours(model, method, instance_type, region, full_rank)
    (tmp_path / recipe_file).write_text(document, encoding="utf-8")
    data_type = sdk_oracle.sdk_s3_data_type(SDK_MODEL[model], SDK_TECHNIQUE[method])
    data_channels = [
        (c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"], data_type)
        for c in request["InputDataConfig"]
        if c["ChannelName"] != "recipe"
    ]

    sdk = sdk_oracle.create_training_job(
        tmp_path / recipe_file,
        region=region,
        image=request["AlgorithmSpecification"]["TrainingImage"],
        instance_type=instance_type,
        channels=data_channels,
    )
    theirs = sdk.create_training_job

    assert hyperparameters(request) == hyperparameters(theirs)
    assert channel_types(request) == channel_types(theirs)
    assert request["AlgorithmSpecification"] == theirs["AlgorithmSpecification"]
    for key in ("InstanceType", "InstanceCount"):
        assert request["ResourceConfig"][key] == theirs["ResourceConfig"][key], key
    assert training.load_recipe_text(document) == yaml.safe_load(sdk.recipe_upload)


def test_the_oracle_sees_a_wrong_channel_type_and_base_model(tmp_path: Path) -> None:
    """The comparison can fail: the seed's defects (Converse RFT data, `nova-2-lite/prod`) differ from the SDK."""
    request, document, recipe_file = ours("nova-2-lite", Method.RFT, "ml.p5.48xlarge", "us-east-1")
    (tmp_path / recipe_file).write_text(document.replace("nova-lite-2/prod", "nova-2-lite/prod"), encoding="utf-8")

    sdk = sdk_oracle.create_training_job(
        tmp_path / recipe_file,
        region="us-east-1",
        image=request["AlgorithmSpecification"]["TrainingImage"],
        instance_type="ml.p5.48xlarge",
        channels=[("train", DATA.train.uri, "Converse")],
    )

    assert sdk.create_training_job["HyperParameters"]["base_model"] != request["HyperParameters"]["base_model"]
    assert channel_types(sdk.create_training_job) != channel_types(request)
