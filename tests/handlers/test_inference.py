"""The inference handler: every endpoint and every error mapping, Converse requests checked by Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from nova_pipeline.core import clients
from nova_pipeline.inference import api
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name
from tests.handlers.conftest import FakeLambdaContext, load_handler

handler = load_handler("inference")
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"
RECORD = ActiveModelRecord(
    deployment_arn=DEPLOYMENT,
    custom_model_arn="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc",
    base_model="nova-micro",
    system_prompt="You are a text-to-SQL model. Schema: {context}",
    promoted_at=datetime(2026, 11, 24, tzinfo=UTC),
    version=3,
)


def api_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": raw,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": "req-1",
            "stage": "test",
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/test{path}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, Any]]:
    monkeypatch.setenv("NOVA_ENVIRONMENT", "test")
    monkeypatch.setenv("NOVA_API_MAX_BODY_BYTES", "2000")
    monkeypatch.setenv("NOVA_API_MAX_INPUT_CHARS", "500")
    api.api_settings.cache_clear()
    api._provider.cache_clear()
    bedrock_runtime = boto3.client("bedrock-runtime", region_name="us-east-1")

    def factory(service: str) -> Any:
        return bedrock_runtime if service == "bedrock-runtime" else boto3.client(service, region_name="us-east-1")

    with mock_aws(), clients.use_client_factory(factory), Stubber(bedrock_runtime) as stubber:
        yield stubber, boto3.client("ssm", region_name="us-east-1")
    api.api_settings.cache_clear()
    api._provider.cache_clear()


def promote(ssm: Any, record: ActiveModelRecord = RECORD) -> None:
    ssm.put_parameter(
        Name=active_model_parameter_name("test"),
        Value=record.model_dump_json(by_alias=True),
        Type="SecureString",
        Overwrite=True,
    )


def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = handler.lambda_handler(api_event(method, path, body), FakeLambdaContext())
    headers = dict(response.get("headers") or {})
    headers.update({key: values[-1] for key, values in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], json.loads(response["body"]), headers


CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "SELECT 1"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 30, "outputTokens": 3, "totalTokens": 33},
    "metrics": {"latencyMs": 412},
}


def test_generate_sends_the_training_system_prompt_and_bounded_settings(runtime: tuple[Stubber, Any]) -> None:
    stubber, ssm = runtime
    promote(ssm)
    stubber.add_response(
        "converse",
        CONVERSE_OK,
        {
            "modelId": DEPLOYMENT,
            "messages": [{"role": "user", "content": [{"text": "How many heads?"}]}],
            "inferenceConfig": {"maxTokens": 128, "temperature": 0.0, "topP": 0.9},
            "system": [{"text": "You are a text-to-SQL model. Schema: CREATE TABLE head (age INTEGER)"}],
        },
    )

    status, body, _ = call(
        "POST",
        "/v1/generate",
        {
            "input": "How many heads?",
            "context": "CREATE TABLE head (age INTEGER)",
            "inferenceConfig": {"maxTokens": 128},
        },
    )

    assert status == 200
    assert body == {
        "output": "SELECT 1",
        "stopReason": "end_turn",
        "usage": {"inputTokens": 30, "outputTokens": 3, "totalTokens": 33},
        "latencyMs": 412,
        "model": {"deploymentArn": DEPLOYMENT, "version": 3, "promotedAt": "2026-11-24T00:00:00+00:00"},
    }
    stubber.assert_no_pending_responses()


def test_messages_are_sent_as_turns(runtime: tuple[Stubber, Any]) -> None:
    stubber, ssm = runtime
    promote(ssm, RECORD.model_copy(update={"system_prompt": "Be brief."}))
    stubber.add_response(
        "converse",
        CONVERSE_OK,
        {
            "modelId": DEPLOYMENT,
            "messages": [
                {"role": "user", "content": [{"text": "a"}]},
                {"role": "assistant", "content": [{"text": "b"}]},
                {"role": "user", "content": [{"text": "c"}]},
            ],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.0, "topP": 0.9},
            "system": [{"text": "Be brief."}],
        },
    )

    status, _, _ = call(
        "POST",
        "/v1/generate",
        {
            "messages": [
                {"role": "user", "text": "a"},
                {"role": "assistant", "text": "b"},
                {"role": "user", "text": "c"},
            ]
        },
    )
    assert status == 200


def test_model_and_health(runtime: tuple[Stubber, Any]) -> None:
    _, ssm = runtime
    assert call("GET", "/v1/health")[:2] == (200, {"status": "ok", "modelPromoted": False})
    promote(ssm)
    api._provider.cache_clear()

    status, body, _ = call("GET", "/v1/model")

    assert status == 200
    assert body["deploymentArn"] == DEPLOYMENT and body["version"] == 3
    assert body["systemPrompt"] == "You are a text-to-SQL model. Schema: {context}"
    assert call("GET", "/v1/health")[1] == {"status": "ok", "modelPromoted": True}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "body: malformed JSON"),
        ({}, "body: give exactly one of input or messages"),
        ({"input": ""}, "input: String should have at least 1 character"),
        ({"input": "hi", "temperature": 2}, "temperature: is not a known field"),
        ({"input": 5}, "input: Input should be a valid string"),
        ({"input": "x" * 600, "context": "c"}, "input: 601 characters exceeds the limit of 500"),
        (
            {"input": "hi", "context": "c", "inferenceConfig": {"maxTokens": 99999}},
            "inferenceConfig.maxTokens: Input should be less than or equal to 4096",
        ),
        (
            {"messages": [{"role": "assistant", "text": "a"}]},
            "body: messages[0].role is 'assistant', expected 'user'",
        ),
        (
            {"input": "hi"},
            "context: required: the promoted model's system prompt has {context} (e.g. the CREATE TABLE statements)",
        ),
    ],
)
def test_bad_requests_get_400_naming_the_field(runtime: tuple[Stubber, Any], body: Any, message: str) -> None:
    _, ssm = runtime
    promote(ssm)

    status, response, _ = call("POST", "/v1/generate", body)

    assert status == 400
    assert response["message"] == message


def test_an_oversized_body_is_refused_before_parsing(runtime: tuple[Stubber, Any]) -> None:
    status, body, _ = call("POST", "/v1/generate", "x" * 2001)
    assert (status, body["message"]) == (413, "body: 2,001 bytes exceeds the limit of 2,000")


def test_no_promoted_model_is_503(runtime: tuple[Stubber, Any]) -> None:
    status, body, _ = call("POST", "/v1/generate", {"input": "hi"})
    assert status == 503
    assert body["message"].startswith("no model is promoted in test yet")


@pytest.mark.parametrize(
    ("code", "status", "retry_after"),
    [
        ("ThrottlingException", 429, "2"),
        ("ValidationException", 400, None),
        ("ModelNotReadyException", 503, "10"),
        ("ServiceUnavailableException", 503, "10"),
        ("InternalServerException", 500, None),
    ],
)
def test_bedrock_errors_map_to_status_codes(
    runtime: tuple[Stubber, Any], code: str, status: int, retry_after: str | None
) -> None:
    stubber, ssm = runtime
    promote(ssm, RECORD.model_copy(update={"system_prompt": None}))
    stubber.add_client_error("converse", code, "secret internal detail", http_status_code=status)

    got, body, headers = call("POST", "/v1/generate", {"input": "hi"})

    assert got == status
    assert headers.get("Retry-After") == retry_after
    if status == 500:
        assert body == {
            "message": "internal error; quote the request id when reporting it",
            "requestId": "00000000-0000-0000-0000-000000000001",
        }
    assert "secret internal detail" not in json.dumps(body) or code == "ValidationException"
