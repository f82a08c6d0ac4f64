"""Multi-stage runs through the synthesized state machine: each stage starts from the previous stage's model, every
stage is evaluated on the same test split, the best one is promoted and the others are deleted."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.workflow.conftest import example
from tests.workflow.test_customization_workflow import calls, states_entered

STAGES_EXAMPLE = "stages-question-quality-nova-2-lite.json"


def _read(uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode("utf-8")


def test_sagemaker_sft_then_rft_trains_the_second_job_from_the_first_checkpoint(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example(STAGES_EXAMPLE))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        first, second = calls(twin, "sagemaker", "CreateTrainingJob")
        first_import, second_import = calls(twin, "bedrock", "CreateCustomModel")
        assert first["AlgorithmSpecification"]["TrainingImage"].endswith(":SM-TJ-SFT-V2-latest")
        assert first["HyperParameters"]["base_model"] == "nova-lite-2/prod"
        assert second["AlgorithmSpecification"]["TrainingImage"].endswith(":SM-TJ-RFT-V2-latest")
        # The second job starts from the checkpoint the first one exported (and the first import read).
        checkpoint = first_import["modelSourceConfig"]["s3DataSource"]["s3Uri"]
        assert second["HyperParameters"]["base_model_location"] == checkpoint
        assert "base_model" not in second["HyperParameters"]
        assert second["TrainingJobName"] != first["TrainingJobName"]
        assert second_import["modelName"] != first_import["modelName"]
        # Each stage trains on its own file: 83% of the split as SFT, then 17% plus all of the SFT records as RFT.
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in second["InputDataConfig"]}
        assert channels["train"]["S3Uri"].endswith(f"/prepared/{result.name}/stage-2/train.jsonl")
        assert channels["train"]["S3DataType"] == "S3Prefix"
        sft_uri = first["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        assert sft_uri.endswith(f"/prepared/{result.name}/stage-1/train.jsonl")
        sft_records = _read(sft_uri).splitlines()
        rft_records = [json.loads(line) for line in _read(channels["train"]["S3Uri"]).splitlines()]
        train = result.output["data"]["train"]
        assert len(sft_records) == round(0.83 * train)
        assert len(rft_records) == train - round(0.83 * train) + len(sft_records)
        assert all(
            r["reference_answer"] in ("HQ", "LQ_EDIT", "LQ_CLOSE") and r["grader"] == "label" for r in rft_records
        )
        recipe_key = f"recipes/{second['TrainingJobName']}/nova_lite_v2_smtj_p5_p5en_gpu_lora_rft.yaml"
        s3 = boto3.client("s3", region_name="us-east-1")
        artifacts = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "artifacts" in b["Name"])
        assert f"model_name_or_path: {checkpoint}" in _read(f"s3://{artifacts}/{recipe_key}")

        # Both stages were deployed and evaluated; the loop ran the job states twice.
        entered = states_entered(result)
        assert entered.count("StartTrainingJob") == 2 and entered.count("AggregateEvaluation") == 2
        assert entered.index("UseChosenStage") < entered.index("QualityGate")
        evaluation = result.output["evaluation"]
        stage_1, stage_2 = evaluation["stages"]
        assert (stage_1["method"], stage_2["method"]) == ("sft", "rft")
        chosen = evaluation["chosen"]
        assert chosen["primary"] == max(stage_1["primary"], stage_2["primary"])
        # Promote claims the active-model version the chosen stage was compared with (none was active: 0).
        assert stage_1["activeVersion"] == stage_2["activeVersion"] == evaluation["activeVersion"] == 0
        # Only the chosen stage's deployment and model are left; the promoted record serves it.
        assert result.output["deploymentArn"] == chosen["deploymentArn"]
        assert result.output["customModelArn"] == chosen["modelArn"]
        other = stage_2 if chosen["index"] == 0 else stage_1
        deleted = {d.arn for d in twin.simulator.deployments.values() if d.deleted}
        assert other["deploymentArn"] in deleted and chosen["deploymentArn"] not in deleted
        models = twin.simulator.models
        assert models[other["modelArn"]].deleted and not models[chosen["modelArn"]].deleted
        assert [line.split(" (")[0].split(" ", 2)[1] for line in result.output["promotion"]["discardedStages"]] == [
            "deployment",
            "custom",
        ]

        # The report's progression table: baseline, stage 1, stage 2, in report.json and report.html.
        report = json.loads(_read(evaluation["reportUri"]))
        rows = report["stages"]["rows"]
        assert [row["stage"] for row in rows] == ["baseline", "stage 1", "stage 2"]
        assert set(rows[1]["perClassF1"]) == {"HQ", "LQ_CLOSE", "LQ_EDIT"}
        assert rows[1]["trainingSeconds"] is not None and rows[2]["formatErrors"] is not None
        # SageMaker bills instance-seconds; the shipped price table has no ml.p5.48xlarge price, and the row says so
        assert rows[1]["trainingCostUsd"] is None
        assert rows[1]["trainingCostBasis"] == "not priced: " + result.output["estimate"]["stages"][0]["trainingBasis"]
        assert "no hourly price for ml.p5.48xlarge" in rows[1]["trainingCostBasis"]
        # The base model's right answers are all wrapped in prose; the stages answer with the label alone.
        assert rows[0]["verboseAnswers"] == round(rows[0]["primary"], 4) and rows[1]["verboseAnswers"] == 0.0
        assert report["stages"]["chosenStage"] == chosen["index"] + 1
        page = _read(evaluation["reportHtmlUri"])
        assert "<h2>Stages</h2>" in page and "★ chosen" in page and "F1 LQ_EDIT" in page


def test_bedrock_sft_then_sft_starts_from_the_first_custom_model(offline_twin: Any) -> None:
    document = example("sft-classification-nova-micro.json")
    del document["method"], document["hyperparameters"]
    document["stages"] = [
        {"method": "sft", "hyperparameters": {"epochCount": 2}},
        {"method": "sft", "from": "previous", "hyperparameters": {"epochCount": 1, "learningRate": 5e-6}},
    ]
    document["gate"] = {}
    with offline_twin() as twin:
        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        first, second = calls(twin, "bedrock", "CreateModelCustomizationJob")
        [first_job, second_job] = result.output["evaluation"]["stages"]
        assert first["baseModelIdentifier"] == "amazon.nova-micro-v1:0:128k"
        assert second["baseModelIdentifier"] == first_job["modelArn"]
        assert second["hyperParameters"] == {
            "epochCount": "1",
            "learningRate": "5e-06",
            "learningRateWarmupSteps": "10",
        }
        assert second["customModelName"] != first["customModelName"]
        assert second["clientRequestToken"] != first["clientRequestToken"]
        # The second stage keeps the first stage's training file: same split, same format.
        assert second["trainingDataConfig"]["s3Uri"].endswith(f"/prepared/{result.name}/stage-2/train.jsonl")
        assert second_job["modelArn"] != first_job["modelArn"]
        assert first_job["trainingSeconds"] is not None  # GetModelCustomizationJob's endTime - creationTime
        # Bedrock bills training tokens x epochs: each stage's cost is CheckBudget's estimate of it
        estimates = result.output["estimate"]["stages"]
        assert [s["trainingCostUsd"] for s in (first_job, second_job)] == [e["trainingUsd"] for e in estimates]
        assert first_job["trainingCostBasis"] == "estimated before the run: " + estimates[0]["trainingBasis"]


def test_bedrock_rft_after_sft_is_refused_before_anything_starts(offline_twin: Any) -> None:
    document = example("rft-text-to-sql-nova-2-lite.json")
    del document["method"], document["hyperparameters"]
    document["stages"] = [{"method": "sft"}, {"method": "rft", "includePreviousData": 0.5}]
    with offline_twin() as twin:
        result = twin.run(document)

        assert (result.status, result.error) == ("FAILED", "InvalidExecutionInput")
        assert "$.stages[1].method: rft cannot start from the previous stage's sft model on bedrock" in (
            result.cause or ""
        )
        assert "'Submit a model customization job for fine-tuning'" in (result.cause or "")
        assert twin.simulator.calls == []


def test_a_multi_stage_data_mixing_run_is_refused_and_nothing_starts(offline_twin: Any) -> None:
    document = {
        **example(STAGES_EXAMPLE),
        "dataMixing": {"customerDataPercent": 75, "novaDataPercent": {"instruction-following": 60, "rai": 40}},
    }
    with offline_twin() as twin:
        result = twin.run(document)

        assert (result.status, result.error) == ("FAILED", "InvalidExecutionInput")
        assert "$.dataMixing: mixes into SFT only" in (result.cause or "")
        assert "$.dataMixing: runs as one serverless SFT job; remove stages" in (result.cause or "")
        assert "$.dataMixing.acceptEula: must be true" in (result.cause or "")
        assert states_entered(result) == ["Initialize", "ValidateInput", "Cleanup", "Failed"]
        assert twin.simulator.calls == []


def test_a_rejected_two_stage_run_deletes_both_stages_deployments_and_models(offline_twin: Any) -> None:
    # Given: two Bedrock stages and a gate neither can pass
    document = example("sft-classification-nova-micro.json")
    del document["method"], document["hyperparameters"]
    document["stages"] = [{"method": "sft"}, {"method": "sft", "dataShare": 0.5}]
    document["gate"] = {"maxCostPer1kRequestsUsd": 1e-9}
    with offline_twin() as twin:
        # When
        result = twin.run(document)

        # Then: RejectCandidate deleted the chosen stage's deployment and model and the other stage's too
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert states_entered(result)[-3:] == ["RejectCandidate", "Summarize", "Succeeded"]
        promotion = result.output["promotion"]
        assert promotion["promoted"] is False and promotion["reason"].startswith("quality gate: ")
        stages = result.output["evaluation"]["stages"]
        assert len(stages) == 2 and len({stage["modelArn"] for stage in stages}) == 2
        models, deployments = twin.simulator.models, twin.simulator.deployments
        for stage in stages:
            assert models[stage["modelArn"]].deleted, stage
            assert any(d.arn == stage["deploymentArn"] and d.deleted for d in deployments.values()), stage
        deleted = [call["modelIdentifier"] for call in calls(twin, "bedrock", "DeleteCustomModel")]
        assert sorted(deleted) == sorted(stage["modelArn"] for stage in stages)
        # Every stage's job, model and deployment carried the run's lifecycle tags.
        for request in calls(twin, "bedrock", "CreateModelCustomizationJob"):
            keys = {tag["key"] for tag in request["customModelTags"]}
            assert {"project", "environment", "run", "execution"} <= keys
        for request in calls(twin, "bedrock", "CreateCustomModelDeployment"):
            assert {"project", "environment", "run", "execution"} <= {tag["key"] for tag in request["tags"]}
