"""SageMaker Nova recipe path: recipe merge and checks, the CreateTrainingJob request, the checkpoint manifest."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import ExecutionRef, PreparedData
from nova_pipeline.core.errors import AwsRequestFailed
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.jobs import training

EXECUTION = ExecutionRef(name="exec-1", arn="arn:aws:states:us-east-1:123456789012:execution:sm:exec-1")
DATA = PreparedData.model_validate(
    {
        "manifestUri": "s3://data/prepared/exec-1/manifest.json",
        "prefix": "s3://data/prepared/exec-1/",
        "train": {"uri": "s3://data/prepared/exec-1/train.jsonl", "records": 400},
        "validation": {"uri": "s3://data/prepared/exec-1/validation.jsonl", "records": 50},
    }
)
RESOURCES = training.TrainingResources(
    environment="dev",
    region="us-east-1",
    role_arn="arn:aws:iam::123456789012:role/sagemaker",
    artifacts_bucket="artifacts",
)


def sagemaker_run(**overrides: object):  # type: ignore[no-untyped-def]
    return parse_execution_input(
        {"dataset": {"uri": "raw/x.csv"}, "platform": "sagemaker", "runName": "lora", **overrides}
    )


def test_every_shipped_default_recipe_loads() -> None:
    for name in training.DEFAULT_RECIPES.values():
        recipe = training.load_shipped_recipe(name)
        assert recipe["training_config"]["trainer"]["max_epochs"] == 2


def test_hyperparameters_and_overrides_are_merged_into_the_recipe() -> None:
    run = sagemaker_run(
        hyperparameters={"epochCount": 3, "learningRate": 2e-5, "globalBatchSize": 32},
        sagemaker={
            "recipeOverrides": {"training_config.model.peft.lora_tuning.alpha": 64, "training_config.max_length": 4096}
        },
    )

    recipe = training.build_recipe(run, training.load_shipped_recipe("nova_micro_1_0_lora_sft"))

    config = recipe["training_config"]
    assert config["trainer"]["max_epochs"] == 3
    assert config["model"]["optim"]["lr"] == 2e-5
    assert config["global_batch_size"] == 32
    assert config["max_length"] == 4096
    assert config["model"]["peft"]["lora_tuning"]["alpha"] == 64


def test_unknown_override_keys_and_out_of_range_overrides_are_reported_together() -> None:
    run = sagemaker_run(
        sagemaker={
            "recipeOverrides": {
                "training_config.max_lenght": 4096,
                "training_config.max_length": 100000,
                "trainer.epochs": 1,
            }
        }
    )

    with pytest.raises(InputProblemsError) as caught:
        training.build_recipe(run, training.load_shipped_recipe("nova_micro_1_0_lora_sft"))

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipeOverrides.training_config.max_lenght: 'training_config.max_lenght' is not a key of the "
        "recipe; keys here: global_batch_size, max_length, model, trainer",
        "$.sagemaker.recipeOverrides.trainer.epochs: 'trainer.epochs' is not a key of the recipe (no section "
        "'trainer')",
        "$.sagemaker.recipeOverrides.maxLength: 100000 is out of range; allowed: int from 1024 to 8192",
    ]


def test_training_job_request_uses_the_nova_image_recipe_channel_and_converse_data() -> None:
    run = sagemaker_run(sagemaker={"instanceType": "ml.g5.48xlarge", "maxRuntimeHours": 6})
    request = training.training_job_request(
        run,
        DATA,
        EXECUTION,
        RESOURCES,
        recipe_uri="s3://artifacts/recipes/job/nova_micro_1_0_lora_sft.yaml",
        recipe_file="nova_micro_1_0_lora_sft.yaml",
    )
    client = boto3.client("sagemaker", region_name="us-east-1")

    with Stubber(client) as stub:
        stub.add_response(
            "create_training_job",
            {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"},
            expected_params=request,
        )
        job = training.start_training_job(client, request, wait_seconds=9)

    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-SFT-latest",
        "TrainingInputMode": "File",
    }
    assert request["HyperParameters"] == {
        "sagemaker_recipe_local_path": "/opt/ml/input/data/recipe/nova_micro_1_0_lora_sft.yaml",
        "base_model": "nova-micro/prod",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}
    assert channels["train"]["S3DataType"] == "Converse"
    assert channels["val"]["S3Uri"] == "s3://data/prepared/exec-1/validation.jsonl"
    assert channels["recipe"]["S3Uri"] == "s3://artifacts/recipes/job/"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 21600}
    assert job.output_uri == f"s3://artifacts/jobs/{request['TrainingJobName']}/output/output.tar.gz"


def test_nova_2_images_differ_by_method() -> None:
    assert training.image_uri("nova-2-lite", training.Method.RFT, "us-east-1").endswith(":SM-TJ-RFT-V2-latest")
    assert training.image_uri("nova-2-lite", training.Method.SFT, "us-west-2").startswith(
        "708977205387.dkr.ecr.us-west-2.amazonaws.com/"
    )


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_checkpoint_is_read_from_the_manifest_in_the_output_archive() -> None:
    archive = _archive({"manifest.json": json.dumps({"checkpoint_s3_bucket": "s3://escrow/ckpt/"}).encode()})

    assert training.checkpoint_from_output(archive, "s3://a/out.tar.gz") == "s3://escrow/ckpt/"


def test_missing_manifest_is_a_clear_error() -> None:
    with pytest.raises(AwsRequestFailed, match=r"s3://a/out.tar.gz has no manifest.json"):
        training.checkpoint_from_output(_archive({"model.bin": b"x"}), "s3://a/out.tar.gz")


def test_a_user_recipe_must_be_yaml_with_a_training_config() -> None:
    assert training.parse_recipe("run: {}\ntraining_config:\n  max_length: 2048\n", "s3://a/r.yaml") == {
        "run": {},
        "training_config": {"max_length": 2048},
    }
    with pytest.raises(InputProblemsError) as caught:
        training.parse_recipe("just: text\n", "s3://a/r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipe: s3://a/r.yaml: not a Nova recipe (no training_config section)"
    ]


def test_every_sagemaker_hyperparameter_has_a_place_in_the_recipe() -> None:
    from nova_pipeline.contract.catalog import HYPERPARAMETER_RULES, Method, Platform

    for method in (Method.SFT, Method.RFT):
        names = {rule.name for rule in HYPERPARAMETER_RULES[(Platform.SAGEMAKER, method)]}
        assert names <= set(training.RECIPE_PATHS), names - set(training.RECIPE_PATHS)
