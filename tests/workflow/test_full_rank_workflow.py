"""A full-rank SageMaker run through the offline twin: trained with the full-rank recipe, imported, and either not
deployed or, when the input asks for it, served through Provisioned Throughput (evaluated, promoted or deleted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from nova_pipeline.cli import main
from nova_pipeline.contract.execution_input import FULL_RANK_NOT_DEPLOYED
from nova_pipeline.inference import api as inference_api
from nova_pipeline.jobs.naming import client_request_token, resource_name
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


PT = {"modelUnits": 2, "usdPerModelUnitHour": 20.5, "maxHourlyUsd": 50}


def provisioned_input(**extra: Any) -> dict[str, Any]:
    return {**full_rank_input(), "deployment": {"provisionedThroughput": PT}, **extra}


def test_a_full_rank_run_with_provisioned_throughput_is_evaluated_through_it_and_promoted_to_it(
    offline_twin: Any,
) -> None:
    with offline_twin() as twin:
        result = twin.run(provisioned_input())

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        [imported] = calls(twin, "bedrock", "CreateCustomModel")
        [model_arn] = [m.arn for m in twin.simulator.models.values() if m.name == imported["modelName"]]
        [request] = calls(twin, "bedrock", "CreateProvisionedModelThroughput")
        assert request == {  # no commitmentDuration: no commitment, billed hourly, deletable
            "modelUnits": 2,
            "provisionedModelName": resource_name("dev", "sql-full", result.name, "pt"),
            "modelId": model_arn,
            "tags": [
                {"key": "environment", "value": "dev"},
                {"key": "execution", "value": result.name},
                {"key": "hourlyUsd", "value": "41"},
                {"key": "project", "value": "nova-customization"},
                {"key": "run", "value": "sql-full"},
            ],
            "clientRequestToken": client_request_token(result.arn, "provisioned-throughput"),
        }
        [throughput] = twin.simulator.provisioned.values()
        assert calls(twin, "bedrock", "GetProvisionedModelThroughput")
        assert calls(twin, "bedrock", "CreateCustomModelDeployment") == []
        candidates = {c["modelId"] for c in calls(twin, "bedrock-runtime", "ConverseStream")}
        assert throughput.arn in candidates and not any(":custom-model-deployment/" in c for c in candidates)
        entered = states_entered(result)
        assert "CreateProvisionedThroughput" in entered and "FullRankImportedOnly" not in entered

        output = result.output
        assert output["verdict"] == "promoted", output["evaluation"]
        assert output["deploymentArn"] == throughput.arn
        ssm = boto3.client("ssm", region_name="us-east-1")
        value = ssm.get_parameter(Name="/nova-customization/dev/active-model", WithDecryption=True)["Parameter"]
        assert json.loads(value["Value"])["deploymentArn"] == throughput.arn
        assert not throughput.deleted  # promoted: it serves the API (and keeps billing)
        assert output["provisionedThroughput"] == {
            "arn": throughput.arn,
            "modelUnits": 2,
            "hourlyUsd": 41.0,
            "billing": "bills every hour while it serves the API (gc deletes it once superseded)",
        }

        question = {"input": "How many singers are there?", "context": "CREATE TABLE singer (id INTEGER)"}
        inference_api._provider.cache_clear()  # the API caches the record for 30 s (one container per twin in AWS)
        generated = twin.invoke_api("POST", "/v1/generate", question)
        assert generated["statusCode"] == 200, generated
        assert calls(twin, "bedrock-runtime", "Converse")[-1]["modelId"] == throughput.arn


def test_a_rejected_full_rank_candidate_has_its_provisioned_throughput_deleted(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(provisioned_input(gate={"minPrimaryMetric": 1.0}))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        [throughput] = twin.simulator.provisioned.values()
        assert calls(twin, "bedrock", "DeleteProvisionedModelThroughput") == [{"provisionedModelId": throughput.arn}]
        assert throughput.deleted
        promotion = result.output["promotion"]
        assert promotion["promoted"] is False and promotion["deletedDeployment"] is True
        assert f"deleted Provisioned Throughput {throughput.name} ($41.00 per hour)" in promotion["actions"]
        assert promotion["deletedModel"] == throughput.model_arn  # after its Provisioned Throughput
        assert result.output["provisionedThroughput"]["billing"] == "deleted"


def test_a_failed_provisioned_throughput_fails_the_run_with_its_message_and_is_deleted(offline_twin: Any) -> None:
    with offline_twin(fail_provisioned_throughput="Insufficient model units for this account") as twin:
        result = twin.run(provisioned_input())

        assert result.status == "FAILED"
        assert result.error == "ProvisionedThroughputFailed"
        assert result.cause == "Insufficient model units for this account"
        [throughput] = twin.simulator.provisioned.values()
        assert throughput.deleted
        assert calls(twin, "bedrock-runtime", "ConverseStream") == []


def test_provisioned_throughput_above_max_hourly_usd_is_refused_at_validate_input(offline_twin: Any) -> None:
    document = provisioned_input(deployment={"provisionedThroughput": {**PT, "maxHourlyUsd": 40}})
    with offline_twin() as twin:
        result = twin.run(document)

        assert result.status == "FAILED"
        assert "PlanData" not in states_entered(result)
        assert (
            "$.deployment.provisionedThroughput.maxHourlyUsd: 2 model unit(s) x $20.50 = $41.00 per hour is above "
            "maxHourlyUsd $40.00; nothing was started"
        ) in (result.cause or "")
        assert calls(twin, "sagemaker", "CreateTrainingJob") == []
        assert calls(twin, "bedrock", "CreateProvisionedModelThroughput") == []


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


def test_plan_shows_the_hourly_cost_of_the_provisioned_throughput_first(
    synthesized: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("nova_pipeline.local.twin.cached_synthesis", lambda environment: synthesized)
    (tmp_path / "input.json").write_text(json.dumps(provisioned_input()))

    code = main(["plan", "--input", str(tmp_path / "input.json")])

    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert printed[1] == (
        "Provisioned Throughput: 2 model unit(s) x $20.50 = $41.00 per hour while it exists (maxHourlyUsd $50.00); "
        "created after the import, deleted when the candidate is rejected or the run fails, kept billing when promoted"
    )
    created = next(i for i, line in enumerate(printed) if "bedrock:CreateProvisionedModelThroughput" in line)
    assert '          "modelUnits": 2,' in printed[created + 1 : created + 12]
