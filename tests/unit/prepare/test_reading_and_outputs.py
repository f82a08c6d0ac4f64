"""Reading edge cases (JSON arrays streamed, header problems, CR line breaks) and what the outputs keep (media,
labels under a cap, exact split sizes, ids)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.prepare import reading
from nova_pipeline.prepare.engine import InvalidDataset, prepare
from nova_pipeline.prepare.sources import OutputLocation, list_sources
from tests.unit.prepare.conftest import qa_rows, read_jsonl, run_config, run_prepare

ALL_TRAIN = {"train": 1.0, "validation": 0.0, "test": 0.0}


def problems_of(source: Path, tmp_path: Path, **overrides: Any) -> list[str]:
    with pytest.raises(InvalidDataset) as caught:
        run_prepare(source, tmp_path / "out", **overrides)
    return caught.value.problems


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "BLOCK_BYTES", 64)  # every element spans several blocks


def test_a_json_array_is_read_element_by_element(tmp_path: Path, small_blocks: None) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps(qa_rows(120), indent=2), encoding="utf-8")

    result = run_prepare(source, tmp_path / "out", split=ALL_TRAIN)

    assert result.manifest["records"]["read"] == 120
    first = read_jsonl(tmp_path / "out" / "train.jsonl")[0]["messages"][0]["content"][0]["text"]
    assert first == "q question number 0 about topic 0"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            '[\n  {"question": "a", "answer": "b"},\n  {"question": "c" "answer": "d"}\n]',
            "data.json line 3: invalid JSON: Expecting ',' delimiter",
        ),
        ('[{"question": "a", "answer": "b"}, 7]', "data.json record 2: expected a JSON object"),
        (
            '[{"question": "a", "answer": "b"}]\n{"more": 1}',
            "data.json line 2: invalid JSON: extra data after the array",
        ),
        ('[{"question": "a", "answer": "b"},\n', "data.json line 2: invalid JSON: the array is not closed"),
        ('{"question": "a"}', "data.json: expected a JSON array of records (use .jsonl for one record per line)"),
    ],
)
def test_json_array_problems_name_the_line_or_record(
    tmp_path: Path, small_blocks: None, document: str, message: str
) -> None:
    source = tmp_path / "data.json"
    source.write_text(document, encoding="utf-8")

    assert problems_of(source, tmp_path) == [message]


def test_csv_header_problems(tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("\nquestion,answer\nq,a\n", encoding="utf-8")
    assert problems_of(source, tmp_path) == [
        "data.csv line 1: the header row is empty; the first line must name the columns"
    ]
    source.write_text("", encoding="utf-8")
    assert problems_of(source, tmp_path) == ["data.csv: empty file (a header row is required)"]
    source.write_text("question,answer\n", encoding="utf-8")
    assert problems_of(source, tmp_path) == ["train split: 0 records; nova-micro sft needs at least 8"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_csv_file_with_cr_line_breaks(tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "BLOCK_BYTES", 256)
    source = tmp_path / "old-mac.csv"
    source.write_bytes(b"question,answer\r" + b"".join(f"question {i},answer {i}\r".encode() for i in range(300)))

    result = prepare(
        list_sources(str(source)),
        run_config(split=ALL_TRAIN),
        OutputLocation(str(tmp_path / "o")),
        workers=workers,
        chunk_bytes=300,
    )

    assert result.manifest["records"]["accepted"] == 300


def image(uri: str) -> dict[str, Any]:
    return {"image": {"format": "png", "source": {"s3Location": {"uri": uri}}}}


def test_images_stay_in_the_training_records_and_tell_records_apart(tmp_path: Path) -> None:
    rows = [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {
                    "role": "user",
                    "content": [{"text": "What is in the picture?"}, image(f"s3://data/raw/{i % 10}.png")],
                },
                {"role": "assistant", "content": [{"text": "a cat"}]},
            ],
        }
        for i in range(12)
    ]
    source = tmp_path / "images.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    result = prepare(
        list_sources(str(source)),
        run_config(baseModel="nova-lite", split=ALL_TRAIN),
        OutputLocation(str(tmp_path / "out")),
        data_bucket="data",
    )

    assert result.manifest["records"]["accepted"] == 10  # the same text with ten different images
    assert result.manifest["records"]["duplicatesDropped"] == 2  # the same text and the same image
    first = read_jsonl(tmp_path / "out" / "train.jsonl")[0]
    assert first["messages"][0]["content"] == [{"text": "What is in the picture?"}, image("s3://data/raw/0.png")]


def test_the_training_cap_is_shared_over_labels_so_rare_labels_stay(tmp_path: Path) -> None:
    rows = [{"text": f"common ticket {i}", "label": "common"} for i in range(900)]
    rows += [{"text": f"rare ticket {i}", "label": "rare"} for i in range(5)]
    source = tmp_path / "t.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    result = run_prepare(
        source,
        tmp_path / "out",
        task="classification",
        dataset={"uri": "x", "columns": {"question": "text", "answer": "label"}},
        split={"maxTrain": 40},
    )

    assert result.manifest["labels"]["train"] == {"common": 39, "rare": 1}
    assert result.manifest["records"]["cappedFromTrain"] == 723 - 40  # 720 common and 3 of the 5 rare in train
    assert Counter(r["messages"][1]["content"][0]["text"] for r in read_jsonl(tmp_path / "out" / "train.jsonl")) == {
        "common": 39,
        "rare": 1,
    }


def test_splits_have_the_exact_proportions(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(1000)), encoding="utf-8")

    result = run_prepare(source, tmp_path / "out")

    assert {name: split.records for name, split in result.splits.items()} == {
        "train": 800,
        "validation": 100,
        "test": 100,
    }


def test_an_evaluation_id_names_the_example_whatever_the_seed(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(300)), encoding="utf-8")
    run_prepare(source, tmp_path / "one", split={"seed": 1})
    run_prepare(source, tmp_path / "two", split={"seed": 2})

    ids = {name: {r["prompt"]: r["id"] for r in read_jsonl(tmp_path / name / "test.jsonl")} for name in ("one", "two")}
    shared = ids["one"].keys() & ids["two"].keys()
    assert shared and all(ids["one"][prompt] == ids["two"][prompt] for prompt in shared)
    assert ids["one"].keys() != ids["two"].keys()  # a different seed, a different test split


def test_an_empty_answer_cell_is_reported_as_an_empty_assistant_turn(tmp_path: Path) -> None:
    source = tmp_path / "d.csv"
    source.write_text("question,answer\n" + "".join(f"q {i},a {i}\n" for i in range(10)) + "q 10,\n")

    assert problems_of(source, tmp_path) == ["d.csv line 12: messages[1].content[0].text: is empty"]


@pytest.mark.parametrize(("cpu_max", "expected"), [("max 100000\n", 4), ("200000 100000\n", 2), ("50000 100000", 1)])
def test_workers_follow_the_cpu_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu_max: str, expected: int
) -> None:
    from nova_pipeline.prepare import parallel

    (tmp_path / "cpu.max").write_text(cpu_max)
    monkeypatch.setattr(parallel, "CPU_MAX", tmp_path / "cpu.max")
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})

    assert parallel.usable_cpus() == expected
