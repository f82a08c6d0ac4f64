"""Deterministic, order-independent, stratified splits; the training cap; byte-identical re-runs; atomicity."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.prepare import sources as sources_module
from tests.unit.prepare.conftest import qa_rows, read_jsonl, run_prepare


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def membership(folder: Path) -> dict[str, set[str]]:
    return {
        name: {
            r["messages"][0]["content"][0]["text"] if "messages" in r else r["prompt"]
            for r in read_jsonl(folder / f"{name}.jsonl")
        }
        for name in ("train", "validation", "test")
    }


def test_a_record_lands_in_the_same_split_whatever_the_input_order(tmp_path: Path) -> None:
    rows = qa_rows(500)
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)

    run_prepare(write(tmp_path / "a.jsonl", rows), tmp_path / "one")
    run_prepare(write(tmp_path / "b.jsonl", shuffled), tmp_path / "two")

    assert membership(tmp_path / "one") == membership(tmp_path / "two")
    sizes = {name: len(members) for name, members in membership(tmp_path / "one").items()}
    assert 360 <= sizes["train"] <= 440 and sizes["validation"] + sizes["test"] == 500 - sizes["train"]


def test_a_different_seed_draws_a_different_split(tmp_path: Path) -> None:
    source = write(tmp_path / "a.jsonl", qa_rows(200))
    run_prepare(source, tmp_path / "one", split={"seed": 1})
    run_prepare(source, tmp_path / "two", split={"seed": 2})

    assert membership(tmp_path / "one")["test"] != membership(tmp_path / "two")["test"]


def test_re_running_produces_byte_identical_outputs(tmp_path: Path) -> None:
    source = write(tmp_path / "a.jsonl", qa_rows(300))
    run_prepare(source, tmp_path / "one")
    run_prepare(source, tmp_path / "two")

    for name in ("train.jsonl", "validation.jsonl", "test.jsonl", "manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_classification_is_stratified_so_rare_labels_reach_every_split(tmp_path: Path) -> None:
    rows = [{"text": f"common ticket {i}", "label": "common"} for i in range(400)]
    rows += [{"text": f"rare ticket {i}", "label": "rare"} for i in range(3)]
    source = write(tmp_path / "t.jsonl", rows)

    result = run_prepare(
        source,
        tmp_path / "out",
        task="classification",
        dataset={"uri": "x", "columns": {"question": "text", "answer": "label"}},
    )

    assert result.manifest["labels"]["train"]["rare"] == 1
    assert result.manifest["labels"]["validation"]["rare"] == 1
    assert result.manifest["labels"]["test"]["rare"] == 1
    assert result.manifest["labels"]["train"]["common"] == 320
    assert Counter(r["label"] for r in read_jsonl(tmp_path / "out" / "test.jsonl"))["rare"] == 1


def test_training_cap_samples_deterministically(tmp_path: Path) -> None:
    source = write(tmp_path / "a.jsonl", qa_rows(400))
    first = run_prepare(source, tmp_path / "one", split={"maxTrain": 50})
    run_prepare(source, tmp_path / "two", split={"maxTrain": 50})

    assert first.splits["train"].records == 50
    assert first.manifest["records"]["cappedFromTrain"] > 250
    assert (tmp_path / "one" / "train.jsonl").read_bytes() == (tmp_path / "two" / "train.jsonl").read_bytes()


def test_a_failure_while_publishing_leaves_no_manifest_and_no_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path / "a.jsonl", qa_rows(100))
    real_put = sources_module.OutputLocation._put

    def failing_put(self: sources_module.OutputLocation, name: str) -> None:
        if name == "test.jsonl":
            raise OSError("disk full (injected)")
        real_put(self, name)

    monkeypatch.setattr(sources_module.OutputLocation, "_put", failing_put)
    with pytest.raises(OSError, match="disk full"):
        run_prepare(source, tmp_path / "out")

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []


def test_a_failure_while_reading_publishes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(50)) + "{broken json\n")

    from nova_pipeline.prepare.engine import InvalidDataset

    with pytest.raises(InvalidDataset) as caught:
        run_prepare(source, tmp_path / "out")

    assert caught.value.problems == [
        "a.jsonl line 51: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    ]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
