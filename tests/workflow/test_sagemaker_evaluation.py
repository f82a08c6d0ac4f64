"""SageMaker's Nova evaluation recipes through the offline twin: one evaluation job per requested task on the trained
checkpoint, started after training, waited for after the import, its metrics in the report (not gated)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import yaml

from tests.workflow.conftest import example
from tests.workflow.test_customization_workflow import calls, states_entered


def _report(result: Any) -> dict[str, Any]:
    bucket, _, key = result.output["evaluation"]["reportUri"].removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", region_name="us-east-1")
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    html = s3.get_object(Bucket=bucket, Key=key.replace("report.json", "report.html"))["Body"].read().decode()
    document["_html"] = html
    return document


def test_mmlu_and_gen_qa_run_on_the_checkpoint_and_are_reported(offline_twin: Any) -> None:
    document = example("sagemaker-lora-sft-nova-micro.json")
    document["sagemaker"]["evaluationRecipes"] = [
        {"task": "mmlu"},
        {"task": "gen_qa", "dataset": "raw/eval/qa.jsonl"},
        {"task": "bbh"},
    ]
    with offline_twin() as twin:
        s3 = boto3.client("s3", region_name="us-east-1")
        data = twin.data_bucket
        qa = [{"query": "What is 2 + 2?", "response": "4"}, {"query": "Capital of France?", "response": "Paris"}]
        s3.put_object(Bucket=data, Key="raw/eval/qa.jsonl", Body="\n".join(json.dumps(r) for r in qa).encode())

        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        entered = states_entered(result)
        # started once training ended, waited for after the import and before the deployment
        assert (
            entered.index("PollTrainingJob") < entered.index("StartSageMakerEvaluation") < entered.index("ImportModel")
        )
        assert entered.index("PollImportedModel") < entered.index("PollSageMakerEvaluation")
        assert entered.index("PollSageMakerEvaluation") < entered.index("CreateDeployment")
        training, *evaluations = calls(twin, "sagemaker", "CreateTrainingJob")
        assert [r["TrainingJobName"].split("-eval-")[1].rsplit("-", 1)[0] for r in evaluations] == [
            "mmlu",
            "gen-qa",
            "bbh",
        ]
        [imported] = calls(twin, "bedrock", "CreateCustomModel")
        checkpoint = imported["modelSourceConfig"]["s3DataSource"]["s3Uri"]
        mmlu, gen_qa, _ = evaluations
        assert mmlu["AlgorithmSpecification"] == {
            "TrainingImage": "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-V2-latest",
            "TrainingInputMode": "File",
        }
        recipe_file = "nova_micro_1_0_p5_48xl_gpu_general_text_benchmark_eval.yaml"
        assert mmlu["HyperParameters"] == {
            "sagemaker_recipe_local_path": f"/opt/ml/input/data/recipe/{recipe_file}",
            "base_model_location": checkpoint,
        }
        assert [c["ChannelName"] for c in mmlu["InputDataConfig"]] == ["recipe"]
        assert mmlu["ResourceConfig"]["InstanceCount"] == 1
        assert mmlu["OutputDataConfig"]["S3OutputPath"] == training["OutputDataConfig"]["S3OutputPath"]
        train_channel = gen_qa["InputDataConfig"][0]
        assert train_channel["ChannelName"] == "train"
        assert train_channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{data}/raw/eval/qa.jsonl"
        # the recipe uploaded for the job points at the checkpoint
        bucket, _, prefix = mmlu["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"][5:].partition("/")
        recipe_key = prefix + recipe_file
        recipe = yaml.safe_load(s3.get_object(Bucket=bucket, Key=recipe_key)["Body"].read())
        assert recipe["run"]["model_name_or_path"] == checkpoint
        assert recipe["evaluation"] == {"task": "mmlu", "strategy": "zs_cot", "metric": "accuracy", "subtask": ""}

        section = _report(result)["sagemakerEvaluation"]
        assert section["modelPath"] == checkpoint and section["gated"] is False
        by_task = {job["task"]: job for job in section["jobs"]}
        # SIMULATED: the customized model forgot the general set (the forgetting guard's finding, here via mmlu)
        assert by_task["mmlu"]["status"] == "Completed", by_task["mmlu"]["failureMessage"]
        assert by_task["mmlu"]["simulated"] is True
        # (the simulated base model scores 1.0 on the same set: see tests/workflow/test_forgetting_guard.py)
        assert by_task["mmlu"]["metrics"] == {"accuracy": 0.0, "accuracy_stderr": 0.0}
        assert set(by_task["gen_qa"]["metrics"]) == {"em", "f1_score"}
        # a task the simulator cannot score fails its own job; reported, the run still succeeds (not gated)
        assert by_task["bbh"]["status"] == "Failed"
        assert "mmlu and gen_qa evaluation recipes only" in by_task["bbh"]["failureMessage"]
        assert "SageMaker evaluation recipes (not gated)" in _report(result)["_html"]
        assert result.output["sagemakerEvaluation"]["jobs"] == section["jobs"]  # the execution's output too


def test_without_evaluation_recipes_no_state_of_the_step_runs(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example("sagemaker-lora-sft-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert not [s for s in states_entered(result) if "SageMakerEvaluation" in s and s.endswith("Evaluation")]
        assert len(calls(twin, "sagemaker", "CreateTrainingJob")) == 1
        assert "sagemakerEvaluation" not in result.output


def test_evaluation_recipes_on_bedrock_are_refused_at_validate_input(offline_twin: Any) -> None:
    document = example("sft-classification-nova-micro.json")
    document["sagemaker"] = {"evaluationRecipes": [{"task": "mmlu"}]}
    with offline_twin() as twin:
        result = twin.run(document)

        assert (result.status, result.error) == ("FAILED", "InvalidExecutionInput")
        assert (
            "$.sagemaker.evaluationRecipes: Nova evaluation recipes run on a SageMaker training job's checkpoint"
            in (result.cause)
        )
        assert not calls(twin, "sagemaker", "CreateTrainingJob")


def test_a_run_failing_after_the_evaluation_jobs_started_stops_them(offline_twin: Any) -> None:
    document = example("sagemaker-lora-sft-nova-micro.json")
    document["sagemaker"]["evaluationRecipes"] = [{"task": "mmlu"}, {"task": "ifeval"}]
    with offline_twin(fail_at="ImportModel") as twin:
        result = twin.run(document)

        assert result.status == "FAILED"
        _, *evaluations = calls(twin, "sagemaker", "CreateTrainingJob")
        stopped = [p["TrainingJobName"] for p in calls(twin, "sagemaker", "StopTrainingJob")]
        assert stopped == [r["TrainingJobName"] for r in evaluations] and len(stopped) == 2
