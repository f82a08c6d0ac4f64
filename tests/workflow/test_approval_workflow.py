"""Approval before promotion, in the offline twin: the execution waits on a task token (lambda:invoke.waitForTaskToken)
until `nova-pipeline approve` / `reject` decides, or the approval's timeout rejects it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from nova_pipeline.cli import main
from nova_pipeline.local.twin import format_trace
from nova_pipeline.promotion.record import active_model_parameter_name
from tests.workflow.conftest import example
from tests.workflow.test_customization_workflow import calls, sns_messages, states_entered

NEEDS_APPROVAL = {"approval": {"required": True}}
SSM_RECORD = active_model_parameter_name("dev")


def _waiting(twin: Any, arn: str) -> None:
    """Until RequestApproval stored the token and notified (the execution is then parked on the callback)."""
    deadline = time.monotonic() + 120
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    while not twin.approval_pending(arn) or not [m for m in sns_messages(twin) if "waits for an approval" in str(m)]:
        status = sfn.describe_execution(executionArn=arn)["status"]
        assert status == "RUNNING", status
        assert time.monotonic() < deadline, "the execution never asked for an approval"
        time.sleep(0.2)


def _active_record_exists() -> bool:
    ssm = boto3.client("ssm", region_name="us-east-1")
    return bool(ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [SSM_RECORD]}])["Parameters"])


def test_an_approved_candidate_is_promoted_after_the_decision(offline_twin: Any, capsys: Any) -> None:
    with offline_twin() as twin:
        arn = twin.start({**example("sft-classification-nova-micro.json"), **NEEDS_APPROVAL})
        _waiting(twin, arn)

        # Given a run parked on its approval: nothing is promoted yet, and the topic has the report's link
        assert not _active_record_exists()
        [message] = [str(m) for m in sns_messages(twin) if "waits for an approval" in str(m)]
        assert "/report.html" in message and f"nova-pipeline approve --execution {arn}" in message
        token = json.loads(
            boto3.client("s3", region_name="us-east-1")
            .get_object(Bucket=twin.data_bucket, Key=f"approvals/{arn.rsplit(':', 1)[-1]}.json")["Body"]
            .read()
        )
        assert token["executionArn"] == arn and token["taskToken"]

        # When the operator approves with the CLI
        code = main(["approve", "--execution", arn, "--bucket", twin.data_bucket, "--region", "us-east-1"])
        result = twin.wait(arn)

        # Then the run continues into Promote with the decision in its output
        assert code == 0, capsys.readouterr().err
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        entered = states_entered(result)
        assert entered.index("RequestApproval") < entered.index("Promote")
        assert result.output["approval"]["decision"] == "approved"
        assert result.output["approval"]["by"].startswith("arn:aws:")
        assert result.output["verdict"] == "promoted"
        assert result.output["promotion"]["promoted"] is True
        assert _active_record_exists()


def test_a_rejected_candidate_is_cleaned_up_like_a_gate_rejection_with_the_reason(offline_twin: Any) -> None:
    with offline_twin() as twin:
        arn = twin.start({**example("sft-classification-nova-micro.json"), **NEEDS_APPROVAL})
        _waiting(twin, arn)

        code = main(
            ["reject", "--execution", arn, "--bucket", twin.data_bucket, "--region", "us-east-1", "--reason", "slow"]
        )
        result = twin.wait(arn)

        assert code == 0
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert "Promote" not in states_entered(result)
        assert result.output["approval"] == {"decision": "rejected", "by": None, "at": None, "reason": "slow"}
        assert "approval: rejected (slow): not promoted" in format_trace(result).splitlines()
        assert result.output["verdict"] == "rejected"
        promotion = result.output["promotion"]
        assert (promotion["promoted"], promotion["reason"]) == (False, "approval rejected: slow")
        assert promotion["deletedDeployment"] is True
        assert promotion["deletedModel"] == result.output["customModelArn"]
        [deleted] = calls(twin, "bedrock", "DeleteCustomModelDeployment")
        assert deleted["customModelDeploymentIdentifier"] == result.output["deploymentArn"]
        assert not _active_record_exists()


def test_an_approval_nobody_gives_times_out_and_rejects(offline_twin: Any, capsys: Any) -> None:
    with offline_twin() as twin:
        document = {
            **example("sft-classification-nova-micro.json"),
            "approval": {"required": True, "timeoutSeconds": 2},
        }
        arn = twin.start(document)
        result = twin.wait(arn)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output["approval"]["decision"] == "timed-out"
        assert result.output["approval"]["reason"] == "no decision within 2 seconds"
        assert result.output["verdict"] == "rejected"
        assert result.output["promotion"]["deletedDeployment"] is True
        assert result.output["promotion"]["reason"] == "approval timed-out: no decision within 2 seconds"
        # A late decision is refused with a clear message (exit code 2), not a traceback
        code = main(["approve", "--execution", arn, "--bucket", twin.data_bucket, "--region", "us-east-1"])
        assert code == 2
        assert "not waiting for an approval" in capsys.readouterr().err


def test_runs_that_need_no_approval_never_wait(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert result.status == "SUCCEEDED"
        assert "RequestApproval" not in states_entered(result)
        assert "ApprovalRequired" in states_entered(result)
        assert result.output["approval"] is None


@pytest.mark.parametrize("arguments", [["--execution", "not-an-arn", "--bucket", "b"], ["--execution", "x"]])
def test_approve_refuses_bad_arguments_with_exit_code_2(arguments: list[str], capsys: Any) -> None:
    assert main(["approve", *arguments, "--region", "us-east-1"]) == 2
    assert "error:" in capsys.readouterr().err


def test_a_run_over_its_training_budget_stops_before_any_paid_job(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run({**example("sft-text-to-sql-nova-micro.json"), "budget": {"maxTrainingUsd": 0.05}})
        sagemaker = twin.run({**example("sagemaker-lora-sft-nova-micro.json"), "budget": {"maxTrainingUsd": 100}})

        assert result.status == "FAILED"
        assert result.error == "TrainingBudgetExceeded"
        assert result.cause.startswith("estimated training cost $0.27 (320 train records x ")
        assert "above budget.maxTrainingUsd $0.05; no job was started" in result.cause
        assert sagemaker.error == "TrainingBudgetExceeded"
        assert "at most 1 x ml.g5.48xlarge x 8 h (maxRuntimeHours) x $16.25/h" in sagemaker.cause
        # Nothing that costs money was requested: no job, no training job, no deployment
        assert calls(twin, "bedrock", "CreateModelCustomizationJob") == []
        assert calls(twin, "sagemaker", "CreateTrainingJob") == []
        assert calls(twin, "bedrock", "CreateCustomModelDeployment") == []
        assert states_entered(result)[-2:] == ["Cleanup", "Failed"]
        assert "CheckBudget" in states_entered(result) and "StartBedrockJob" not in states_entered(result)


def test_the_estimate_is_in_the_output_of_a_run_within_budget(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run({**example("sft-text-to-sql-nova-micro.json"), "budget": {"maxTrainingUsd": 1}})

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        estimate = result.output["estimate"]
        assert estimate["trainingUsd"] == 0.27 and estimate["withinBudget"] is True
        assert estimate["maxTrainingUsd"] == 1
        # and in the report, next to the measured figures
        bucket, key = result.output["evaluation"]["reportUri"].removeprefix("s3://").split("/", 1)
        report = json.loads(
            boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        assert report["run"]["estimatedTrainingUsd"] == 0.27
        assert report["estimate"]["trainingUsd"] == 0.27 and report["estimate"]["maxTrainingUsd"] == 1
        html_key = result.output["evaluation"]["reportHtmlUri"].removeprefix("s3://").split("/", 1)[1]
        page = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=html_key)["Body"].read()
        estimated = page.find(b"Cost estimated before the run")
        assert -1 < estimated < page.find(b"Cost measured in this evaluation")  # shown before the measured cost


def _two_stages() -> dict[str, Any]:
    document = example("sft-classification-nova-micro.json")
    del document["method"], document["hyperparameters"]
    document["stages"] = [
        {"method": "sft", "hyperparameters": {"epochCount": 2}},
        {"method": "sft", "from": "previous", "hyperparameters": {"epochCount": 1}},
    ]
    document["gate"] = {}
    return document


def test_a_multi_stage_run_budgets_every_stage_before_the_first_job(offline_twin: Any) -> None:
    with offline_twin() as twin:
        # Stage 1 alone ($0.04: 321 records x 65 tokens x 2 epochs) fits $0.05; with stage 2 ($0.02) it does not
        result = twin.run({**_two_stages(), "budget": {"maxTrainingUsd": 0.05}})

        assert result.error == "TrainingBudgetExceeded"
        assert result.cause.startswith("estimated training cost $0.06 (stage 1 (sft) $0.04 + stage 2 (sft) $0.02)")
        assert calls(twin, "bedrock", "CreateModelCustomizationJob") == []


def test_a_multi_stage_run_asks_once_to_promote_the_chosen_stage(offline_twin: Any) -> None:
    with offline_twin() as twin:
        arn = twin.start({**_two_stages(), **NEEDS_APPROVAL, "budget": {"maxTrainingUsd": 0.1}})
        _waiting(twin, arn)
        twin.decide(arn, approve=True)
        result = twin.wait(arn)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        entered = states_entered(result)
        # One budget check before the first job, for both stages; one approval after the last stage's evaluation
        assert entered.count("CheckBudget") == 1 and entered.count("StartBedrockJob") == 2
        assert entered.index("CheckBudget") < entered.index("StartBedrockJob")
        assert entered.count("RequestApproval") == 1
        assert entered.index("RequestApproval") > max(i for i, s in enumerate(entered) if s == "AggregateEvaluation")
        assert [stage["trainingUsd"] for stage in result.output["estimate"]["stages"]] == [0.04, 0.02]
        assert result.output["estimate"]["trainingUsd"] == 0.06
        chosen = result.output["evaluation"]["chosen"]
        assert result.output["approval"]["decision"] == "approved"
        assert result.output["promotion"]["promoted"] is True
        assert result.output["deploymentArn"] == chosen["deploymentArn"]
