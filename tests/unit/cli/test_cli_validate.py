"""`nova-pipeline validate` on every file `prepare` writes, the refusals of the wrong kind, and `prepare --config`
naming its own input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]
SQL = ROOT / "examples/data/text-to-sql/"
TICKETS = ROOT / "examples/data/support-tickets/"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `prepare` writes for SFT, RFT and distillation, in sft/, rft/ and distillation/."""
    root = tmp_path_factory.mktemp("prepared")
    for folder, data, config in (
        ("sft", SQL, "sft-text-to-sql-nova-micro.json"),
        ("rft", SQL, "rft-text-to-sql-nova-2-lite.json"),
        ("distillation", TICKETS, "distillation-nova-pro-to-micro.json"),
    ):
        arguments = [
            "--input",
            str(data),
            "--output-dir",
            str(root / folder),
            "--config",
            str(ROOT / "examples" / config),
        ]
        assert main(["prepare", *arguments]) == 0
    return root


@pytest.mark.parametrize(
    ("file", "arguments", "said"),
    [
        ("sft/train.jsonl", ["--model", "nova-micro"], "320 records valid for sft of nova-micro (0 exact duplicates)"),
        (
            "sft/train.jsonl",
            ["--model", "nova-micro", "--method", "sft"],
            "320 records valid for sft of nova-micro (0 exact duplicates)",
        ),
        ("rft/train.jsonl", [], "360 records valid for rft of nova-2-lite"),
        ("rft/train.jsonl", ["--model", "nova-2-lite", "--method", "rft"], "360 records valid for rft of nova-2-lite"),
        (
            "distillation/train.jsonl",
            ["--model", "nova-micro"],
            "321 records valid for distillation of nova-micro (0 exact duplicates)",
        ),
        ("sft/test.jsonl", [], "40 records valid as an evaluation split"),
        ("rft/test.jsonl", [], "40 records valid as an evaluation split"),
    ],
)
def test_validate_accepts_every_file_prepare_writes(
    prepared: Path, file: str, arguments: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", str(prepared / file), *arguments])

    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert captured.out == f"{prepared / file}: {said}\n"


def test_an_sft_file_given_as_rft_data_is_refused_with_the_way_out(
    prepared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = prepared / "sft/train.jsonl"

    assert main(["validate", str(path), "--model", "nova-2-lite", "--method", "rft"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {path} is an SFT training file (conversation records ending with the assistant's answer), "
        "not rft data",
        "hint: prepare the data for rft (nova-pipeline prepare --method rft ...), or check this file with --method sft",
    ]


@pytest.mark.parametrize(
    ("file", "method", "found"),
    [
        ("distillation/train.jsonl", "sft", "a distillation training file"),
        ("rft/train.jsonl", "sft", "an RFT training file"),
        ("sft/test.jsonl", "sft", "an evaluation split"),
    ],
)
def test_a_file_of_another_kind_is_refused(
    prepared: Path, file: str, method: str, found: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(prepared / file), "--model", "nova-micro", "--method", method]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"error: {prepared / file} is {found}") and first.endswith(f"not {method} data")


def test_a_csv_file_points_to_prepare(capsys: pytest.CaptureFixture[str]) -> None:
    path = SQL / "train.csv"

    assert main(["validate", str(path), "--model", "nova-micro", "--method", "sft"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: this is CSV: run `nova-pipeline prepare` first\nhint: ")
    assert "invalid JSON" not in err


def test_raw_jsonl_rows_point_to_prepare(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(TICKETS / "tickets.jsonl"), "--model", "nova-micro"]) == 2
    assert "line 1: raw records (fields label, text), not a training file: run `nova-pipeline prepare` first" in (
        capsys.readouterr().err
    )


def test_rft_record_problems_name_line_and_field(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (prepared / "rft/train.jsonl").read_text().splitlines()
    answered = json.loads(lines[1])
    answered["messages"].append({"role": "assistant", "content": "SELECT 1"})
    unreferenced = json.loads(lines[2])
    del unreferenced["reference_answer"]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(answered), json.dumps(unreferenced), *lines[3:]]) + "\n")

    assert main(["validate", str(path), "--method", "rft"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 2 problem(s)",
        "  - train.jsonl line 2: messages[2].role: an RFT record holds no assistant turn (the model answers the last "
        "user turn; the expected answer goes in reference_answer)",
        "  - train.jsonl line 3: reference_answer: is missing or empty",
    ]


def test_rft_on_a_model_without_rft_exits_2_with_the_model_to_use(
    prepared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(prepared / "rft/train.jsonl"), "--model", "nova-micro", "--method", "rft"]) == 2
    err = capsys.readouterr().err
    assert "rft on bedrock is not available for nova-micro" in err
    assert err.endswith("hint: RFT trains nova-2-lite: use --model nova-2-lite\n")


def test_sft_without_a_model_asks_for_one(prepared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(prepared / "sft/train.jsonl")]) == 2
    assert capsys.readouterr().err.endswith("hint: add --model (nova-micro, nova-lite, nova-pro, nova-2-lite)\n")


def test_prepare_takes_the_input_from_the_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_bytes((SQL / "train.csv").read_bytes())
    config = json.loads((ROOT / "examples/sft-text-to-sql-nova-micro.json").read_text())
    config["dataset"]["uri"] = "data/train.csv"  # relative to the configuration's folder
    (tmp_path / "run.json").write_text(json.dumps(config))

    code = main(["prepare", "--config", str(tmp_path / "run.json"), "--output-dir", str(tmp_path / "out")])

    assert code == 0, capsys.readouterr().err
    assert "prepared 400 of 400 records for sft of nova-micro" in capsys.readouterr().out
    assert (tmp_path / "out" / "train.jsonl").is_file()


def test_prepare_with_a_data_bucket_key_as_input_says_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(ROOT / "examples/sft-text-to-sql-nova-micro.json")

    assert main(["prepare", "--config", config, "--output-dir", "/nonexistent"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {config}: dataset.uri 'raw/text-to-sql/' is neither a local file or folder nor an s3:// URI (a key "
        "under raw/ is relative to the data bucket, which prepare does not know)",
        "hint: give --input PATH_OR_S3, or set dataset.uri to a local path or s3://bucket/key",
    ]


def test_prepare_without_input_or_configuration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "--output-dir", "/nonexistent", "--model", "nova-micro"]) == 2
    assert capsys.readouterr().err == (
        "error: give --input PATH_OR_S3, or --config FILE whose dataset.uri names the input\n"
    )
