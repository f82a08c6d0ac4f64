"""Contract: the serverless data-mixing CreateTrainingJob agrees with what the SageMaker Python SDK v3 builds.

`SFTTrainer.train()` on serverless compute needs the SageMaker AI Hub to resolve the model, so the oracle is the
SDK's own building blocks, each fed what the pipeline has: `_create_serverless_config` (ServerlessJobConfig),
`_convert_input_data_to_channels(..., "Converse")` (the Nova channels), `validate_data_mixing_categories` +
`DataMixingConfig.to_hyperparameters` (the mix, unset recipe categories 0) and `build_nova_manifest_s3_uri` (where
the job's manifest is read). The request itself is asserted whole with botocore's Stubber (the service model
validates it).
"""

from __future__ import annotations

import warnings
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.contract.execution_input import DATA_MIXING_CATEGORIES, parse_execution_input
from nova_pipeline.contract.run_state import ExecutionRef, PreparedData
from nova_pipeline.core.errors import AwsRequestFailed
from nova_pipeline.jobs import datamix, training

HUB_MODEL = "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/nova-textgeneration-lite-v2/1.0.0"
GROUP = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/nova-mixed"
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
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
)


def _run(mix: dict[str, Any]) -> Any:
    return parse_execution_input(
        {
            "dataset": {"uri": "raw/x.csv"},
            "platform": "sagemaker",
            "baseModel": "nova-2-lite",
            "runName": "mixed",
            "split": {"train": 0.9, "validation": 0, "test": 0.1},
            "dataMixing": {"baseModelArn": HUB_MODEL, "modelPackageGroupArn": GROUP, "acceptEula": True, **mix},
        },
        region="us-east-1",
    )


def _sdk() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sagemaker.core.training.utils import build_nova_manifest_s3_uri
        from sagemaker.core.utils.utils import serialize
        from sagemaker.train.common_utils import finetune_utils
        from sagemaker.train.common_utils.data_mixing_utils import validate_data_mixing_categories
        from sagemaker.train.data_mixing_config import DataMixingConfig
    return {
        "manifest": build_nova_manifest_s3_uri,
        "serialize": serialize,
        "finetune": finetune_utils,
        "categories": validate_data_mixing_categories,
        "config": DataMixingConfig,
    }


def test_the_serverless_request_is_the_one_the_sdk_builds_and_botocore_accepts() -> None:
    run = _run({"customerDataPercent": 70, "novaDataPercent": {"code": 30, "instruction-following": 70}})
    name = training.training_job_name("dev", run, EXECUTION)
    request = datamix.serverless_training_request(run, DATA, EXECUTION, RESOURCES, job_name=name)
    sdk = _sdk()
    # Nova 2 Lite takes no validation set: only the `train` channel, whatever the prepared data holds
    finetune = sdk["finetune"]

    serverless = finetune._create_serverless_config(
        model_arn=HUB_MODEL, customization_technique="SFT", training_type=finetune.TrainingType.LORA, accept_eula=True
    )
    assert request["ServerlessJobConfig"] == sdk["serialize"](serverless)
    channels = finetune._convert_input_data_to_channels(
        finetune._create_input_data_config(DATA.train.uri), s3_data_type="Converse"
    )
    assert request["InputDataConfig"] == [sdk["serialize"](channel) for channel in channels]
    recipe_defaults = dict.fromkeys(DATA_MIXING_CATEGORIES["nova-2-lite"], 100 / 23)  # what the Hub recipe lists
    mix = sdk["categories"](
        sdk["config"](customer_data_percent=70, nova_data_percentages={"code": 30, "instruction-following": 70}),
        recipe_defaults,
    )
    assert request["HyperParameters"] == mix.to_hyperparameters()
    assert request["HyperParameters"]["nova_code_percent"] == "30"
    assert request["HyperParameters"]["nova_rai_percent"] == "0"
    assert datamix.manifest_uri(request) == sdk["manifest"]("s3://artifacts/jobs/", name)

    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "create_training_job",
            {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"},
            expected_params={
                "TrainingJobName": name,
                "RoleArn": "arn:aws:iam::123456789012:role/sagemaker",
                "ServerlessJobConfig": {
                    "BaseModelArn": HUB_MODEL,
                    "AcceptEula": True,
                    "JobType": "FineTuning",
                    "CustomizationTechnique": "SFT",
                    "Peft": "LORA",
                },
                "HyperParameters": mix.to_hyperparameters(),
                "InputDataConfig": request["InputDataConfig"],
                "OutputDataConfig": {
                    "S3OutputPath": "s3://artifacts/jobs/",
                    "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
                },
                "ModelPackageConfig": {"ModelPackageGroupArn": GROUP},
                "StoppingCondition": {"MaxRuntimeInSeconds": int(run.sagemaker.max_runtime_hours * 3600)},
                "Tags": [
                    {"Key": "environment", "Value": "dev"},
                    {"Key": "execution", "Value": "exec-1"},
                    {"Key": "project", "Value": "nova-customization"},
                    {"Key": "run", "Value": "mixed"},  # the lifecycle tags (gc, environment-scoped IAM)
                ],
            },
        )
        job = training.start_training_job(client, request, wait_seconds=9)
    assert job.job_name == name


@pytest.mark.parametrize(("percent", "sent"), [(50, "50"), (62.5, "62.5"), (100, "100")])
def test_without_weights_only_the_customer_share_is_sent_as_the_sdk_writes_it(percent: float, sent: str) -> None:
    run = _run({"customerDataPercent": percent})
    assert run.data_mixing is not None

    assert datamix.mix_hyperparameters(run.data_mixing, "nova-2-lite") == {"customer_data_percent": sent}
    assert sent == _sdk()["config"](customer_data_percent=percent).to_hyperparameters()["customer_data_percent"]


def test_a_manifest_without_a_checkpoint_names_the_file() -> None:
    with pytest.raises(AwsRequestFailed, match=r"s3://a/m.json: manifest.json has no checkpoint_s3_bucket"):
        datamix.checkpoint_from_manifest(b'{"other": 1}', "s3://a/m.json")
    assert datamix.checkpoint_from_manifest(b'{"checkpoint_s3_bucket": "s3://e/c/"}', "s3://a/m.json") == "s3://e/c/"
