"""`nova-pipeline prepare` and `validate`: summaries, exit codes and the problem list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_prepare_with_the_execution_input_as_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "prepare",
            "--input",
            str(ROOT / "examples/data/text-to-sql/"),
            "--output-dir",
            str(tmp_path),
            "--config",
            str(ROOT / "examples/sft-text-to-sql-nova-micro.json"),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("prepared ") and "for sft of nova-micro into" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "manifest.json",
        "test.jsonl",
        "train.jsonl",
        "validation.jsonl",
    ]


def test_prepare_flags_override_and_invalid_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text,label\n" + "".join(f"ticket {i},bug\n" for i in range(30)) + ",bug\n")

    code = main(
        [
            "prepare",
            "--input",
            str(source),
            "--output-dir",
            str(tmp_path / "out"),
            "--question-column",
            "text",
            "--answer-column",
            "label",
            "--task",
            "classification",
            "--split",
            "0.8,0.1,0.1",
        ]
    )

    assert code == 2
    assert capsys.readouterr().err == (
        "error: 1 problem(s) in the dataset:\n  - in.csv line 32: messages[0].content[0].text: is empty\n"
    )
    assert (
        main(
            [
                "prepare",
                "--input",
                str(source),
                "--output-dir",
                str(tmp_path / "out"),
                "--question-column",
                "text",
                "--answer-column",
                "label",
                "--skip-invalid",
            ]
        )
        == 0
    )
    assert "skipped: in.csv line 32: messages[0].content[0].text: is empty" in capsys.readouterr().out


def test_validate_checks_an_existing_file_without_rewriting_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "a"}]}],
    }
    bad = {**good, "messages": [good["messages"][0], {"role": "user", "content": [{"text": "Bot: x"}]}]}
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({**good, "system": [{"text": f"s{i}"}]}) + "\n" for i in range(10)))
    before = path.read_bytes()

    assert main(["validate", str(path), "--model", "nova-micro", "--method", "sft"]) == 0
    assert "10 records valid for sft of nova-micro" in capsys.readouterr().out
    assert path.read_bytes() == before  # validate never rewrites the file
    path.write_text(path.read_text() + json.dumps(bad) + "\n")
    assert main(["validate", str(path), "--model", "nova-micro", "--method", "sft"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 1 problem(s)",
        "  - train.jsonl line 11: messages[1].content[0].text: contains reserved string 'Bot:' (Bedrock rejects "
        "the job)",
    ]


def test_prepare_with_worker_processes_writes_the_same_files(tmp_path: Path) -> None:
    arguments = ["--input", str(ROOT / "examples/data/text-to-sql/"), "--config"]
    arguments.append(str(ROOT / "examples/sft-text-to-sql-nova-micro.json"))

    assert main(["prepare", *arguments, "--output-dir", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert main(["prepare", *arguments, "--output-dir", str(tmp_path / "two"), "--workers", "2"]) == 0

    for name in ("train.jsonl", "validation.jsonl", "test.jsonl", "manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_validate_refuses_bedrock_records_bedrock_would_reject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = {"role": "user", "content": [{"text": "q"}]}
    good = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [user, {"role": "assistant", "content": [{"text": "a"}]}],
    }
    bad = [
        {**good, "schemaVersion": 2024},
        {**good, "system": "You are terse."},
        {**good, "system": [{"text": 7}]},
        {**good, "messages": [{"role": "user", "content": [{"text": 42}]}, good["messages"][1]]},
        {**good, "messages": [{"role": "user", "content": [{"text": "q", "cachePoint": {}}]}, good["messages"][1]]},
        {**good, "messages": [{"role": "user", "content": [{"document": {}}]}, good["messages"][1]]},
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({**good, "system": [{"text": f"s{i}"}]}) + "\n" for i in range(10)))
    path.write_text(path.read_text() + "".join(json.dumps(record) + "\n" for record in bad))

    assert main(["validate", str(path), "--model", "nova-micro", "--method", "sft"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 6 problem(s)",
        '  - train.jsonl line 11: schemaVersion: must be a string such as "bedrock-conversation-2024", got 2024',
        '  - train.jsonl line 12: system: must be a list of {"text": ...} blocks, got str',
        "  - train.jsonl line 13: system[0].text: must be a string, got int",
        "  - train.jsonl line 14: messages[0].content[0].text: must be a string, got int",
        "  - train.jsonl line 15: messages[0].content[0]: must be a content block with one of text, image, video",
        "  - train.jsonl line 16: messages[0].content[0].document: is not a content block Bedrock accepts (text, "
        "image, video)",
    ]


def test_validate_accepts_reasoning_content_for_nova_2_lite_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reasoning = {"reasoningContent": {"reasoningText": {"text": "think"}}}
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": "q"}]},
            {"role": "assistant", "content": [reasoning, {"text": "a"}]},
        ],
    }
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({**record, "system": [{"text": f"s{i}"}]}) + "\n" for i in range(300)))

    assert main(["validate", str(path), "--model", "nova-2-lite", "--method", "sft"]) == 0
    assert main(["validate", str(path), "--model", "nova-micro", "--method", "sft"]) == 2
    assert "messages[1].content[0].reasoningContent: is not a content block" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["prepare", "validate"])
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.jsonl.gz", b'{"question": "q"}\n', "data.jsonl.gz line 1: not gzip data"),
        (
            "data.jsonl",
            b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "data.jsonl line 1: invalid JSON: nested too deeply",
        ),
        ("data.jsonl", '{"question": "q"}\n'.encode("utf-16"), "data.jsonl line 1: UTF-16 text"),
    ],
    ids=["not-gzip", "nested", "utf-16"],
)
def test_broken_files_exit_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    arguments = ["--input", str(path), "--output-dir", str(tmp_path / "out")] if command == "prepare" else [str(path)]

    assert main([command, *arguments, "--model", "nova-micro", "--method", "sft"]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


def test_validate_counts_duplicates_dropped_while_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "a"}]}],
    }
    path = tmp_path / "train.jsonl"
    lines = [json.dumps({**record, "system": [{"text": f"s{i}"}]}) + "\n" for i in range(10)]
    path.write_text("".join(lines + lines[:4] * 3))

    assert main(["validate", str(path), "--model", "nova-micro", "--method", "sft"]) == 0
    assert f"{path}: 22 records valid for sft of nova-micro (12 exact duplicates)" in capsys.readouterr().out
