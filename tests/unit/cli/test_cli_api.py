"""`invoke` (SigV4 signing, the API URL look-up, a call to serve-local) and `promote`, and the committed OpenAPI."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.stub import Stubber
from moto import mock_aws

from nova_pipeline.cli import main
from nova_pipeline.cli.commands.api_client import api_url, signed_request
from nova_pipeline.inference.openapi import document
from nova_pipeline.promotion.store import read_active

ROOT = Path(__file__).resolve().parents[3]


def test_requests_are_signed_with_sigv4_for_execute_api() -> None:
    request = signed_request(
        "https://abc.execute-api.us-east-1.amazonaws.com/dev/v1/generate",
        b'{"input":"x"}',
        Credentials("AKIDEXAMPLE", "secret", "token"),
        "us-east-1",
    )

    authorization = request.get_header("Authorization")
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/execute-api/aws4_request" in authorization
    assert request.get_header("X-amz-security-token") == "token"
    assert request.get_method() == "POST"


def test_the_api_url_comes_from_the_stack_output() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    stack = {
        "StackName": "nova-dev-api",
        "CreationTime": "2026-11-24T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://abc.execute-api.us-east-1.amazonaws.com/dev/"}],
    }
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "nova-dev-api"})
        assert api_url(cloudformation, "dev") == "https://abc.execute-api.us-east-1.amazonaws.com/dev/"


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_invoke_prints_the_answer_of_serve_local(capsys: pytest.CaptureFixture[str]) -> None:
    from nova_pipeline.local.api_server import local_api_environment, make_server

    with local_api_environment() as (handler, _):
        server = make_server(handler, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            code = main(
                [
                    "invoke",
                    "--url",
                    f"http://127.0.0.1:{server.server_address[1]}",
                    "--input",
                    "I was charged twice for my Pro plan",
                    "--region",
                    "us-east-1",
                ]
            )
        finally:
            server.shutdown()
            server.server_close()

    assert code == 0
    assert capsys.readouterr().out == "billing\n"


def test_invoke_refuses_plain_http_to_remote_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "--url", "http://example.com", "--input", "x", "--region", "us-east-1"]) == 2
    assert "only https://" in capsys.readouterr().err


def test_promote_writes_a_record(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Classify the ticket.\n")
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123"
    with mock_aws():
        assert (
            main(
                [
                    "promote",
                    "--env",
                    "dev",
                    "--deployment-arn",
                    deployment,
                    "--system-prompt-file",
                    str(prompt),
                    "--region",
                    "us-east-1",
                ]
            )
            == 0
        )
        record, version = read_active(boto3.client("ssm", region_name="us-east-1"), "dev")
    assert record is not None and (record.deployment_arn, record.system_prompt, version) == (
        deployment,
        "Classify the ticket.",
        1,
    )


def test_the_committed_openapi_document_matches_the_code() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())

    assert committed == document(), "regenerate: make openapi"
    assert set(committed["paths"]) == {"/v1/generate", "/v1/model", "/v1/health"}
