"""`nova-pipeline plan`: every AWS request of an execution, in order, with the role that makes it, before a paid run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.cli import main
from tests.workflow.conftest import ROOT


def test_plan_lists_every_request_with_its_role_and_the_bodies_of_the_paid_ones(
    synthesized: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("nova_pipeline.local.twin.cached_synthesis", lambda environment: synthesized)
    output = tmp_path / "requests.json"

    code = main(
        ["plan", "--input", str(ROOT / "examples/sft-text-to-sql-nova-micro.json"), "--output-json", str(output)]
    )

    printed = capsys.readouterr().out
    requests = json.loads(output.read_text())
    assert code == 0
    assert printed.splitlines()[0].endswith(f"SUCCEEDED; {len(requests)} AWS requests")
    [create] = [r for r in requests if r["operation"] == "CreateModelCustomizationJob"]
    assert "StartBedrockJob" in create["principal"]
    assert create["params"]["baseModelIdentifier"] == "amazon.nova-micro-v1:0:128k"
    line = next(line for line in printed.splitlines() if "bedrock:CreateModelCustomizationJob" in line)
    assert line.split(" as ")[1].startswith("nova-dev-pipeline-CustomizationJobsStartBedrockJobRol")
    assert '"customizationType": "FINE_TUNING"' in printed  # the body of the paid request
    principals = {r["principal"] for r in requests}
    assert len(principals) > 10  # the functions' roles, the state machine's, the Bedrock service role
    assert any("CustomizationRolesBedrock" in p for p in principals)  # the simulated job reads its data
