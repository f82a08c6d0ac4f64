"""`nova-pipeline gc`: the environment's lifecycle settings from cdk.json, a dry run that deletes nothing, bad flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.cli import main
from nova_pipeline.cli.commands import gc as gc_command

OLD = datetime.now(UTC) - timedelta(days=400)
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
BASE = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"
TAGS = {"tags": [{"key": "project", "value": "nova-customization"}, {"key": "environment", "value": "dev"}]}


class _Session:
    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients

    def client(self, name: str) -> Any:
        return self.clients[name]


def test_a_dry_run_reports_the_model_and_the_saving_and_deletes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm, bedrock = boto3.client("ssm", region_name="us-east-1"), boto3.client("bedrock", region_name="us-east-1")
    monkeypatch.setattr(gc_command, "aws_session", lambda args: _Session({"ssm": ssm, "bedrock": bedrock}))
    summary = {"modelArn": MODEL, "modelName": "nova-dev-old-model", "creationTime": OLD, "baseModelArn": BASE}
    with Stubber(ssm) as ssm_stub, Stubber(bedrock) as stub:  # no delete is queued: one would fail the test
        ssm_stub.add_client_error("get_parameter_history", "ParameterNotFound", "no record")
        stub.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, {})
        stub.add_response("list_custom_models", {"modelSummaries": [{**summary, "baseModelName": "Nova Micro"}]}, {})
        stub.add_response("list_tags_for_resource", TAGS, {"resourceARN": MODEL})

        assert main(["gc", "--env", "dev", "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert out.splitlines()[0] == "dev: would delete 1 custom model(s), saving $1.95 a month in storage; kept 0"
    assert f"would delete nova-dev-old-model ({MODEL}" in out


@pytest.mark.parametrize("flag", [["--retention-days", "-1"], ["--keep-versions", "two"]])
def test_bad_numbers_are_refused_with_exit_2(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["gc", "--env", "dev", *flag])

    assert exited.value.code == 2
    assert flag[0] in capsys.readouterr().err
