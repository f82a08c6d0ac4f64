"""The failure path: what is stopped and deleted, and the cause and notification a user reads."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.jobs.cleanup import clean_up, failure_cause, notification
from nova_pipeline.jobs.naming import resource_name

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
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": "arn:m"})

        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        stub.assert_no_pending_responses()
    assert report.dump() == {
        "error": "InjectedFailure",
        "cause": "boom",
        "stoppedJob": JOB_ARN,
        "deletedDeployment": DEPLOYMENT_ARN,
        "deletedModel": "arn:m",
        "deletedModels": ["arn:m"],
        "actions": ["stopped job nova-dev-x-job", "deleted deployment d", "deleted custom model arn:m"],
    }


MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
DONE_JOB = {
    "platform": "bedrock",
    "jobArn": JOB_ARN,
    "jobName": "j",
    "status": "Completed",
    "done": True,
    "succeeded": True,
    "outputModelArn": MODEL_ARN,
}


def test_a_failed_run_deletes_its_deployment_then_its_custom_model() -> None:
    # Given: the job made a model, the run failed after deploying it
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed = state(
        input=RUN,
        job=DONE_JOB,
        deployment={"deploymentArn": DEPLOYMENT_ARN, "deploymentName": "d", "modelArn": MODEL_ARN},
        error={"Error": "EvaluationIncomplete", "Cause": "x"},
    )
    with Stubber(bedrock) as stub:
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})

        # When
        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        # Then: both, in that order (the model's storage costs $1.95 a month)
        stub.assert_no_pending_responses()
    assert (report.deleted_deployment, report.deleted_model) == (DEPLOYMENT_ARN, MODEL_ARN)
    assert report.actions == ["deleted deployment d", f"deleted custom model {MODEL_ARN}"]


def test_a_failed_run_keeps_its_model_when_the_input_says_so() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed = state(input={**RUN, "cleanup": {"keepRejectedModel": True}}, job=DONE_JOB, error={"Error": "X"})
    with Stubber(bedrock):  # no request at all: Stubber refuses any
        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

    assert report.deleted_model is None
    assert report.actions == [f"kept custom model {MODEL_ARN} (cleanup.keepRejectedModel)"]


def test_a_model_bedrock_refuses_to_delete_now_is_left_for_gc() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed = state(input=RUN, job=DONE_JOB, error={"Error": "X"})
    with Stubber(bedrock) as stub:
        stub.add_client_error("delete_custom_model", "ConflictException", "deployment still being deleted")
        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

    assert report.actions == [f"could not delete custom model {MODEL_ARN} (ConflictException): gc deletes it later"]


def test_a_promoted_run_keeps_its_deployment_and_model() -> None:
    failed = state(input=RUN, job=DONE_JOB, promotion={"promoted": True}, error={"Error": "X"})

    report = clean_up(failed, bedrock=None, sagemaker=None, environment="dev")

    assert report.actions == ["kept the deployment and its custom model: they were already promoted"]


def test_a_finished_job_is_left_alone_and_its_own_message_is_the_cause() -> None:
    failed = state(
        job={"platform": "bedrock", "jobArn": JOB_ARN, "jobName": "j", "status": "Failed", "done": True},
        error={"Error": "CustomizationJobFailed", "Cause": "Validation failed: line 12 has Assistant:"},
    )

    report = clean_up(failed, bedrock=None, sagemaker=None, environment="dev")

    assert (report.error, report.cause, report.actions) == (
        "CustomizationJobFailed",
        "Validation failed: line 12 has Assistant:",
        [],
    )


def test_a_job_found_by_its_name_on_a_retried_start_is_stopped() -> None:
    # Given: the create was accepted but answered 503; the retry found the job by its derived name
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed = state(
        job={"platform": "bedrock", "jobArn": JOB_ARN, "jobName": "j", "startedByThisExecution": False},
        error={"Error": "X", "Cause": "y"},
    )
    with Stubber(bedrock) as stub:
        stub.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})

        # When
        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        # Then: it is this execution's job whatever attempt created it
        stub.assert_no_pending_responses()
    assert report.stopped_job == JOB_ARN


RUN = {"dataset": {"uri": "raw/x.csv"}, "runName": "sql"}


def test_a_bedrock_job_accepted_but_never_recorded_is_found_by_its_name_and_stopped() -> None:
    # Given: StartBedrockJob died after CreateModelCustomizationJob was accepted: no $.job in the state
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed = state(input=RUN, error={"Error": "States.Timeout", "Cause": "Task timed out"})
    name = resource_name("dev", "sql", "exec-1", "job")
    with Stubber(bedrock) as stub:
        stub.add_response("get_model_customization_job", running_job(name), {"jobIdentifier": name})
        stub.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})

        # When
        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        # Then
        stub.assert_no_pending_responses()
    assert (report.stopped_job, report.actions) == (JOB_ARN, [f"stopped job {name}"])


def test_a_training_job_accepted_but_never_recorded_is_found_by_its_name_and_stopped() -> None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    failed = state(input={**RUN, "platform": "sagemaker"}, error={"Error": "States.Timeout", "Cause": "timed out"})
    name = resource_name("dev", "sql", "exec-1", "train")
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"
    described = {
        "TrainingJobName": name,
        "TrainingJobArn": arn,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g5.48xlarge", "InstanceCount": 1, "VolumeSizeInGB": 200},
        "StoppingCondition": {},
        "CreationTime": "2026-01-01T00:00:00Z",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://a/b"},
    }
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_training_job", described, {"TrainingJobName": name})
        stub.add_response("stop_training_job", {}, {"TrainingJobName": name})

        report = clean_up(failed, bedrock=None, sagemaker=sagemaker, environment="dev")

        stub.assert_no_pending_responses()
    assert report.stopped_job == arn


@pytest.mark.parametrize("platform", ["bedrock", "sagemaker"])
def test_no_job_under_this_executions_name_means_nothing_to_stop(platform: str) -> None:
    client = boto3.client(platform, region_name="us-east-1")
    failed = state(input={**RUN, "platform": platform}, error={"Error": "X", "Cause": "y"})
    with Stubber(client) as stub:
        if platform == "bedrock":
            stub.add_client_error("get_model_customization_job", "ResourceNotFoundException")
        else:
            stub.add_client_error("describe_training_job", "ValidationException", "Requested resource not found")

        report = clean_up(failed, bedrock=client, sagemaker=client, environment="dev")

        stub.assert_no_pending_responses()
    assert (report.stopped_job, report.actions) == (None, [])


def running_job(name: str) -> dict[str, object]:
    return {
        "jobArn": JOB_ARN,
        "jobName": name,
        "status": "InProgress",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "creationTime": "2026-11-24T00:00:00Z",
        "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        "trainingDataConfig": {"s3Uri": "s3://d/t"},
        "outputDataConfig": {"s3Uri": "s3://artifacts/jobs/"},
        "outputModelName": "m",
        "hyperParameters": {},
        "validationDataConfig": {"validators": []},
    }


def test_notification_names_the_execution_error_cause_and_console_link() -> None:
    failed = state(error={"Error": "DeploymentFailed", "Cause": "quota exceeded"})
    report = clean_up(failed, bedrock=None, sagemaker=None, environment="dev")

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


def test_a_later_stage_that_fails_has_its_own_job_stopped_and_every_stage_deployment_and_model_deleted() -> None:
    # Given: stage 2's StartBedrockJob died after its create was accepted: $.job is still stage 1's finished job
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    stage_1 = {
        "index": 0,
        "method": "sft",
        "modelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/m1",
        "deploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/d1",
        "deploymentName": "d1",
        "verdict": "promoted",
    }
    run = {**RUN, "stages": [{"method": "sft"}, {"method": "sft"}]}
    failed = state(
        input=run,
        stage={"index": 1, "remaining": 0},
        job={"platform": "bedrock", "jobArn": "arn:first", "jobName": "first", "status": "Completed", "done": True},
        deployment={"deploymentArn": stage_1["deploymentArn"], "deploymentName": "d1", "modelArn": stage_1["modelArn"]},
        evaluation={"verdict": "promoted", "stages": [stage_1]},
        error={"Error": "States.Timeout", "Cause": "Task timed out"},
    )
    name = resource_name("dev", "sql", "exec-1", "job2")
    with Stubber(bedrock) as stub:
        stub.add_response("get_model_customization_job", running_job(name), {"jobIdentifier": name})
        stub.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": stage_1["deploymentArn"]}
        )
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": stage_1["modelArn"]})

        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        stub.assert_no_pending_responses()
    assert report.actions == [
        f"stopped job {name}",
        "deleted deployment d1",
        f"deleted custom model {stage_1['modelArn']}",
    ]


def _failed_second_stage(cleanup: dict[str, bool] | None = None) -> tuple[RunState, dict[str, object]]:
    """Stage 2 deployed its model (arn:m2), then failed; stage 1's deployment and model are still there."""
    earlier = {
        "index": 0,
        "method": "sft",
        "modelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/m1",
        "deploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/d1",
        "deploymentName": "d1",
        "verdict": "promoted",
    }
    name = resource_name("dev", "sql", "exec-1", "job2")
    failed = state(
        input={**RUN, "stages": [{"method": "sft"}, {"method": "sft"}], "cleanup": cleanup or {}},
        stage={"index": 1, "remaining": 0},
        job={"platform": "bedrock", "jobArn": JOB_ARN, "jobName": name, "status": "Completed", "done": True},
        deployment={"deploymentArn": DEPLOYMENT_ARN, "deploymentName": "d2", "modelArn": "arn:m2"},
        evaluation={"verdict": "promoted", "stages": [earlier]},
        error={"Error": "DeploymentFailed", "Cause": "capacity"},
    )
    return failed, earlier


def test_a_later_stage_failing_after_its_deployment_deletes_every_stage_deployment_then_every_model() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed, earlier = _failed_second_stage()
    with Stubber(bedrock) as stub:
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": earlier["deploymentArn"]}
        )
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": "arn:m2"})
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": earlier["modelArn"]})

        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        stub.assert_no_pending_responses()
    assert report.actions == [
        "deleted deployment d2",
        "deleted deployment d1 (stage 1)",
        "deleted custom model arn:m2",
        f"deleted custom model {earlier['modelArn']}",
    ]
    assert (report.deleted_model, report.deleted_models) == ("arn:m2", ["arn:m2", earlier["modelArn"]])


def test_a_failed_multi_stage_run_keeps_every_stage_model_when_the_input_says_so() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    failed, earlier = _failed_second_stage({"keepRejectedModel": True})
    with Stubber(bedrock) as stub:  # the deployments go; DeleteCustomModel is never called
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": earlier["deploymentArn"]}
        )

        report = clean_up(failed, bedrock=bedrock, sagemaker=None, environment="dev")

        stub.assert_no_pending_responses()
    assert report.actions[2:] == [
        "kept custom model arn:m2 (cleanup.keepRejectedModel)",
        f"kept custom model {earlier['modelArn']} (cleanup.keepRejectedModel)",
    ]
    assert report.deleted_models == []


def test_evaluation_jobs_started_but_not_recorded_are_found_by_name_and_stopped() -> None:
    """StartSageMakerEvaluation died after creating the jobs: Cleanup derives their names and stops the running one."""
    import datetime as dt

    from nova_pipeline.contract.execution_input import parse_execution_input
    from nova_pipeline.contract.run_state import ExecutionRef
    from nova_pipeline.jobs.sagemaker_evaluation import evaluation_job_name

    run = parse_execution_input(
        {
            "dataset": {"uri": "raw/x.csv"},
            "platform": "sagemaker",
            "runName": "r",
            "sagemaker": {"evaluationRecipes": [{"task": "mmlu"}, {"task": "bbh"}]},
        },
        region="us-east-1",
    )
    execution = ExecutionRef.model_validate(EXECUTION)
    mmlu, bbh = (evaluation_job_name("dev", run, execution, task) for task in ("mmlu", "bbh"))
    failed = state(
        input=run.model_dump(mode="json", by_alias=True),
        job={
            "platform": "sagemaker",
            "jobArn": "arn:t",
            "jobName": "t",
            "status": "Completed",
            "done": True,
            "succeeded": True,
        },
        error={"Error": "Lambda.Unknown", "Cause": "timed out"},
    )
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")

    def described(name: str, status: str) -> dict[str, object]:
        return {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
            "TrainingJobStatus": status,
            "SecondaryStatus": "Training",
            "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "img"},
            "ResourceConfig": {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 1, "VolumeSizeInGB": 200},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "ModelArtifacts": {"S3ModelArtifacts": "s3://a/b"},
        }

    with Stubber(sagemaker) as stub:
        stub.add_response("describe_training_job", described(mmlu, "InProgress"), {"TrainingJobName": mmlu})
        stub.add_response("describe_training_job", described(bbh, "Completed"), {"TrainingJobName": bbh})
        stub.add_response("stop_training_job", {}, {"TrainingJobName": mmlu})

        report = clean_up(failed, bedrock=None, sagemaker=sagemaker, environment="dev")

        stub.assert_no_pending_responses()
    assert report.actions == [f"stopped evaluation job {mmlu}"]
