"""RequestApproval: the exact requests it sends (Stubber): the token under approvals/<execution>.json, then one
notification with the report link, the two commands and the deadline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.core import clients
from tests.handlers.conftest import FakeLambdaContext, HandlerModule

handler = HandlerModule("request_approval")
TOPIC = "arn:aws:sns:us-east-1:123456789012:nova-test-notifications"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:nova-test-customization:run-7"


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    monkeypatch.setenv("NOVA_DATA_BUCKET", "nova-test-data")
    monkeypatch.setenv("NOVA_TOPIC_ARN", TOPIC)
    made = {service: boto3.client(service, region_name="us-east-1") for service in ("s3", "sns")}
    with (
        clients.use_client_factory(lambda service: made[service]),
        Stubber(made["s3"]) as s3,
        Stubber(made["sns"]) as sns,
    ):
        yield {"s3": s3, "sns": sns}
        s3.assert_no_pending_responses()
        sns.assert_no_pending_responses()


class Sent:
    """Matches any value in Stubber's expected parameters and keeps it, to assert on it afterwards."""

    value: Any = None

    def __eq__(self, other: object) -> bool:
        self.value = other
        return True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def event() -> dict[str, Any]:
    return {
        "taskToken": "token-123",
        "execution": {"name": "run-7", "arn": EXECUTION},
        "input": {"dataset": {"uri": "raw/x.csv"}, "runName": "tickets", "approval": {"timeoutSeconds": 3600}},
        "evaluation": {
            "verdict": "promoted",
            "primaryMetric": "accuracy",
            "candidate": 0.91,
            "baseline": 0.42,
            "reportUrl": "https://example.com/report.html",
            "reportHtmlUri": "s3://nova-test-data/reports/run-7/report.html",
        },
        "deployment": {
            "deploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc",
            "deploymentName": "d",
            "modelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/m",
        },
    }


def test_the_token_is_stored_by_execution_name_then_the_topic_is_told(
    stubbed: dict[str, Stubber], lambda_context: FakeLambdaContext
) -> None:
    body, message = Sent(), Sent()
    stubbed["s3"].add_response(
        "put_object",
        {},
        {"Bucket": "nova-test-data", "Key": "approvals/run-7.json", "Body": body, "ContentType": "application/json"},
    )
    stubbed["sns"].add_response(
        "publish", {"MessageId": "m-1"}, {"TopicArn": TOPIC, "Subject": "Approval needed: tickets", "Message": message}
    )

    result = handler.lambda_handler(event(), lambda_context)

    token = json.loads(body.value)
    assert token["taskToken"] == "token-123" and token["executionArn"] == EXECUTION
    assert token["report"] == "https://example.com/report.html"
    assert token["expiresAt"] == result["expiresAt"]
    assert result["tokenUri"] == "s3://nova-test-data/approvals/run-7.json"
    lines = message.value.splitlines()
    assert lines[:3] == [
        "Run tickets passed the quality gate and waits for an approval before promotion.",
        "Result: accuracy 0.910 (baseline 0.420).",
        "Report: https://example.com/report.html",
    ]
    # the presigned link dies with the role session that signed it; the S3 location and a command do not
    assert lines[3] == (
        "Report in S3: s3://nova-test-data/reports/run-7/report.html (the link above expires with the session that "
        "signed it; a fresh one: aws s3 presign s3://nova-test-data/reports/run-7/report.html --expires-in 3600)"
    )
    assert f"Approve: nova-pipeline approve --execution {EXECUTION}" in lines
    assert lines[-1].startswith("Without a decision by ") and lines[-1].endswith(" the candidate is rejected.")
