"""The CLI's one error path: an expected failure is one or two lines with a hint and a non-zero exit, never a
traceback (unless --debug); the region comes from the environment's block of cdk.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.cli import main
from nova_pipeline.cli.commands._common import environment_region

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def test_rollback_without_credentials_says_so_in_two_lines(
    no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rollback", "--env", "dev"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [
        "error: no AWS credentials found",
        "hint: configure them (aws configure, AWS_PROFILE); run-local, plan, prepare, validate, validate-input, "
        "evaluate and cost work without an AWS account",
    ]


def test_the_region_comes_from_the_environment_of_cdk_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    environments = json.loads((ROOT / "cdk.json").read_text())["context"]["nova:environments"]

    assert environment_region("prod") == environments["prod"].get("region", "us-east-1")
    with pytest.raises(SystemExit, match=r"unknown environment 'staging' .*; allowed: dev, prod"):
        environment_region("staging")


def test_a_missing_predictions_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["evaluate", "--predictions", str(tmp_path / "missing.jsonl"), "--task", "classification"])

    assert code == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing.jsonl'}: no such file\n"


def test_a_method_the_model_cannot_do_is_named_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "rft.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}], "reference_answer": "x"}) + "\n")

    code = main(["validate", str(data), "--model", "nova-micro", "--method", "rft"])

    err = capsys.readouterr().err
    assert code == 2  # an input problem
    assert "rft on bedrock is not available for nova-micro" in err and "Traceback" not in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        main(["evaluate", "--predictions", str(tmp_path / "missing.jsonl"), "--task", "classification", "--debug"])


def test_negative_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["cost", "--model", "nova-micro", "--queries-per-month", "-5"])

    assert exited.value.code == 2
    assert "--queries-per-month: -5 is negative; give 0 or more" in capsys.readouterr().err
