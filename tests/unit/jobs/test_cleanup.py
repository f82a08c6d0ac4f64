"""The failure path: what is stopped and deleted, and the cause and notification a user reads."""

from __future__ import annotations

import json

import boto3
from botocore.stub import Stubber

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.jobs.cleanup import clean_up, failure_cause, notification

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123def456"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"
EXECUTION = {"name": "exec-1", "arn": "arn:aws:states:us-east-1:123456789012:execution:sm:exec-1"}


def state(**parts: object) -> RunState:
    return RunState.model_validate({"execution": EXECUTION, **parts})


def test_a_running_job_is_stopped_and_a_deployment_deleted() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed = state(
        job={"platform": "bedrock", "jobArn": JOB_ARN, "jobName": "nova-dev-x-job", "status": "InProgress"},
        deployment={"deploymentArn": DEPLOYMENT_ARN, "deploymentName": "d", "modelArn": "arn:m"},
        error={"Error": "InjectedFailure", "Cause": json.dumps({"errorMessage": "boom", "errorType": "X"})},
    )
    with Stubber(bedrock) as stub:
        stub.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})

        report = clean_up(failed, bedrock=bedrock, sagemaker=None)

        stub.assert_no_pending_responses()
    assert report.dump() == {
        "error": "InjectedFailure",
        "cause": "boom",
        "stoppedJob": JOB_ARN,
        "deletedDeployment": DEPLOYMENT_ARN,
        "actions": ["stopped job nova-dev-x-job", "deleted deployment d"],
    }


def test_a_finished_job_is_left_alone_and_its_own_message_is_the_cause() -> None:
    failed = state(
        job={"platform": "bedrock", "jobArn": JOB_ARN, "jobName": "j", "status": "Failed", "done": True},
        error={"Error": "CustomizationJobFailed", "Cause": "Validation failed: line 12 has Assistant:"},
    )

    report = clean_up(failed, bedrock=None, sagemaker=None)

    assert (report.error, report.cause, report.actions) == (
        "CustomizationJobFailed",
        "Validation failed: line 12 has Assistant:",
        [],
    )


def test_a_job_adopted_from_an_earlier_attempt_is_not_stopped_by_this_one() -> None:
    failed = state(
        job={"platform": "bedrock", "jobArn": JOB_ARN, "jobName": "j", "startedByThisExecution": False},
        error={"Error": "X", "Cause": "y"},
    )

    assert clean_up(failed, bedrock=None, sagemaker=None).stopped_job is None


def test_notification_names_the_execution_error_cause_and_console_link() -> None:
    failed = state(error={"Error": "DeploymentFailed", "Cause": "quota exceeded"})
    report = clean_up(failed, bedrock=None, sagemaker=None)

    subject, message = notification(failed, report, environment="dev", region="us-east-1")

    assert subject == "Nova customization dev: exec-1 failed"
    assert message.splitlines() == [
        "Execution: arn:aws:states:us-east-1:123456789012:execution:sm:exec-1",
        "Error: DeploymentFailed",
        "Cause: quota exceeded",
        "Clean-up: nothing was running",
        "Console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"
        "arn:aws:states:us-east-1:123456789012:execution:sm:exec-1",
    ]


def test_missing_error_information_still_gives_a_cause() -> None:
    assert failure_cause(state()) == ("States.Unknown", "no cause reported")
