"""The `nova-pipeline` CLI: exit codes and the messages a user sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nova_pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_validate_input_accepts_a_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate-input", str(ROOT / "examples/sft-text-to-sql-nova-micro.json")])

    assert code == 0
    assert "valid (sft of nova-micro on bedrock, task text-to-sql)" in capsys.readouterr().out


def test_validate_input_prints_resolved_document(capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate-input", str(ROOT / "examples/sft-text-to-sql-nova-micro.json"), "--print-resolved"])

    resolved = json.loads(capsys.readouterr().out)
    assert resolved["hyperparameters"] == {"epochCount": 5, "learningRate": 1e-5, "learningRateWarmupSteps": 10}


def test_validate_input_lists_problems_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": {"uri": "raw/x.csv"}, "baseModel": "nova-9"}))

    code = main(["validate-input", str(bad)])

    assert code == 2
    assert capsys.readouterr().err == (
        f"{bad}: execution input has 1 problem(s):\n"
        "  - $.baseModel: 'nova-9' cannot be customized; allowed values: nova-micro, nova-lite, nova-pro, nova-2-lite\n"
    )


def test_validate_input_reports_json_syntax_errors_with_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "dataset": {\n    "uri": "raw/x.csv",\n  }\n}')

    with pytest.raises(SystemExit) as caught:
        main(["validate-input", str(bad)])

    assert caught.value.code == 2
    assert (
        capsys.readouterr().err
        == f"error: {bad} line 4 column 3: invalid JSON: Expecting property name enclosed in double quotes\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{\n  "dataset":\n' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "line 3: invalid JSON: nested too deeply (more than about 1,000 levels)",
        ),
        (
            '{"dataset": {"uri": "x.csv"}}'.encode("utf-16"),
            "line 1: UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8",
        ),
        (b'{\n"dataset": "\xff"}', "line 2: not UTF-8 text (invalid start byte); save it as UTF-8"),
        (b" " * (256 * 1024 + 1), "larger than 256 KiB, the most Step Functions accepts as an execution input"),
    ],
    ids=["nested-100k-deep", "utf-16", "not-utf-8", "too-large"],
)
def test_validate_input_refuses_hostile_files_with_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    bad = tmp_path / "input.json"
    bad.write_bytes(content)

    with pytest.raises(SystemExit) as caught:
        main(["validate-input", str(bad)])

    assert caught.value.code == 2
    assert capsys.readouterr().err == f"error: {bad} {message}\n".replace(f"{bad} larger", f"{bad}: larger")


def test_entry_point_is_installed_in_the_venv() -> None:
    executable = Path(sys.executable).parent / "nova-pipeline"

    result = subprocess.run([str(executable), "--help"], capture_output=True, text=True, check=False)

    assert result.returncode == 0
    assert "validate-input" in result.stdout
