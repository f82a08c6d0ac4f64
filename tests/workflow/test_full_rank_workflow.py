"""A full-rank SageMaker run through the offline twin: trained with the full-rank recipe, imported, not deployed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from nova_pipeline.cli import main
from nova_pipeline.contract.execution_input import FULL_RANK_NOT_DEPLOYED
from tests.workflow.conftest import example
from tests.workflow.test_customization_workflow import calls, states_entered

MLFLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"


def full_rank_input() -> dict[str, Any]:
    document = example("sagemaker-lora-sft-nova-micro.json")
    document["runName"] = "sql-full"
    document["sagemaker"] = {"peftScheme": "none", "instanceType": "ml.g5.48xlarge", "maxRuntimeHours": 8}
    document["hyperparameters"] = {"epochCount": 2, "learningRate": 5e-6}
    return document


def test_a_full_rank_run_trains_with_the_full_rank_recipe_and_ends_imported_without_deployment(
    offline_twin: Any,
) -> None:
    with offline_twin() as twin:
        result = twin.run(full_rank_input())

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        [request] = calls(twin, "sagemaker", "CreateTrainingJob")
        recipe_path = request["HyperParameters"]["sagemaker_recipe_local_path"]
        assert recipe_path.endswith("/nova_micro_1_0_g5_g6_48x_gpu_sft.yaml")
        assert request["AlgorithmSpecification"]["TrainingImage"].endswith("nova-fine-tune-repo:SM-TJ-SFT-latest")
        assert "MlflowConfig" not in request  # the dev environment configures no tracking server
        s3 = boto3.client("s3", region_name="us-east-1")
        artifacts = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "artifacts" in b["Name"])
        key = f"recipes/{request['TrainingJobName']}/nova_micro_1_0_g5_g6_48x_gpu_sft.yaml"
        uploaded = yaml.safe_load(s3.get_object(Bucket=artifacts, Key=key)["Body"].read())
        assert uploaded["training_config"]["model"]["peft"] == {"peft_scheme": None}
        assert uploaded["training_config"]["model"]["optim"]["lr"] == 5e-6

        [imported] = calls(twin, "bedrock", "CreateCustomModel")
        assert imported["modelSourceConfig"]["s3DataSource"]["s3Uri"].startswith("s3://customer-escrow-")
        assert calls(twin, "bedrock", "CreateCustomModelDeployment") == []
        assert calls(twin, "bedrock-runtime", "ConverseStream") == []
        entered = states_entered(result)
        assert "FullRankImportedOnly" in entered
        assert not {"CreateDeployment", "PlanEvaluation", "Promote", "RejectCandidate"} & set(entered)

        output = result.output
        assert output["customModelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
        assert output["deploymentArn"] is None
        assert output["verdict"] == "not-deployed"
        assert output["evaluation"]["reason"] == FULL_RANK_NOT_DEPLOYED
        assert output["promotion"] is None


def test_a_lora_run_still_deploys(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example("sagemaker-lora-sft-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert "FullRankImportedOnly" not in states_entered(result)
        assert len(calls(twin, "bedrock", "CreateCustomModelDeployment")) == 1


def test_provisioned_throughput_is_refused_at_validate_input(offline_twin: Any) -> None:
    document = full_rank_input()
    document["deployment"] = {"provisionedThroughput": {"modelUnits": 1, "commitment": "none"}}
    with offline_twin() as twin:
        result = twin.run(document)

        assert result.status == "FAILED"
        assert states_entered(result)[-1] in ("Failed", "Cleanup") and "PlanData" not in states_entered(result)
        assert "$.deployment.provisionedThroughput: Provisioned Throughput is not supported by the pipeline yet" in (
            result.cause or ""
        )
        assert calls(twin, "sagemaker", "CreateTrainingJob") == []


def test_the_training_job_logs_to_the_environments_mlflow_server_when_configured(offline_twin: Any) -> None:
    with offline_twin(function_environment={"NOVA_MLFLOW_TRACKING_ARN": MLFLOW_ARN}) as twin:
        result = twin.run(full_rank_input())

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        [request] = calls(twin, "sagemaker", "CreateTrainingJob")
        assert request["MlflowConfig"] == {
            "MlflowResourceArn": MLFLOW_ARN,
            "MlflowExperimentName": "nova-dev-sql-full",
            "MlflowRunName": result.name,
        }


def test_plan_shows_a_full_rank_run_ends_imported_before_it_is_paid_for(
    synthesized: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("nova_pipeline.local.twin.cached_synthesis", lambda environment: synthesized)
    (tmp_path / "input.json").write_text(json.dumps(full_rank_input()))

    code = main(["plan", "--input", str(tmp_path / "input.json")])

    printed = capsys.readouterr().out
    assert code == 0
    assert "sagemaker:CreateTrainingJob" in printed and "bedrock:CreateCustomModel " in printed
    assert "CreateCustomModelDeployment" not in printed
    assert printed.rstrip().endswith(f"note: {FULL_RANK_NOT_DEPLOYED}")
