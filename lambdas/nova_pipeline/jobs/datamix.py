"""Nova Forge data mixing as a SageMaker serverless training job: the CreateTrainingJob request and its manifest.

"Data mixing on SageMaker Training Jobs (serverless)" (Amazon Nova 2 user guide, nova-forge-sft-datamix-smtj):
Nova 2 Lite text SFT; a base model ARN from the SageMaker AI Hub, a model package group ARN in the account, training
data in Converse format; the mix as hyperparameters `customer_data_percent` and `nova_<category>_percent`, all values
strings. The request is shaped like the SageMaker Python SDK v3's `SFTTrainer.train()` on serverless compute:
`ServerlessJobConfig` (JobType FineTuning, CustomizationTechnique SFT, Peft LORA, AcceptEula), `Converse` channels
`train` / `validation`, `ModelPackageConfig`, no AlgorithmSpecification or ResourceConfig (the service picks them).
The job writes `<output>/<job>/output/output/manifest.json` naming the checkpoint (`checkpoint_s3_bucket`), which
Bedrock imports as it imports a serverful job's checkpoint (SDK `build_nova_manifest_s3_uri`,
`BedrockModelBuilder`: CreateCustomModel from the manifest's checkpoint for Nova models).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.contract.execution_input import DATA_MIXING_CATEGORIES, DataMixingInput, ExecutionInput
from nova_pipeline.contract.run_state import ExecutionRef, PreparedData
from nova_pipeline.core import layout
from nova_pipeline.core.errors import AwsRequestFailed
from nova_pipeline.jobs.naming import pipeline_tags

if TYPE_CHECKING:
    from nova_pipeline.jobs.training import TrainingResources

MANIFEST_SUFFIX = "output/output/manifest.json"


def _number(value: float) -> str:
    """As the SDK's `DataMixingConfig.to_hyperparameters` writes a percent: `70`, not `70.0`; `12.5` stays."""
    return str(int(value)) if value == int(value) else str(value)


def mix_hyperparameters(mix: DataMixingInput, model: str) -> dict[str, str]:
    """`customer_data_percent` and `nova_<category>_percent` (strings). With weights given, every other category of
    the model is sent as 0, as the SDK does after reading the model's data-mixing recipe; without, only the customer
    share (the recipe's default weights apply)."""
    params = {"customer_data_percent": _number(mix.customer_data_percent)}
    if mix.nova_data_percent:
        weights = dict.fromkeys(sorted(DATA_MIXING_CATEGORIES.get(model, ())), 0.0) | mix.nova_data_percent
        params |= {f"nova_{category}_percent": _number(percent) for category, percent in weights.items()}
    return params


def serverless_training_request(
    run: ExecutionInput, data: PreparedData, execution: ExecutionRef, resources_: TrainingResources, *, job_name: str
) -> dict[str, Any]:
    """CreateTrainingJob for a serverless Nova 2 Lite SFT with the run's data mix."""
    mix = run.data_mixing
    assert mix is not None and mix.base_model_arn and mix.model_package_group_arn, "validated by ValidateInput"
    channels = [("train", data.train.uri)]
    if data.validation is not None and data.validation.records > 0 and MODELS[run.base_model or ""].validation_allowed:
        channels.append(("validation", data.validation.uri))
    output: dict[str, Any] = {"S3OutputPath": f"s3://{resources_.artifacts_bucket}/{layout.JOBS}"}
    if resources_.kms_key_arn:
        output["KmsKeyId"] = resources_.kms_key_arn
    tags = pipeline_tags(resources_.environment, run.run_name, execution.name, run.tags)
    return {
        "TrainingJobName": job_name,
        "RoleArn": resources_.role_arn,
        "ServerlessJobConfig": {
            "BaseModelArn": mix.base_model_arn,
            "AcceptEula": mix.accept_eula,
            "JobType": "FineTuning",
            "CustomizationTechnique": "SFT",
            "Peft": "LORA",  # the LoRA adapter Bedrock serves on demand
        },
        "HyperParameters": mix_hyperparameters(mix, run.base_model or ""),
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "Converse",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for name, uri in channels
        ],
        "OutputDataConfig": output,
        "ModelPackageConfig": {"ModelPackageGroupArn": mix.model_package_group_arn},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(run.sagemaker.max_runtime_hours * 3600)},
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
    }


def manifest_uri(request: dict[str, Any]) -> str:
    """Where the serverless job writes its manifest.json (SDK `build_nova_manifest_s3_uri`)."""
    return f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{request['TrainingJobName']}/{MANIFEST_SUFFIX}"


def checkpoint_from_manifest(document: bytes, source: str) -> str:
    """`checkpoint_s3_bucket` of a serverless job's manifest.json."""
    try:
        manifest = json.loads(document)
    except json.JSONDecodeError as error:
        raise AwsRequestFailed(f"{source}: unreadable manifest ({error})") from None
    checkpoint = manifest.get("checkpoint_s3_bucket") if isinstance(manifest, dict) else None
    if not isinstance(checkpoint, str) or not checkpoint.startswith("s3://"):
        raise AwsRequestFailed(f"{source}: manifest.json has no checkpoint_s3_bucket s3:// URI")
    return checkpoint
