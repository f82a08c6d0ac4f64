"""Bad and hostile input files: bounded memory, no traceback, a problem naming the file and the line.

Each case runs in one stream (`workers=1`) and cut into chunks for worker processes (`workers=2`), the two ways the
engine reads; the first problem in input order is the same either way.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.prepare import sources
from nova_pipeline.prepare.engine import InvalidDataset, normalize, prepare
from nova_pipeline.prepare.normalize import INDEX_ROW
from nova_pipeline.prepare.sources import OutputLocation, list_sources
from tests.unit.prepare.conftest import qa_rows, read_jsonl, run_config

WORKERS = pytest.mark.parametrize("workers", [1, 2])
LIMIT = 32_000 * 128  # nova-micro's context of 32,000 tokens x 128 bytes a token
TOO_LONG = (
    f"line longer than {LIMIT:,} bytes; a record must fit nova-micro's context of 32,000 tokens, and no such record "
    "needs more than 128 bytes a token (check for a missing line break, or shorten the record)"
)


def problems(source: Path, tmp_path: Path, workers: int, **overrides: Any) -> list[str]:
    run = run_config(baseModel="nova-micro", **overrides)
    with pytest.raises(InvalidDataset) as caught:
        prepare(list_sources(str(source)), run, OutputLocation(str(tmp_path / "out")), workers=workers)
    return caught.value.problems


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


# ---------------------------------------------------------------------------------------------- over-long records
@WORKERS
@pytest.mark.parametrize(
    ("name", "prefix", "message"),
    [
        ("data.jsonl.gz", b'{"question": "', f"data.jsonl.gz line 3: {TOO_LONG}"),
        ("data.csv.gz", b'"', f"data.csv.gz line 4: {TOO_LONG}"),
        (
            "data.json.gz",
            b'{"question": "',
            f"data.json.gz record 3 (line 4): {TOO_LONG.replace('line longer', 'element longer')}",
        ),
    ],
    ids=["jsonl", "csv", "json-array"],
)
def test_a_huge_line_is_refused_with_its_line_before_it_is_read_whole(
    tmp_path: Path, workers: int, name: str, prefix: bytes, message: str
) -> None:
    # 64 MiB in one line, 65 KB compressed: reading it whole (as readline does) would hold it several times over.
    rows = qa_rows(2)
    head = {
        "data.jsonl.gz": jsonl(rows),
        "data.csv.gz": b"question,answer\n" + b"".join(f"{r['question']},{r['answer']}\n".encode() for r in rows),
        "data.json.gz": b"[\n" + b"".join(json.dumps(r).encode() + b",\n" for r in rows),
    }[name]
    source = tmp_path / name
    source.write_bytes(gzip.compress(head + prefix + b"x" * (64 << 20), compresslevel=1))

    tracemalloc.start()
    try:
        found = problems(source, tmp_path, workers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert found == [message]
    assert peak < 32 << 20  # a few copies of the 4 MB limit at most, never the 64 MiB line


@WORKERS
def test_a_huge_quoted_csv_field_of_many_short_lines_is_refused(tmp_path: Path, workers: int) -> None:
    source = tmp_path / "data.csv"
    source.write_bytes(b"question,answer\nq,a\n" + b'"' + (b"x" * 99 + b"\n") * 50_000 + b'",a\n')

    found = problems(source, tmp_path, workers)

    assert len(found) == 1
    assert found[0].startswith("data.csv line ")
    assert found[0].endswith(
        f"field longer than {LIMIT:,} bytes; a record must fit a Nova model's context of 32,000 tokens, and no such "
        "record needs more than 128 bytes a token (check for a missing line break, or shorten the record)"
    )


@WORKERS
def test_a_line_at_the_limit_is_read_and_judged_by_its_tokens(tmp_path: Path, workers: int) -> None:
    source = tmp_path / "data.jsonl"
    long_row = {"question": "x" * (LIMIT - 40), "answer": "a"}
    source.write_bytes(jsonl([*qa_rows(20), long_row]))
    assert LIMIT - 50 < len(jsonl([long_row])) <= LIMIT + 1

    found = problems(source, tmp_path, workers)

    assert len(found) == 1
    assert found[0].startswith("data.jsonl line 21: record: estimated 1,365,3")  # the token rule, not the reader's


# ---------------------------------------------------------------------------------------- decompression bombs
@WORKERS
def test_a_gzip_expanding_beyond_the_ratio_is_refused_as_a_bomb(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "GZIP_RATIO_FLOOR", 256 << 10)
    source = tmp_path / "data.jsonl.gz"
    source.write_bytes(gzip.compress(jsonl(qa_rows(10)) + jsonl([{"question": "same", "answer": "same"}] * 100_000)))
    limit = 200 * source.stat().st_size
    assert 256 << 10 < limit < 100_000 * 36  # expands more than 200 times

    found = problems(source, tmp_path, workers)

    assert len(found) == 1
    assert found[0].startswith("data.jsonl.gz line ")
    assert found[0].split(": ", 1)[1] == (
        f"decompresses to more than {limit:,} bytes (the limit is 200x its compressed size of "
        f"{source.stat().st_size:,} bytes, at least 0 MiB and at most 10 GiB): a decompression bomb, or data so "
        "repetitive it should be deduplicated first; upload large inputs uncompressed or in several objects"
    )


def test_a_gzip_beyond_the_absolute_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_DECOMPRESSED_BYTES", 64 << 10)
    source = tmp_path / "data.jsonl.gz"
    source.write_bytes(gzip.compress(jsonl(qa_rows(3000))))

    found = problems(source, tmp_path, 1)

    assert "decompresses to more than 65,536 bytes" in found[0]


def test_an_ordinary_gzip_is_read_as_before(tmp_path: Path) -> None:
    source = tmp_path / "data.jsonl.gz"
    source.write_bytes(gzip.compress(jsonl(qa_rows(200))))

    result = prepare(list_sources(str(source)), run_config(), OutputLocation(str(tmp_path / "out")))

    assert result.manifest["records"]["read"] == 200


# ------------------------------------------------------------------------------------------ broken files
def _truncated(rows: int) -> bytes:
    whole = gzip.compress(
        b"".join(f'{{"question": "q{i} {i * 7919}", "answer": "a{i}"}}\n'.encode() for i in range(rows))
    )
    return whole[: len(whole) // 2]


def _corrupt() -> bytes:
    whole = bytearray(gzip.compress(jsonl(qa_rows(2000))))
    whole[len(whole) // 2 : len(whole) // 2 + 64] = bytes(64)
    return bytes(whole)


@WORKERS
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "data.jsonl.gz",
            jsonl(qa_rows(20)),
            "data.jsonl.gz line 1: not gzip data (Not a gzipped file (b'{\"')); the name ends in .gz, so the file "
            "must be gzip-compressed (rename it or compress it)",
        ),
        (
            "data.jsonl.gz",
            _truncated(20_000),
            "the gzip data ends early (a truncated file or an interrupted upload); upload the whole file again",
        ),
        ("data.jsonl.gz", _corrupt(), "corrupt gzip data"),
        (
            "data.jsonl",
            jsonl(qa_rows(3)) + b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "data.jsonl line 4: invalid JSON: nested too deeply (more than about 1,000 levels of arrays and objects)",
        ),
        (
            "data.json",
            b"[\n"
            + b'{"question": "q", "answer": "a"},\n' * 3
            + b'{"question": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}]",
            "data.json line 5: invalid JSON: nested too deeply (more than about 1,000 levels of arrays and objects)",
        ),
        (
            "data.jsonl",
            jsonl(qa_rows(3)).decode().encode("utf-16"),
            "data.jsonl line 1: UTF-16 text (it starts with a UTF-16 byte order mark); save the file as UTF-8",
        ),
        (
            "data.csv",
            "question,answer\nq,a\n".encode("utf-16"),
            "data.csv line 1: UTF-16 text (it starts with a UTF-16 byte order mark); save the file as UTF-8",
        ),
        (
            "data.json",
            json.dumps(qa_rows(3)).encode("utf-16"),
            "data.json line 1: UTF-16 text (it starts with a UTF-16 byte order mark); save the file as UTF-8",
        ),
    ],
    ids=[
        "not-gzip",
        "truncated-gzip",
        "corrupt-gzip",
        "jsonl-nested",
        "json-nested",
        "utf16-jsonl",
        "utf16-csv",
        "utf16-json",
    ],
)
def test_broken_files_are_a_problem_with_file_and_line(
    tmp_path: Path, workers: int, name: str, content: bytes, message: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)

    found = problems(source, tmp_path, workers)

    assert len(found) == 1
    assert found[0].startswith(f"{name} line ")
    assert message in found[0]


def test_a_truncated_gzip_names_the_line_where_the_data_ends(tmp_path: Path) -> None:
    source = tmp_path / "data.jsonl.gz"
    source.write_bytes(_truncated(20_000))
    readable = 0
    with gzip.open(source) as stream:
        try:
            for _ in stream:
                readable += 1
        except EOFError:
            pass

    found = problems(source, tmp_path, 1)

    assert found[0].startswith(f"data.jsonl.gz line {readable + 1}: the gzip data ends early")


# -------------------------------------------------------------------------------------------------- duplicates
@WORKERS
def test_identical_lines_are_dropped_while_reading_not_piled_into_one_partition(tmp_path: Path, workers: int) -> None:
    # 20,000 copies of one record among 50 others: on the index they would all share one partition.
    copy = {"question": "the same question, Bot: again", "answer": "the same answer"}  # "Bot:" is fixed each time
    source = tmp_path / "data.jsonl"
    source.write_bytes(jsonl(qa_rows(25)) + jsonl([copy]) * 20_000 + jsonl(qa_rows(25, prefix="r")))
    run = run_config()

    normalized = normalize(list_sources(str(source)), run, tmp_path / "work", workers=workers)
    indexed = sum(part.files.index.stat().st_size for part in normalized.parts) // INDEX_ROW.size
    result = prepare(list_sources(str(source)), run, OutputLocation(str(tmp_path / "out")), workers=workers)

    assert indexed <= 50 + workers  # at most one copy per process reaches the index
    assert result.manifest["records"] | {"cappedFromTrain": 0} == {
        "read": 20_050,
        "accepted": 51,
        "duplicatesDropped": 19_999,
        "rejected": 0,
        "cappedFromTrain": 0,
        "cappedFromValidation": 0,
    }
    assert result.manifest["fixes"] == {"reservedStrings": 1}  # the kept copy's fix only
    texts = [
        record["messages"][0]["content"][0]["text"]
        for split in ("train", "validation")
        for record in read_jsonl(tmp_path / "out" / f"{split}.jsonl")
    ] + [record["prompt"] for record in read_jsonl(tmp_path / "out" / "test.jsonl")]
    assert texts.count("the same question, Bot : again") == 1


def test_duplicates_dropped_while_reading_give_the_same_files_as_in_one_stream(tmp_path: Path) -> None:
    rows = qa_rows(300)
    source = tmp_path / "data.jsonl"
    source.write_bytes(jsonl(rows + rows[::3] + rows[::-7] + rows[:40]))
    run = run_config()
    outputs = []
    for workers in (1, 2):
        result = prepare(
            list_sources(str(source)), run, OutputLocation(str(tmp_path / f"out{workers}")), workers=workers
        )
        outputs.append({p.name: p.read_bytes() for p in (tmp_path / f"out{workers}").iterdir()})
        assert result.manifest["records"]["duplicatesDropped"] == len(rows[::3] + rows[::-7] + rows[:40])

    assert outputs[0] == outputs[1]


# -------------------------------------------------------------------------------------------- local folders
def test_links_out_of_the_folder_are_not_followed_and_every_skipped_entry_is_listed(tmp_path: Path) -> None:
    folder, outside = tmp_path / "data", tmp_path / "outside"
    (folder / "sub").mkdir(parents=True)
    outside.mkdir()
    (folder / "a.jsonl").write_bytes(jsonl(qa_rows(40)))
    (folder / "sub" / "b.jsonl").write_bytes(jsonl(qa_rows(40, prefix="b")))
    (outside / "secret.jsonl").write_bytes(jsonl(qa_rows(40, prefix="secret")))
    (folder / "notes.txt").write_text("not data")
    (folder / "secret.jsonl").symlink_to(outside / "secret.jsonl")
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (folder / "elsewhere").symlink_to(outside, target_is_directory=True)
    (folder / "inside.jsonl").symlink_to(folder / "sub" / "b.jsonl")

    found = list_sources(str(folder))
    result = prepare(found, run_config(), OutputLocation(str(tmp_path / "out")))

    assert [source.name for source in found] == ["a.jsonl", "inside.jsonl", "sub/b.jsonl"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["skipped"] == {
        "count": 5,
        "first": [
            {"name": "elsewhere", "reason": "symbolic link to a folder, not followed"},
            {"name": "gone.jsonl", "reason": "dangling or unreadable symbolic link"},
            {"name": "notes.txt", "reason": "not .csv, .json or .jsonl (optionally .gz)"},
            {"name": "passwd.csv", "reason": "symbolic link to a file outside the input folder"},
            {"name": "secret.jsonl", "reason": "symbolic link to a file outside the input folder"},
        ],
    }
    assert result.manifest["records"]["read"] == 120


def test_a_folder_with_only_links_out_says_what_it_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "passwd.csv").symlink_to("/etc/passwd")

    with pytest.raises(sources.SourceError) as caught:
        list_sources(str(folder))

    assert str(caught.value) == (
        f"no .csv, .json or .jsonl files (optionally .gz) in {folder} "
        "(skipped passwd.csv: symbolic link to a file outside the input folder)"
    )


def test_consecutive_copies_of_a_rejected_record_are_each_reported(tmp_path: Path) -> None:
    source = tmp_path / "data.jsonl"
    empty = {"question": "", "answer": "x"}
    source.write_bytes(jsonl(qa_rows(20)) + jsonl([empty]) * 3 + jsonl(qa_rows(20, prefix="r")))

    result = prepare(
        list_sources(str(source)), run_config(dataset={"onInvalid": "skip"}), OutputLocation(str(tmp_path / "out"))
    )

    assert result.manifest["records"]["rejected"] == 3
    assert result.manifest["problems"]["first"] == [
        f"data.jsonl line {line}: messages[0].content[0].text: is empty" for line in (21, 22, 23)
    ]
