"""StartFromUpload: an uploaded `incoming/<name>/input.json` starts one execution per object version, whatever the
number of deliveries; other keys and bad JSON start nothing and say why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nova_pipeline.core import clients
from tests.handlers.conftest import FakeLambdaContext, HandlerModule

handler = HandlerModule("start_from_upload")
BUCKET = "nova-test-data"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), clients.use_client_factory(lambda service: boto3.client(service, region_name="us-east-1")):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/sfn"
        machine = sfn.create_state_machine(name="nova-test-customization", definition=PASS, roleArn=role)
        monkeypatch.setenv("NOVA_STATE_MACHINE_ARN", machine["stateMachineArn"])
        monkeypatch.setenv("NOVA_TRIGGER_PREFIX", "incoming/")
        yield {"s3": s3, "sfn": sfn, "machine": machine["stateMachineArn"]}


def upload(s3: Any, key: str, body: bytes) -> dict[str, Any]:
    """What EventBridge delivers for an upload to the data bucket ("Object Created", S3 user guide)."""
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-02T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": key, "size": len(body), "etag": "e", "version-id": version, "sequencer": "1"},
            "request-id": "r",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def executions(aws: dict[str, Any]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    return listed


def test_a_repeated_delivery_of_the_same_version_starts_one_execution(
    aws: dict[str, Any], lambda_context: FakeLambdaContext
) -> None:
    event = upload(aws["s3"], "incoming/tickets/input.json", json.dumps({"runName": "tickets"}).encode())

    first = handler.lambda_handler(event, lambda_context)
    # A second delivery while it runs: StartExecution with the same name and input returns the same execution
    second = handler.lambda_handler(event, lambda_context)
    aws["sfn"].stop_execution(executionArn=first["executionArn"])
    # A late delivery after it ended: the name is taken (ExecutionAlreadyExists), nothing is started
    late = handler.lambda_handler(event, lambda_context)

    assert first["started"] is True and second == first
    assert late == {"started": False, "duplicate": True, "executionArn": first["executionArn"]}
    [execution] = executions(aws)
    assert execution["name"].startswith("tickets-") and len(execution["name"]) <= 80
    started = aws["sfn"].describe_execution(executionArn=execution["executionArn"])
    # Without dataset.uri the run reads raw/<name>/, where the data was uploaded first
    assert json.loads(started["input"]) == {"dataset": {"uri": "raw/tickets/"}, "runName": "tickets"}


def test_a_new_version_of_the_input_starts_a_new_execution(
    aws: dict[str, Any], lambda_context: FakeLambdaContext
) -> None:
    key = "incoming/tickets/input.json"
    handler.lambda_handler(upload(aws["s3"], key, b'{"dataset": {"uri": "raw/t/a.jsonl"}}'), lambda_context)

    result = handler.lambda_handler(upload(aws["s3"], key, b'{"dataset": {"uri": "raw/t/b.jsonl"}}'), lambda_context)

    assert result["started"] is True
    inputs = sorted(
        json.loads(aws["sfn"].describe_execution(executionArn=e["executionArn"])["input"])["dataset"]["uri"]
        for e in executions(aws)
    )
    assert inputs == ["raw/t/a.jsonl", "raw/t/b.jsonl"]


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("incoming/tickets/data.csv", b"a,b", "incoming/tickets/data.csv is not incoming/<name>/input.json"),
        ("incoming/input.json", b"{}", "incoming/input.json is not incoming/<name>/input.json"),
        ("incoming/t/input.json", b'{"runName": ', "s3://nova-test-data/incoming/t/input.json line 1: Expecting value"),
        ("incoming/t/input.json", b"[1]", "s3://nova-test-data/incoming/t/input.json: must be a JSON object"),
    ],
)
def test_other_objects_and_bad_json_start_nothing_and_say_why(
    aws: dict[str, Any], lambda_context: FakeLambdaContext, key: str, body: bytes, reason: str
) -> None:
    result = handler.lambda_handler(upload(aws["s3"], key, body), lambda_context)

    assert result == {"started": False, "reason": reason}
    assert executions(aws) == []
