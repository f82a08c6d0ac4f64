"""What a local run leaves in `.build/twin-runs/<execution>/`, the model `serve-local` serves from it, the functions'
logs kept out of the terminal and the short summary of a failed run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.cli import main
from nova_pipeline.local import runs, twin
from nova_pipeline.local.api_server import api_gateway_event, local_api_environment
from nova_pipeline.local.twin import SynthesizedApp
from tests.workflow.conftest import ROOT, example


def test_a_run_keeps_its_data_predictions_report_requests_and_promoted_model(offline_twin: Any, tmp_path: Path) -> None:
    document = example("sft-classification-nova-micro.json")
    folder = tmp_path / "runs" / "kept-run"

    with offline_twin() as running:
        result = running.run(document, name="kept-run")
        runs.keep_run(running, result, document, folder)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert sorted(p.name for p in (folder / "prepared").iterdir()) == [
        "manifest.json",
        "test.jsonl",
        "train.jsonl",
        "validation.jsonl",
    ]
    assert len((folder / "prepared" / "train.jsonl").read_text().splitlines()) == result.output["data"]["train"]
    assert any(p.name.startswith("predictions") for p in (folder / "evaluation").rglob("*")), list(folder.rglob("*"))
    assert (folder / "report.html").is_file() and (folder / "report.json").is_file()
    execution = json.loads((folder / "execution.json").read_text())
    assert (execution["status"], execution["input"]) == ("SUCCEEDED", document)
    requests = [json.loads(line) for line in (folder / "requests.jsonl").read_text().splitlines()]
    jobs = [r for r in requests if r["operation"] == "CreateModelCustomizationJob"]
    assert len(jobs) == 1 and jobs[0]["service"] == "bedrock" and jobs[0]["params"]["baseModelIdentifier"]
    assert (tmp_path / "runs" / "last-promoted").read_text() == "kept-run\n"

    promoted = runs.promoted_model(None, tmp_path / "runs")
    assert promoted is not None and promoted.run == "kept-run"
    assert promoted.record.deployment_arn == result.output["deploymentArn"]
    question = json.loads((folder / "prepared" / "test.jsonl").read_text().splitlines()[0])
    with local_api_environment(promoted=promoted) as (handler, _):
        body = json.dumps({"input": question["prompt"]})
        answer = handler.lambda_handler(api_gateway_event("POST", "/v1/generate", body), _Context())
        model = handler.lambda_handler(api_gateway_event("GET", "/v1/model", None), _Context())
    assert answer["statusCode"] == 200, answer
    labels = {"billing", "bug", "feature_request", "account", "other"}
    assert json.loads(answer["body"])["output"] in labels  # the run's ticket classifier answers
    assert json.loads(model["body"])["deploymentArn"] == result.output["deploymentArn"]


class _Context:
    function_name = "inference-local"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference-local"
    aws_request_id = "test"


def test_no_promoted_run_means_the_example_and_an_unknown_run_is_named(tmp_path: Path) -> None:
    assert runs.promoted_model(None, tmp_path) is None
    (tmp_path / "local-1").mkdir()
    with pytest.raises(runs.NoPromotedRun, match=r"run 'nope' promoted no model .*; runs that did: none"):
        runs.promoted_model("nope", tmp_path)


@pytest.fixture
def cli_twin(synthesized: SynthesizedApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`run-local` with the session's synthesized app and its run folders under tmp_path."""
    monkeypatch.setattr(twin, "cached_synthesis", lambda environment: synthesized)
    monkeypatch.setattr(twin, "synthesis_progress", lambda environment: None)
    monkeypatch.setattr(runs, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "runs"


def test_run_local_prints_its_run_folder_and_keeps_the_logs_out_of_the_terminal(
    cli_twin: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(["run-local", "--input", str(ROOT / "examples/sft-classification-nova-micro.json"), "--name", "ok"])

    out, err = capfd.readouterr()
    assert code == 0, err
    assert "run folder: runs/ok (prepared data, predictions, report, requests.jsonl, logs.jsonl)" in out
    assert "report: " + str(cli_twin / "ok" / "report.html") in out
    assert '"level":' not in out + err  # no JSON log line on the terminal
    logged = [json.loads(line) for line in (cli_twin / "ok" / "logs.jsonl").read_text().splitlines()]
    assert logged and {"level", "message", "service"} <= set(logged[0])
    assert err.splitlines()[0] == "starting simulated AWS (moto, the Bedrock simulator, IAM from the templates) ..."


def test_a_failed_run_prints_a_short_summary_instead_of_log_lines(
    cli_twin: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--input", str(ROOT / "examples/sft-classification-nova-micro.json"), "--name", "failing"]

    code = main(["run-local", *arguments, "--fail-at", "CreateDeployment"])

    out, err = capfd.readouterr()
    assert code == 2
    assert '"level":' not in out + err and "stackTrace" not in out
    assert [line for line in out.splitlines() if line.startswith(("state:", "error:", "cause:", "hint:"))] == [
        "state: CreateDeployment",
        "error: InjectedFailure",
        "cause: failure injected at CreateDeployment by --fail-at",
        f"hint: the functions' logs are in {cli_twin / 'failing' / 'logs.jsonl'}; rerun with --verbose to see them "
        "here",
    ]
    assert '"level":"ERROR"' in (cli_twin / "failing" / "logs.jsonl").read_text()
