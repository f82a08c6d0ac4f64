"""A text-to-SQL record whose context the grader cannot build databases from is refused by prepare, with its file,
line and field, on the fast path and the reference path alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.grading.sql import schema_problem
from tests.unit.prepare.conftest import run_prepare

GOOD = "CREATE TABLE people (name TEXT, age INTEGER)"


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ("CREATE TABLE t (a INTEGER, A TEXT)", "column 'A' is listed twice in table 't'"),
        ("CREATE TABLE t (a INTEGER); CREATE TABLE T (b TEXT)", "table 'T' is defined twice"),
        (
            """CREATE TABLE "o'brien" (a INTEGER)""",
            "a CREATE TABLE statement cannot be read (a quote or space in a table name, or no column list)",
        ),
        ("""CREATE TABLE t ("it's" TEXT)""", """column name "it's" of table 't' holds a quote"""),
        ("the table has two columns", "holds no CREATE TABLE statement"),
    ],
)
def test_unusable_schemas_are_named(context: str, problem: str) -> None:
    assert schema_problem(context) == problem
    assert schema_problem(GOOD) is None


@pytest.mark.parametrize("extra", ["", "  "])  # clean rows take the fast path; a double space forces the reference
def test_prepare_refuses_the_record_with_file_line_and_field(tmp_path: Path, extra: str) -> None:
    rows = [{"question": f"How many people are older than {i}?{extra}", "answer": f"SELECT COUNT(*) FROM people "
             f"WHERE age > {i}", "context": GOOD} for i in range(12)]  # fmt: skip
    rows[3]["context"] = "CREATE TABLE people (name TEXT, name TEXT)"
    source = tmp_path / "sql.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))

    result = run_prepare(
        source,
        tmp_path / "out",
        dataset={"uri": "x", "onInvalid": "skip", "columns": {"question": "question", "answer": "answer",
                                                               "context": "context"}},
        task="text-to-sql",
        split={"train": 1.0, "validation": 0.0, "test": 0.0},
    )  # fmt: skip

    assert result.manifest["records"]["accepted"] == 11
    assert result.manifest["problems"]["first"] == [
        "sql.jsonl line 4: context: column 'name' is listed twice in table 'people'"
    ]
