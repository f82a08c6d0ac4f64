"""Bedrock job, import and deployment requests, checked by botocore's Stubber against the service model."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import DeploymentState, ExecutionRef, JobState, PreparedData
from nova_pipeline.core.errors import AwsRequestFailed, ThrottledError, TransientServiceError
from nova_pipeline.jobs import bedrock as jobs_bedrock
from nova_pipeline.jobs.naming import client_request_token, resource_name

EXECUTION = ExecutionRef(
    name="exec-1", arn="arn:aws:states:us-east-1:123456789012:execution:nova-dev:exec-1", started_at=None
)
DATA = PreparedData.model_validate(
    {
        "manifestUri": "s3://data/prepared/exec-1/manifest.json",
        "prefix": "s3://data/prepared/exec-1/",
        "train": {"uri": "s3://data/prepared/exec-1/train.jsonl", "records": 400},
        "validation": {"uri": "s3://data/prepared/exec-1/validation.jsonl", "records": 50},
        "test": {"uri": "s3://data/prepared/exec-1/test.jsonl", "records": 50},
    }
)
RESOURCES = jobs_bedrock.JobResources(
    environment="dev",
    role_arn="arn:aws:iam::123456789012:role/bedrock",
    output_uri="s3://artifacts/jobs/",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/abc",
    grader_function_arn="arn:aws:lambda:us-east-1:123456789012:function:grader",
)
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123def456"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"
MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
ROLE = "arn:aws:iam::123456789012:role/bedrock"
BASE = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"
ANY_NAME = resource_name("dev", "sql", "exec-1", "job")
TAGS = [
    {"key": "environment", "value": "dev"},
    {"key": "execution", "value": "exec-1"},
    {"key": "project", "value": "nova-customization"},
    {"key": "run", "value": "sql"},
]


def bedrock() -> Any:
    return boto3.client("bedrock", region_name="us-east-1")


def run(**overrides: Any) -> Any:
    return parse_execution_input({"dataset": {"uri": "raw/x.csv"}, "runName": "sql", **overrides})


def test_sft_request_has_string_hyperparameters_validation_set_and_idempotency_token() -> None:
    request = jobs_bedrock.bedrock_job_request(
        run(hyperparameters={"epochCount": 5, "learningRateMultiplier": 1e-5}), DATA, EXECUTION, RESOURCES
    )

    assert request == {
        "jobName": resource_name("dev", "sql", "exec-1", "job"),
        "customModelName": resource_name("dev", "sql", "exec-1", "model"),
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "clientRequestToken": client_request_token(EXECUTION.arn, "customization-job"),
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": "s3://data/prepared/exec-1/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://artifacts/jobs/"},
        "jobTags": TAGS,
        "customModelTags": TAGS,
        "customModelKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "validationDataConfig": {"validators": [{"s3Uri": "s3://data/prepared/exec-1/validation.jsonl"}]},
        "hyperParameters": {"epochCount": "5", "learningRate": "1e-05", "learningRateWarmupSteps": "10"},
    }


def test_rft_request_carries_the_grader_and_typed_hyperparameters_without_validation_set() -> None:
    parsed = run(
        baseModel="nova-2-lite",
        method="rft",
        split={"train": 0.9, "validation": 0, "test": 0.1},
        hyperparameters={"epochCount": 3, "reasoningEffort": "low"},
    )

    request = jobs_bedrock.bedrock_job_request(parsed, DATA, EXECUTION, RESOURCES)

    assert request["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert request["baseModelIdentifier"] == "amazon.nova-2-lite-v1:0:256k"
    assert "validationDataConfig" not in request and "hyperParameters" not in request
    assert request["customizationConfig"] == {
        "rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:grader"}},
            "hyperParameters": {
                "epochCount": 3,
                "batchSize": 128,
                "learningRate": 1e-5,
                "trainingSamplePerPrompt": 4,
                "reasoningEffort": "low",
            },
        }
    }


def test_distillation_request_names_the_teacher() -> None:
    request = jobs_bedrock.bedrock_job_request(
        run(method="distillation", distillation={"teacherModel": "nova-pro", "maxResponseLength": 800}),
        DATA,
        EXECUTION,
        RESOURCES,
    )

    assert request["customizationType"] == "DISTILLATION"
    assert request["customizationConfig"] == {
        "distillationConfig": {
            "teacherModelConfig": {
                "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                "maxResponseLengthForInference": 800,
            }
        }
    }
    assert "hyperParameters" not in request


def test_distillation_from_nova_premier_sends_its_inference_profile_as_the_teacher() -> None:
    """Nova Premier has no in-Region on-demand support: the job must name the `us.` cross-Region profile."""
    import gzip
    import json
    import re
    from pathlib import Path

    import botocore

    client = bedrock()
    parsed = run(method="distillation", distillation={"teacherModel": "nova-premier", "maxResponseLength": 800})
    request = jobs_bedrock.bedrock_job_request(parsed, DATA, EXECUTION, RESOURCES)
    expected = {
        "jobName": resource_name("dev", "sql", "exec-1", "job"),
        "customModelName": resource_name("dev", "sql", "exec-1", "model"),
        "roleArn": ROLE,
        "clientRequestToken": client_request_token(EXECUTION.arn, "customization-job"),
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationType": "DISTILLATION",
        "trainingDataConfig": {"s3Uri": "s3://data/prepared/exec-1/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://artifacts/jobs/"},
        "jobTags": TAGS,
        "customModelTags": TAGS,
        "customModelKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "validationDataConfig": {"validators": [{"s3Uri": "s3://data/prepared/exec-1/validation.jsonl"}]},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "us.amazon.nova-premier-v1:0",
                    "maxResponseLengthForInference": 800,
                }
            }
        },
    }
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_model_customization_job", "ResourceNotFoundException", expected_params={"jobIdentifier": ANY_NAME}
        )
        stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected_params=expected)

        jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)

        stub.assert_no_pending_responses()
    # botocore does not check patterns: check the identifier against the service model's own.
    model_path = next((Path(botocore.__file__).parent / "data" / "bedrock").glob("*/service-2.json*"))
    opener = gzip.open if model_path.suffix == ".gz" else open
    with opener(model_path, "rt") as handle:
        pattern = json.load(handle)["shapes"]["TeacherModelIdentifier"]["pattern"]
    assert re.fullmatch(pattern, "us.amazon.nova-premier-v1:0")


def test_start_sends_the_request_when_no_job_of_this_execution_exists() -> None:
    client = bedrock()
    request = jobs_bedrock.bedrock_job_request(run(), DATA, EXECUTION, RESOURCES)
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_model_customization_job",
            "ResourceNotFoundException",
            expected_params={"jobIdentifier": request["jobName"]},
        )
        stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected_params=request)

        job = jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)

        stub.assert_no_pending_responses()
    assert (job.job_arn, job.started_by_this_execution, job.wait_seconds) == (JOB_ARN, True, 30)


def test_start_reuses_the_job_a_previous_attempt_started() -> None:
    client = bedrock()
    request = jobs_bedrock.bedrock_job_request(run(), DATA, EXECUTION, RESOURCES)
    existing = {
        "jobArn": JOB_ARN,
        "jobName": request["jobName"],
        "status": "InProgress",
        "roleArn": ROLE,
        "creationTime": "2026-11-24T00:00:00Z",
        "baseModelArn": BASE,
        "trainingDataConfig": {"s3Uri": "s3://d/t"},
        "outputDataConfig": {"s3Uri": "s3://artifacts/jobs/"},
        "outputModelName": "m",
        "hyperParameters": {},
        "validationDataConfig": {"validators": []},
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_model_customization_job", existing, expected_params={"jobIdentifier": request["jobName"]}
        )

        job = jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)

        stub.assert_no_pending_responses()
    assert (job.job_arn, job.started_by_this_execution, job.adopted, job.done) == (JOB_ARN, True, True, False)


def test_a_create_accepted_then_answered_503_is_this_executions_job_on_the_retry() -> None:
    # Given: the first attempt's create was accepted by Bedrock but answered 503
    client = bedrock()
    request = jobs_bedrock.bedrock_job_request(run(), DATA, EXECUTION, RESOURCES)
    with Stubber(client) as stub:
        stub.add_client_error("get_model_customization_job", "ResourceNotFoundException")
        stub.add_client_error("create_model_customization_job", "ServiceUnavailableException", http_status_code=503)
        with pytest.raises(TransientServiceError):
            jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)
        # When: the state retries and finds the job by its name
        found = {"jobArn": JOB_ARN, "jobName": request["jobName"], "status": "InProgress", "roleArn": ROLE}
        found |= {"creationTime": "2026-11-24T00:00:00Z", "baseModelArn": BASE, "outputModelName": "m"}
        found |= {"trainingDataConfig": {"s3Uri": "s3://d/t"}, "outputDataConfig": {"s3Uri": "s3://a/"}}
        found |= {"hyperParameters": {}, "validationDataConfig": {"validators": []}}
        stub.add_response("get_model_customization_job", found, expected_params={"jobIdentifier": request["jobName"]})
        job = jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)

        stub.assert_no_pending_responses()
    # Then: it is recorded as this execution's, so Cleanup stops it
    assert (job.job_arn, job.started_by_this_execution) == (JOB_ARN, True)


def test_throttling_becomes_the_retryable_error_and_validation_the_final_one() -> None:
    client = bedrock()
    request = jobs_bedrock.bedrock_job_request(run(), DATA, EXECUTION, RESOURCES)
    with Stubber(client) as stub:
        stub.add_client_error("get_model_customization_job", "ResourceNotFoundException")
        stub.add_client_error("create_model_customization_job", "ThrottlingException", "Rate exceeded")
        with pytest.raises(ThrottledError, match="bedrock CreateModelCustomizationJob: ThrottlingException: Rate"):
            jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)
        stub.add_client_error("get_model_customization_job", "ResourceNotFoundException")
        stub.add_client_error("create_model_customization_job", "ValidationException", "bad data")
        with pytest.raises(AwsRequestFailed, match="ValidationException: bad data"):
            jobs_bedrock.start_bedrock_job(client, request, wait_seconds=30)


@pytest.mark.parametrize(
    ("status", "done", "succeeded", "message"),
    [
        ("InProgress", False, False, None),
        ("Completed", True, True, None),
        ("Failed", True, False, "Data validation failed: line 3"),
        ("Stopped", True, False, "job ended Stopped"),
    ],
)
def test_poll_maps_every_job_status(status: str, done: bool, succeeded: bool, message: str | None) -> None:
    client = bedrock()
    response: dict[str, Any] = {
        "jobArn": JOB_ARN,
        "jobName": "j",
        "status": status,
        "roleArn": ROLE,
        "outputModelName": "m",
        "creationTime": "2026-11-24T00:00:00Z",
        "baseModelArn": BASE,
        "trainingDataConfig": {"s3Uri": "s3://d/t"},
        "outputDataConfig": {"s3Uri": "s3://artifacts/jobs/"},
        "hyperParameters": {},
        "validationDataConfig": {"validators": []},
    }
    if status == "Failed":
        response["failureMessage"] = message
    with Stubber(client) as stub:
        stub.add_response("get_model_customization_job", response, expected_params={"jobIdentifier": JOB_ARN})
        job = jobs_bedrock.poll_bedrock_job(
            client, JobState(platform="bedrock", job_arn=JOB_ARN, job_name="j"), wait_seconds=5
        )
    assert (job.status, job.done, job.succeeded, job.failure_message) == (status, done, succeeded, message)


def test_deployment_request_is_idempotent_per_execution() -> None:
    client = bedrock()
    parsed = run()
    expected = {
        "modelDeploymentName": resource_name("dev", "sql", "exec-1", "deployment"),
        "modelArn": MODEL_ARN,
        "description": "Nova customization dev: execution exec-1",
        "tags": TAGS,
        "clientRequestToken": client_request_token(EXECUTION.arn, "deployment"),
    }
    with Stubber(client) as stub:
        stub.add_response(
            "create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT_ARN}, expected_params=expected
        )
        deployment = jobs_bedrock.create_deployment(
            client, model_arn=expected["modelArn"], environment="dev", run=parsed, execution=EXECUTION, wait_seconds=5
        )
    assert deployment.deployment_arn == DEPLOYMENT_ARN and deployment.status == "Creating"


@pytest.mark.parametrize(
    ("status", "done", "succeeded"),
    [("Creating", False, False), ("Active", True, True), ("Failed", True, False), ("Completed", False, False)],
)
def test_only_active_is_ready_and_unknown_statuses_keep_polling(status: str, done: bool, succeeded: bool) -> None:
    client = bedrock()
    state = DeploymentState(deployment_arn=DEPLOYMENT_ARN, deployment_name="d", model_arn=MODEL_ARN)
    response = {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": "d",
        "modelArn": MODEL_ARN,
        "createdAt": "2026-11-24T00:00:00Z",
        "status": status,
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_custom_model_deployment", response, expected_params={"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        )
        polled = jobs_bedrock.poll_deployment(client, state, wait_seconds=5)
    assert (polled.done, polled.succeeded) == (done, succeeded)


def test_names_fit_bedrock_limits_and_are_stable() -> None:
    long_run = "a" * 40
    first = resource_name("dev", long_run, "exec-with-a-very-long-name-" + "x" * 60, "deployment")

    assert len(first) <= 63
    assert first == resource_name("dev", long_run, "exec-with-a-very-long-name-" + "x" * 60, "deployment")
    assert first != resource_name("dev", long_run, "another-execution", "deployment")
    assert "--" not in resource_name("dev", "My Run__2", "e", "job")
