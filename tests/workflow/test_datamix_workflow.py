"""Nova Forge data mixing through the synthesized state machine: a serverless SageMaker training job with the mix,
imported and evaluated like any SageMaker run; the forgetting guard shows what the mix kept (SIMULATED)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.workflow.conftest import example
from tests.workflow.test_customization_workflow import calls, states_entered

HUB_MODEL = "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/nova-textgeneration-lite-v2/1.0.0"
GROUP = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/nova-mixed"
MIX = {
    "customerDataPercent": 50,
    "novaDataPercent": {"instruction-following": 60, "reasoning-math": 40},
    "baseModelArn": HUB_MODEL,
    "modelPackageGroupArn": GROUP,
    "acceptEula": True,
}


def _document(**extra: Any) -> dict[str, Any]:
    document = {key: value for key, value in example("stages-question-quality-nova-2-lite.json").items()}
    document.pop("stages")
    document["method"] = "sft"
    document["evaluation"] = {**document["evaluation"], "general": {"uri": "builtin:general-v1", "maxRows": 40}}
    return {**document, **extra}


def _report(result: Any) -> dict[str, Any]:
    bucket, _, key = result.output["evaluation"]["reportUri"].removeprefix("s3://").partition("/")
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def _read(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_a_data_mixing_run_trains_serverless_imports_and_forgets_less_than_without(offline_twin: Any) -> None:
    with offline_twin() as twin:
        mixed = twin.run(_document(dataMixing=MIX))
        plain = twin.run(_document())

        assert mixed.status == plain.status == "SUCCEEDED", (mixed.cause, plain.cause)
        serverless, serverful = calls(twin, "sagemaker", "CreateTrainingJob")
        assert "AlgorithmSpecification" not in serverless and "ResourceConfig" not in serverless
        assert serverless["ServerlessJobConfig"] == {
            "BaseModelArn": HUB_MODEL,
            "AcceptEula": True,
            "JobType": "FineTuning",
            "CustomizationTechnique": "SFT",
            "Peft": "LORA",
        }
        assert serverless["ModelPackageConfig"] == {"ModelPackageGroupArn": GROUP}
        mix = serverless["HyperParameters"]
        assert (mix["customer_data_percent"], mix["nova_instruction-following_percent"]) == ("50", "60")
        assert (mix["nova_reasoning-math_percent"], mix["nova_rai_percent"]) == ("40", "0")
        assert [c["ChannelName"] for c in serverless["InputDataConfig"]] == ["train"]
        assert "ServerlessJobConfig" not in serverful
        # The job's manifest.json (beside the output, not inside output.tar.gz) names the checkpoint ImportModel reads
        manifest_uri = f"{serverless['OutputDataConfig']['S3OutputPath']}{serverless['TrainingJobName']}"
        checkpoint = json.loads(_read(f"{manifest_uri}/output/output/manifest.json"))["checkpoint_s3_bucket"]
        first_import = calls(twin, "bedrock", "CreateCustomModel")[0]
        assert first_import["modelSourceConfig"]["s3DataSource"]["s3Uri"] == checkpoint
        assert "ImportModel" in states_entered(mixed) and "Promote" in states_entered(mixed)
        assert mixed.output["evaluation"]["verdict"] == "promoted"
        # The execution role read the Nova Forge recipe bucket (the subscription check), allowed by the stack
        assert twin.authorizer is not None
        checks = [d for d in twin.authorizer.decisions if "Nova Forge subscription" in d.call]
        assert checks and all(d.granted_by for d in checks)

        # SIMULATED forgetting guard: the mixed model learnt general questions from the Nova share and kept more
        mixed_report, plain_report = _report(mixed), _report(plain)
        assert mixed_report["dataMixing"] == {
            "customerDataPercent": 50,
            "novaDataPercent": {"instruction-following": 60, "reasoning-math": 40},
            "baseModelArn": HUB_MODEL,
        }
        assert plain_report["dataMixing"] is None
        with_mix, without = mixed_report["general"]["regression"], plain_report["general"]["regression"]
        assert without == 1.0 and 0 < with_mix < without
        html = _read(mixed.output["evaluation"]["reportHtmlUri"]).decode()
        assert "Nova Forge data mixing: 50% of each training batch from your data, 50% from Amazon-curated" in html


def test_data_mixing_on_bedrock_is_refused_before_anything_starts(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(_document(platform="bedrock", dataMixing=MIX))

        assert (result.status, result.error) == ("FAILED", "InvalidExecutionInput")
        assert "Bedrock customization jobs do not accept it. Use platform sagemaker" in (result.cause or "")
        assert states_entered(result) == ["Initialize", "ValidateInput", "Cleanup", "Failed"]
        assert twin.simulator.calls == []
