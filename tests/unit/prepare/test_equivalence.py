"""The engine's shortcuts change nothing: the fast path writes what the reference path writes, and chunks read by
worker processes give what one stream gives, byte for byte, problems and line numbers included."""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.prepare.fast import RawPlan
from nova_pipeline.prepare.normalize import Normalizer
from nova_pipeline.prepare.sources import OutputLocation, list_sources
from tests.unit.prepare.conftest import run_config

# Pieces that each trip one rule of the reference path, or come close to it.
FRAGMENTS = [
    "plain words",
    "SELECT a FROM t WHERE b < 5 AND c > 2",
    "x",
    "é",
    "e\u0301",  # decomposed: not NFC
    "\u1100",  # Hangul leading consonant: composes with a following vowel
    "\u1161",
    "user",
    "User:",
    "USER :",
    "assistant",
    "Assistant",
    ":",
    "[",
    "[EOS]",
    "[eos",
    "<image>",
    "<Video>",
    "<",
    " ",
    "  ",
    "\t",
    "\n",
    " \n",
    "\r\n",
    "\u00a0",
    "\x07",
    "\x1b",
    "\u200b",
    "\u212a",  # Kelvin sign: lower-cases to an ASCII k
    "\u0130",  # I with dot: lower-cases to two characters
    "{",
    "}",
    "{question}",
    "'quoted'",
    '"double"',
    ",",
    ";",
]


def value(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return ""
    return "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 4)))


def corpus(count: int, seed: int, dirty: float = 0.5) -> list[dict[str, str]]:
    """Rows of which a share `dirty` is drawn from the fragments; the rest are clean, for the fast path."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        clean = rng.random() >= dirty
        rows.append(
            {
                "question": f"question {i} about item {i % 13}" if clean else value(rng),
                "answer": f"answer {i % 4}" if clean else value(rng),
                "context": f"CREATE TABLE t{i % 5} (a INTEGER)" if clean else value(rng),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], *, crlf: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n" if crlf else "\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def prepared(source: Path, output: Path, **kwargs: Any) -> dict[str, bytes]:
    from nova_pipeline.prepare.engine import prepare

    workers, chunk_bytes, progress = (
        kwargs.pop("workers", 1),
        kwargs.pop("chunk_bytes", 4 << 20),
        kwargs.pop("progress", None),
    )
    prepare(
        list_sources(str(source)),
        run_config(**kwargs),
        OutputLocation(str(output)),
        workers=workers,
        chunk_bytes=chunk_bytes,
        progress=progress,
    )
    return outputs(output)


CONFIGURATIONS: list[dict[str, Any]] = [
    {
        "task": "text-to-sql",
        "dataset": {"uri": "x", "columns": {"context": "context"}, "onInvalid": "skip"},
        "prompt": {"system": "Schema: {context}", "userTemplate": "Q: {question}"},
    },
    {"task": "generation", "dataset": {"uri": "x", "onInvalid": "skip"}},
    {
        "task": "classification",
        "dataset": {"uri": "x", "onInvalid": "skip"},
        "prompt": {"system": "Label the question.", "userTemplate": "{question} (context: {context})"},
    },
    {
        "task": "generation",
        "dataset": {"uri": "x", "onInvalid": "skip"},
        "prompt": {"userTemplate": "A {question} B {context} C {answer} D"},
    },
    {"task": "generation", "method": "distillation", "dataset": {"uri": "x", "onInvalid": "skip"}},
    {
        "task": "generation",
        "dataset": {"uri": "x", "onInvalid": "skip", "sanitize": "reject"},
        "prompt": {"system": "Answer briefly", "userTemplate": "{question}"},
    },
]


@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=lambda c: f"{c['task']}-{c.get('method', 'sft')}")
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("dirty", [0.5, 0.002], ids=["mixed", "mostly-clean"])
def test_the_fast_path_writes_what_the_reference_path_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configuration: dict[str, Any], fmt: str, dirty: float
) -> None:
    rows = corpus(1_500 if dirty < 0.5 else 600, seed=len(fmt) + len(str(configuration)), dirty=dirty)
    source = (write_csv if fmt == "csv" else write_jsonl)(tmp_path / f"data.{fmt}", rows)  # type: ignore[operator]
    reference_calls: list[int] = []
    real_reference = Normalizer._reference

    def counting(self: Normalizer, *args: Any) -> None:
        reference_calls.append(1)
        real_reference(self, *args)

    monkeypatch.setattr(Normalizer, "_reference", counting)
    fast = prepared(source, tmp_path / "fast", **configuration)
    fast_calls = len(reference_calls)
    monkeypatch.setattr(RawPlan, "compile", classmethod(lambda cls, *args, **kwargs: None))
    reference_calls.clear()
    reference = prepared(source, tmp_path / "reference", **configuration)

    assert fast == reference
    read = json.loads(fast["manifest.json"])["records"]["read"]  # whitespace-only CSV rows are blank, not records
    assert len(reference_calls) == read >= len(rows) - 5  # the reference run took every record that way
    assert fast_calls < read * (dirty + 0.1)  # and the fast run took most clean rows through the fast path


def test_a_template_the_fast_path_cannot_prove_uses_the_reference_path(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "d.csv", [{"question": f"case {i}: ask the user", "answer": "ok"} for i in range(10)])
    # "user" + ":" across the placeholder would be a reserved string only the reference path sees and fixes.
    run = run_config(prompt={"userTemplate": "{question}: what?"})

    assert RawPlan.compile(run, ["question", "answer"], positional=True) is None
    result = prepared(
        source,
        tmp_path / "out",
        prompt={"userTemplate": "{question}: what?"},
        split={"train": 1.0, "validation": 0.0, "test": 0.0},
    )
    manifest = json.loads(result["manifest.json"])
    assert manifest["fixes"] == {"reservedStrings": 10}
    assert b"case 0: ask the user : what?" in result["train.jsonl"]


@pytest.mark.parametrize(
    ("header", "record_format", "problem"),
    [
        ("question,answer", "bedrock-conversation", "messages: is missing or not a list"),
        ("question,answer,messages", "auto", "messages: is missing or not a list"),
    ],
)
def test_csv_rows_read_as_chat_records_take_the_reference_path(
    tmp_path: Path, header: str, record_format: str, problem: str
) -> None:
    from nova_pipeline.prepare.engine import InvalidDataset

    columns = header.split(",")
    source = tmp_path / "d.csv"
    source.write_text(header + "\n" + "".join(",".join(f"{c} {i}" for c in columns) + "\n" for i in range(10)))

    with pytest.raises(InvalidDataset) as caught:
        prepared(source, tmp_path / "out", dataset={"uri": "x", "recordFormat": record_format})

    assert caught.value.total == 10
    assert caught.value.problems[0] == f"d.csv line 2: {problem}"


def mixed_inputs(folder: Path) -> Path:
    """A CSV with BOM, CRLF, quoted multi-line fields, blank lines and invalid rows, plus JSONL, a JSON array and
    a gzipped JSONL file."""
    rows = corpus(900, seed=5)
    for i in range(0, 900, 7):
        rows[i]["question"] = f"line one of {i}\nline two of {i}"
    path = write_csv(folder / "a.csv", rows, crlf=True)
    data = path.read_bytes().replace(b"\r\n", b"\r\n\r\n", 40)  # blank lines among the first records
    path.write_bytes(b"\xef\xbb\xbf" + data)
    write_jsonl(folder / "b.jsonl", corpus(700, seed=6))
    (folder / "c.json").write_text(json.dumps(corpus(500, seed=7)), encoding="utf-8")
    (folder / "d.jsonl.gz").write_bytes(
        gzip.compress("".join(json.dumps(row) + "\n" for row in corpus(400, seed=8)).encode())
    )
    return folder


def test_chunks_read_by_worker_processes_give_what_one_stream_gives(tmp_path: Path) -> None:
    folder = mixed_inputs(tmp_path / "in")
    configuration = CONFIGURATIONS[0]

    one_stream = prepared(folder, tmp_path / "one", workers=1, **configuration)
    workers = prepared(folder, tmp_path / "two", workers=2, chunk_bytes=2_000, **configuration)
    three = prepared(folder, tmp_path / "three", workers=3, chunk_bytes=7_919, **configuration)

    assert one_stream == workers == three
    manifest = json.loads(one_stream["manifest.json"])
    assert manifest["records"]["read"] == 2500 and manifest["problems"]["count"] > 100
    assert any(" line 3" in problem for problem in manifest["problems"]["first"])  # numbered past the blank lines


def test_a_quote_inside_an_unquoted_field_falls_back_to_one_stream(tmp_path: Path) -> None:
    lines = ["question,answer", 'What does a 5" screen weigh?,about 200 g']
    lines += [f'"multi\nline question {i}",answer {i}' for i in range(300)]
    source = tmp_path / "quotes.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    messages: list[str] = []

    one_stream = prepared(source, tmp_path / "one", workers=1)
    workers = prepared(source, tmp_path / "two", workers=2, chunk_bytes=500, progress=messages.append)

    assert workers == one_stream
    assert json.loads(workers["manifest.json"])["records"]["accepted"] == 301
    assert any("a chunk ended inside a quoted field" in m and "reading the input in one stream" in m for m in messages)


def failure(prepare_call: Callable[[], object]) -> str:
    from nova_pipeline.prepare.engine import InvalidDataset

    with pytest.raises(InvalidDataset) as caught:
        prepare_call()
    assert caught.value.total == 1
    return caught.value.problems[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_first_unreadable_line_in_input_order_is_reported_whatever_the_workers(
    tmp_path: Path, workers: int
) -> None:
    lines = ["question,answer"] + [f"question {i},answer {i}" for i in range(2000)]
    lines[700] = "question 700,answer,one field too many"
    source = tmp_path / "data.csv"
    source.write_bytes("\n".join(lines).encode() + b"\nbad \xff byte,x\n")

    message = failure(lambda: prepared(source, tmp_path / "out", workers=workers, chunk_bytes=3_000))

    assert message == ("data.csv line 701: 3 fields, the header has 2 (check the delimiter ',' and quoting)")
    source.write_bytes("\n".join(lines[:700]).encode() + b"\nbad \xff byte,x\n")
    message = failure(lambda: prepared(source, tmp_path / "out", workers=workers, chunk_bytes=3_000))
    assert message.startswith("data.csv line 701: not UTF-8 text (invalid start byte at byte ")
    assert message.endswith("); save the file as UTF-8")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_worker_that_dies_fails_the_run_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from nova_pipeline.prepare.parallel import WorkerError

    source = write_csv(tmp_path / "d.csv", [{"question": f"q {i}", "answer": f"a {i}"} for i in range(3000)])
    real = Normalizer.normalize

    def dying(self: Normalizer, chunk: int, *args: Any, **kwargs: Any) -> Any:
        if chunk == 3:
            os._exit(3)  # what an out-of-memory kill looks like to the parent
        return real(self, chunk, *args, **kwargs)

    monkeypatch.setattr(Normalizer, "normalize", dying)
    with pytest.raises(WorkerError, match=r"a data preparation worker stopped \(exit code 3\)"):
        prepared(source, tmp_path / "out", workers=2, chunk_bytes=2_000)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
