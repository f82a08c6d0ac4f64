"""`nova-pipeline evaluate`: no verdict without a gate, exit 1 on a rejection, reports outside the working tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.cli import main
from nova_pipeline.cli.commands import evaluate

ROOT = Path(__file__).resolve().parents[3]
PREDICTIONS = str(ROOT / "examples/predictions/text-to-sql.jsonl")  # executionAccuracy 0.5


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default reports folder moved into tmp_path, and the working directory another empty folder."""
    folder = tmp_path / "reports"
    monkeypatch.setattr(evaluate, "REPORTS_DIR", folder)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


def gate_file(tmp_path: Path, gate: dict[str, float]) -> str:
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(gate))
    return str(path)


def test_without_a_gate_there_is_no_verdict(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--predictions", PREDICTIONS, "--task", "text-to-sql"])

    out = capsys.readouterr().out
    assert code == 0
    assert "gate: none given, no verdict (pass --gate-json FILE to judge the candidate)" in out
    assert "verdict:" not in out and "promoted" not in out
    assert json.loads((reports / "text-to-sql" / "report.json").read_text())["gate"]["verdict"] == "no gate"


def test_a_rejection_exits_1_with_its_reason(tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate = gate_file(tmp_path, {"minPrimaryMetric": 0.9})

    code = main(["evaluate", "--predictions", PREDICTIONS, "--task", "text-to-sql", "--gate-json", gate])

    out = capsys.readouterr().out
    assert code == 1
    assert "verdict: rejected" in out and "FAIL executionAccuracy 0.5000 < minimum 0.9000" in out


def test_a_rejection_exits_1_with_json_output_too(
    tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = gate_file(tmp_path, {"minPrimaryMetric": 0.9})

    code = main(["evaluate", "--predictions", PREDICTIONS, "--task", "text-to-sql", "--gate-json", gate, "--json"])

    captured = capsys.readouterr()
    assert code == 1 and json.loads(captured.out)["gate"]["verdict"] == "rejected"
    assert captured.err == f"report: {reports / 'text-to-sql' / 'report.html'}\n"


def test_a_passed_gate_exits_0(tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate = gate_file(tmp_path, {"minPrimaryMetric": 0.5})

    assert main(["evaluate", "--predictions", PREDICTIONS, "--task", "text-to-sql", "--gate-json", gate]) == 0
    assert "verdict: promoted" in capsys.readouterr().out


def test_the_report_goes_to_the_build_folder_not_the_working_directory(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["evaluate", "--predictions", PREDICTIONS, "--task", "text-to-sql"])

    out = capsys.readouterr().out
    assert list(Path.cwd().iterdir()) == []
    assert f"report: {reports / 'text-to-sql' / 'report.html'} (and report.json)" in out
    assert sorted(p.name for p in (reports / "text-to-sql").iterdir()) == ["report.html", "report.json"]


def test_the_default_reports_folder_is_git_ignored() -> None:
    assert evaluate.REPORTS_DIR.relative_to(ROOT).parts == (".build", "evaluation-reports")
    assert ".build/" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_manifest_fills_the_data_summary_and_traffic_flags_are_named(
    tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"records": {"read": 9, "accepted": 8, "rejected": 1, "duplicatesDropped": 0}}))

    main(
        [
            "evaluate",
            "--predictions",
            PREDICTIONS,
            "--task",
            "text-to-sql",
            "--manifest",
            str(manifest),
            "--queries-per-month",
            "1000",
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["data"]["recordsRead"], report["data"]["rejected"]) == (9, 1)
    assert report["data"]["manifest"] == str(manifest)
    assert (report["cost"]["queriesPerMonth"], report["cost"]["inputTokensPerQuery"]) == (1000, 800)
    assert report["cost"]["trafficSource"] == "the command-line flags"
