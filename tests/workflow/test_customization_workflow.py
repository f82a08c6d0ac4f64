"""The synthesized state machine, run offline: every example, every failure path, throttling and re-drives."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.workflow.conftest import ROOT, example

EXAMPLES = {
    "sft-text-to-sql-nova-micro.json": ("bedrock", "FINE_TUNING"),
    "sft-classification-nova-micro.json": ("bedrock", "FINE_TUNING"),
    "rft-text-to-sql-nova-2-lite.json": ("bedrock", "REINFORCEMENT_FINE_TUNING"),
    "distillation-nova-pro-to-micro.json": ("bedrock", "DISTILLATION"),
    "sagemaker-lora-sft-nova-micro.json": ("sagemaker", None),
}


def calls(twin: Any, service: str, operation: str) -> list[dict[str, Any]]:
    return [params for s, o, params in twin.simulator.calls if (s, o) == (service, operation)]


def states_entered(result: Any) -> list[str]:
    return [entry.state for entry in result.trace]


def sns_messages(twin: Any) -> list[str]:
    from moto.backends import get_backend

    backend = get_backend("sns")["123456789012"]["us-east-1"]
    return [message for topic in backend.topics.values() for message in getattr(topic, "sent_notifications", [])]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_succeeds_with_the_expected_requests(offline_twin: Any, name: str) -> None:
    platform, customization_type = EXAMPLES[name]
    with offline_twin() as twin:
        result = twin.run(example(name))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        output = result.output
        assert output["deploymentArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/")
        assert output["data"]["train"] > 0
        if platform == "bedrock":
            [request] = calls(twin, "bedrock", "CreateModelCustomizationJob")
            assert request["customizationType"] == customization_type
            assert request["trainingDataConfig"]["s3Uri"].endswith(f"/prepared/{result.name}/train.jsonl")
            assert request["roleArn"].startswith("arn:aws:iam::123456789012:role/")
            assert len(request["clientRequestToken"]) == 64
            assert output["job"]["status"] == "Completed"
        else:
            [request] = calls(twin, "sagemaker", "CreateTrainingJob")
            assert request["AlgorithmSpecification"]["TrainingImage"].endswith("nova-fine-tune-repo:SM-TJ-SFT-latest")
            assert {c["ChannelName"] for c in request["InputDataConfig"]} == {"train", "validation", "recipe"}
            [imported] = calls(twin, "bedrock", "CreateCustomModel")
            assert imported["modelSourceConfig"]["s3DataSource"]["s3Uri"].startswith("s3://customer-escrow-")
            assert "ImportModel" in states_entered(result)
        [deployment] = calls(twin, "bedrock", "CreateCustomModelDeployment")
        assert deployment["modelArn"] == output["customModelArn"]
        if name == "sft-text-to-sql-nova-micro.json":  # `make demo`: graded on test-suite databases, it must learn
            assert output["evaluation"]["verdict"] == "promoted", output["evaluation"]


def test_the_rft_grader_is_checked_before_the_job_starts(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example("rft-text-to-sql-nova-2-lite.json"))

        entered = states_entered(result)
        assert entered.index("PreflightGrader") < entered.index("StartBedrockJob")
        grader_calls = [event for name, event in twin.dispatcher.invocations if "RftGrader" in name]
        assert grader_calls and all(isinstance(batch, list) for batch in grader_calls)


def test_invalid_input_fails_at_validate_input_with_the_field_errors(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run({"dataset": {"uri": "raw/x.csv", "format": "xlsx"}, "hyperparameters": {"epochCount": 9}})

        assert result.status == "FAILED"
        assert result.error == "InvalidExecutionInput"
        assert result.cause == (
            "execution input has 2 problem(s):\n"
            "  - $.dataset.format: Input should be 'auto', 'csv', 'json' or 'jsonl' (got 'xlsx')\n"
            "  - $.hyperparameters.epochCount: 9 is out of range; allowed: int from 1 to 5"
        )
        assert states_entered(result) == ["Initialize", "ValidateInput", "Cleanup", "Failed"]
        assert twin.simulator.calls == []


def test_a_gate_looser_than_the_environments_fails_at_validate_input(offline_twin: Any) -> None:
    # Given dev's gate (maxErrorRate 0.05), when an input raises the maximum, then nothing is started
    with offline_twin() as twin:
        result = twin.run({**example("sft-classification-nova-micro.json"), "gate": {"maxErrorRate": 1}})

        assert (result.status, result.error) == ("FAILED", "InvalidExecutionInput")
        assert "$.gate.maxErrorRate: 1 is looser than this environment's 0.05" in (result.cause or "")
        assert twin.simulator.calls == []


def test_a_failed_job_fails_the_execution_with_its_message_and_notifies(offline_twin: Any) -> None:
    message = "Training data validation failed: line 12: reserved string 'Assistant:'"
    with offline_twin(fail_job=message) as twin:
        result = twin.run(example("sft-text-to-sql-nova-micro.json"))

        assert (result.status, result.error, result.cause) == ("FAILED", "CustomizationJobFailed", message)
        assert calls(twin, "bedrock", "CreateCustomModelDeployment") == []
        assert calls(twin, "bedrock", "StopModelCustomizationJob") == []  # it had already ended: nothing to stop
        [notification] = sns_messages(twin)
        assert f"Cause: {message}" in json.dumps(notification)


def test_a_failed_deployment_is_deleted_by_the_cleanup(offline_twin: Any) -> None:
    with offline_twin(fail_deployment="Insufficient capacity for on-demand deployment") as twin:
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert (result.status, result.error) == ("FAILED", "DeploymentFailed")
        assert result.cause == "Insufficient capacity for on-demand deployment"
        [created] = calls(twin, "bedrock", "CreateCustomModelDeployment")
        [deleted] = calls(twin, "bedrock", "DeleteCustomModelDeployment")
        assert all(d.deleted for d in twin.simulator.deployments.values())
        assert deleted["customModelDeploymentIdentifier"].startswith("arn:aws:bedrock:")
        assert created["modelDeploymentName"].startswith("nova-dev-tickets-micro-deployment-")


def test_a_failure_while_the_job_runs_stops_the_job(offline_twin: Any) -> None:
    with offline_twin(fail_at="PollBedrockJob", job_seconds=30) as twin:
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert (result.status, result.error) == ("FAILED", "InjectedFailure")
        [stopped] = calls(twin, "bedrock", "StopModelCustomizationJob")
        [job] = twin.simulator.jobs.values()
        assert stopped["jobIdentifier"] == job.arn and job.status == "Stopped"


ACCEPTED_THEN = {
    # A 503 after acceptance: the state retries, finds the job by its name and records it.
    "answered 503": "ServiceUnavailableException",
    # The function dies (timeout, crash) after acceptance: the Task fails, nothing is recorded at $.job.
    "function died": "RequestTimeout",
}


@pytest.mark.parametrize("how", sorted(ACCEPTED_THEN))
def test_a_bedrock_job_accepted_before_its_start_failed_is_stopped_when_the_run_fails(
    offline_twin: Any, how: str
) -> None:
    # Given: CreateModelCustomizationJob is accepted and then the call fails; later the run fails
    failing = "CreateModelCustomizationJob:" + ACCEPTED_THEN[how]
    with offline_twin(fail_at="PollBedrockJob", job_seconds=30, accept_then_fail=failing) as twin:
        # When
        result = twin.run(example("sft-classification-nova-micro.json"))

        # Then: the paid job does not keep running
        assert result.status == "FAILED"
        [job] = twin.simulator.jobs.values()
        [stopped] = calls(twin, "bedrock", "StopModelCustomizationJob")
        assert stopped["jobIdentifier"] == job.arn and job.status == "Stopped"


@pytest.mark.parametrize("how", sorted(ACCEPTED_THEN))
def test_a_training_job_accepted_before_its_start_failed_is_stopped_when_the_run_fails(
    offline_twin: Any, how: str
) -> None:
    failing = "CreateTrainingJob:" + ACCEPTED_THEN[how].replace("Exception", "")
    with offline_twin(fail_at="PollTrainingJob", job_seconds=30, accept_then_fail=failing) as twin:
        result = twin.run(example("sagemaker-lora-sft-nova-micro.json"))

        assert result.status == "FAILED"
        [job] = twin.simulator.training_jobs.values()
        [stopped] = calls(twin, "sagemaker", "StopTrainingJob")
        assert stopped["TrainingJobName"] == job.name and job.status == "Stopped"


def test_fail_at_fails_the_function_that_its_task_state_invokes(offline_twin: Any) -> None:
    with offline_twin(fail_at="PrepareShard") as twin:
        functions = {id(function): function for function in twin.dispatcher.functions.values()}.values()
        [failing] = [function for function in functions if function.fail_with]

        assert (failing.handler_dir.name, failing.handler) == ("prepare_shard", "lambda_handler")
        shard_task = twin.definition["States"]["PrepareShards"]["ItemProcessor"]["States"]["PrepareShard"]
        assert shard_task["Resource"] == failing.arn


def test_fail_at_a_state_that_is_not_a_task_is_refused(offline_twin: Any) -> None:
    with pytest.raises(ValueError, match="no Task state"), offline_twin(fail_at="WaitForBedrockJob"):
        pass


def test_throttling_on_every_first_call_is_retried_to_success(offline_twin: Any) -> None:
    with offline_twin(throttle_first_calls=True) as twin:
        result = twin.run(example("sft-text-to-sql-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        retried = {entry.state: entry.retries for entry in result.trace if entry.error == "ThrottledError"}
        # StartBedrockJob meets two first calls (the look-up by name, then the create); each is retried.
        assert retried == {"StartBedrockJob": 2, "CreateDeployment": 1, "PollDeployment": 1}
        assert len(twin.simulator.jobs) == 1 and len(twin.simulator.deployments) == 1


def test_a_re_driven_execution_does_not_start_a_second_job(offline_twin: Any) -> None:
    document = example("sft-text-to-sql-nova-micro.json")
    document["cleanup"] = {"keepRejectedModel": True}  # a run meant to be re-driven keeps its trained model
    with offline_twin(fail_at="CreateDeployment") as twin:
        first = twin.run(document, name="redrive-me")
        assert (first.status, first.error) == ("FAILED", "InjectedFailure")

        # Step Functions re-drives the same execution (same name and ARN); emulate it on a fresh state machine
        # copy with the same definition and execution name, the failure removed.
        for function in twin.dispatcher.functions.values():
            function.fail_with = None
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        described = sfn.describe_state_machine(stateMachineArn=twin.state_machine_arn)
        twin.state_machine_arn = sfn.create_state_machine(
            name=described["name"] + "-redrive", definition=described["definition"], roleArn=described["roleArn"]
        )["stateMachineArn"]
        second = twin.run(document, name="redrive-me")

        assert second.status == "SUCCEEDED", (second.error, second.cause)
        assert len(twin.simulator.jobs) == 1
        assert len(calls(twin, "bedrock", "CreateModelCustomizationJob")) == 1
        assert second.output["job"]["arn"] == next(iter(twin.simulator.jobs))


def test_a_dataset_split_in_many_files_fans_out_with_the_distributed_map(offline_twin: Any) -> None:
    lines = (ROOT / "examples/data/support-tickets/tickets.jsonl").read_text().splitlines(keepends=True)
    document = example("sft-classification-nova-micro.json")
    document["dataset"]["uri"] = "raw/tickets-parts/"
    with offline_twin(function_environment={"NOVA_FANOUT_OBJECTS": "2"}) as twin:
        s3 = boto3.client("s3", region_name="us-east-1")
        for part in range(4):
            body = "".join(lines[part::4]).encode()
            s3.put_object(Bucket=twin.data_bucket, Key=f"raw/tickets-parts/part-{part}.jsonl", Body=body)

        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        entered = states_entered(result)
        assert "PrepareShards" in entered and "MergeShards" in entered and "PrepareData" not in entered
        shard_calls = [name for name, _ in twin.dispatcher.invocations if "PrepareShard" in name]
        assert len(shard_calls) == 4
        assert result.output["data"]["train"] + result.output["data"]["validation"] + result.output["data"][
            "test"
        ] == len(lines)


def test_a_recipe_from_s3_is_merged_and_uploaded_as_the_recipe_channel(offline_twin: Any) -> None:
    document = example("sagemaker-lora-sft-nova-micro.json")
    with offline_twin() as twin:
        s3 = boto3.client("s3", region_name="us-east-1")
        artifacts = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "artifacts" in b["Name"])
        recipe = (ROOT / "lambdas/nova_pipeline/jobs/recipes/nova_micro_1_0_g5_g6_48x_gpu_lora_sft.yaml").read_text()
        s3.put_object(
            Bucket=artifacts,
            Key="recipes/custom/team-recipe.yaml",
            Body=recipe.replace("max_epochs: 2", "max_epochs: 4").encode(),
        )
        document["sagemaker"]["recipe"] = f"s3://{artifacts}/recipes/custom/team-recipe.yaml"
        document["hyperparameters"] = {"learningRate": 2e-5}

        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        [request] = calls(twin, "sagemaker", "CreateTrainingJob")
        assert request["HyperParameters"]["sagemaker_recipe_local_path"].endswith("/team-recipe.yaml")
        uploaded = s3.get_object(Bucket=artifacts, Key=f"recipes/{request['TrainingJobName']}/team-recipe.yaml")
        text = uploaded["Body"].read().decode()
        assert "max_epochs: 4" in text and "lr: 2.0e-05" in text
