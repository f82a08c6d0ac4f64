"""Every input format in, every method's output format out, and the manifest."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.unit.prepare.conftest import qa_rows, read_jsonl, run_prepare

SQL = {
    "columns": {"question": "question", "answer": "answer", "context": "context"},
}


def test_csv_with_bom_crlf_quoted_multiline_fields_and_a_delimiter(tmp_path: Path) -> None:
    lines = ["question;answer;context"]
    for i in range(12):
        lines.append(f'"How many rows\nare in t{i}?";"SELECT COUNT(*) FROM t{i}";"CREATE TABLE t{i} (a INTEGER)"')
    source = tmp_path / "data.csv"
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")

    result = run_prepare(
        source,
        tmp_path / "out",
        dataset={"uri": "x", "delimiter": ";", **SQL},
        task="text-to-sql",
        prompt={"system": "Schema: {context}", "userTemplate": "Q: {question}"},
        split={"train": 1.0, "validation": 0.0, "test": 0.0},
    )

    [first, *_] = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert result.manifest["records"]["accepted"] == 12
    assert (
        first["system"][0]["text"]
        == "Schema: (the context is given in the user's message, between <context> and </context>)"
    )
    assert first["messages"][0]["content"][0]["text"].startswith("<context>\nCREATE TABLE t")
    assert "</context>\n\nQ: How many rows\nare in t" in first["messages"][0]["content"][0]["text"]


def test_json_array_jsonl_and_gzip_under_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = qa_rows(30)
    (folder / "a.json").write_text(json.dumps(rows[:10]))
    (folder / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[10:20]))
    (folder / "c.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows[20:]).encode()))
    (folder / "notes.txt").write_text("ignored")

    result = run_prepare(folder, tmp_path / "out")

    assert [i["uri"].rsplit("/", 1)[-1] for i in result.manifest["inputs"]] == ["a.json", "b.jsonl", "c.jsonl.gz"]
    assert result.manifest["records"]["read"] == 30


def test_records_already_in_bedrock_or_openai_chat_format(write_jsonl: Any, tmp_path: Path) -> None:
    bedrock = [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"text": f"q{i}"}]},
                {"role": "assistant", "content": [{"text": f"a{i}"}]},
            ],
        }
        for i in range(10)
    ]
    openai = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"o{i}"},
                {"role": "assistant", "content": f"b{i}"},
            ]
        }
        for i in range(10)
    ]
    write_jsonl("bedrock.jsonl", bedrock)
    write_jsonl("openai.jsonl", openai)

    run_prepare(tmp_path / "in", tmp_path / "out", split={"train": 1.0, "validation": 0.0, "test": 0.0})

    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert len(records) == 20
    assert all(r["system"] == [{"text": "Be brief."}] and len(r["messages"]) == 2 for r in records)


def test_sft_rft_and_distillation_outputs_and_the_evaluation_split(write_jsonl: Any, tmp_path: Path) -> None:
    rows = [
        {
            "text": f"ticket {i} about my invoice" if i % 2 else f"ticket {i}: app crashes",
            "label": "billing" if i % 2 else "bug",
        }
        for i in range(300)
    ]
    source = write_jsonl("t.jsonl", rows)
    common: dict[str, Any] = {
        "dataset": {"uri": "x", "columns": {"question": "text", "answer": "label"}},
        "task": "classification",
        "prompt": {"system": "Label it."},
    }

    run_prepare(source, tmp_path / "sft", **common)
    run_prepare(
        source,
        tmp_path / "rft",
        **common,
        baseModel="nova-2-lite",
        method="rft",
        rft={"grader": "label"},
        split={"train": 0.9, "validation": 0.0, "test": 0.1},
    )
    run_prepare(source, tmp_path / "distill", **common, method="distillation")

    sft = read_jsonl(tmp_path / "sft" / "train.jsonl")[0]
    assert sft["schemaVersion"] == "bedrock-conversation-2024"
    assert [m["role"] for m in sft["messages"]] == ["user", "assistant"]
    rft = read_jsonl(tmp_path / "rft" / "train.jsonl")[0]
    assert [m["role"] for m in rft["messages"]] == ["system", "user"]
    assert rft["reference_answer"] in ("billing", "bug") and rft["grader"] == "label"
    assert rft["labels"] == ["billing", "bug"] and rft["task"] == "classification"
    assert not (tmp_path / "rft" / "validation.jsonl").exists()
    distilled = read_jsonl(tmp_path / "distill" / "train.jsonl")[0]
    assert [m["role"] for m in distilled["messages"]] == ["user"]
    test = read_jsonl(tmp_path / "sft" / "test.jsonl")[0]
    assert set(test) == {"id", "system", "prompt", "reference", "label"}


def test_manifest_lists_counts_labels_tokens_fixes_hashes_and_configuration(write_jsonl: Any, tmp_path: Path) -> None:
    rows = [
        {"question": f"What does Assistant: mean in case {i}?", "answer": f"It is a role marker {i}."}
        for i in range(40)
    ] + [{"question": "What does Assistant: mean in case 0?", "answer": "It is a role marker 0."}]
    run_prepare(write_jsonl("d.jsonl", rows), tmp_path / "out")

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["records"] == {
        "read": 41,
        "accepted": 40,
        "duplicatesDropped": 1,
        "rejected": 0,
        "cappedFromTrain": 0,
        "cappedFromValidation": 0,
    }
    assert manifest["fixes"] == {"reservedStrings": 40}  # counted in the records kept
    assert sum(o["records"] for o in manifest["outputs"].values()) == 40
    assert manifest["tokens"]["estimator"] == "characters / 3, rounded up (conservative)"
    import hashlib

    for output in manifest["outputs"].values():
        assert hashlib.sha256((tmp_path / "out" / output["file"]).read_bytes()).hexdigest() == output["sha256"]
    assert manifest["configuration"]["baseModel"] == "nova-micro"
    train = (tmp_path / "out" / "train.jsonl").read_text()
    assert "Assistant :" in train and "Assistant:" not in train
