"""SQL execution grading scores what it cannot run as 0 and never raises; only one read-only query is graded."""

from __future__ import annotations

import time

import pytest

from nova_pipeline.grading.rewards import grade, score_samples
from nova_pipeline.grading.sql import execution_match

CONTEXT = "CREATE TABLE people (name VARCHAR, age INTEGER)"
REFERENCE = "SELECT name FROM people WHERE age > 3"


@pytest.mark.parametrize(
    "candidate",
    [
        "DELETE FROM people",
        "DROP TABLE people",
        "INSERT INTO people VALUES ('x', 1)",
        "UPDATE people SET age = 1",
        "WITH x AS (SELECT 1) DELETE FROM people",
        "CREATE TABLE t (a INT)",
        "SELECT name FROM people WHERE age > 3; DELETE FROM people",
    ],
)
def test_anything_but_one_read_only_query_scores_zero(candidate: str) -> None:
    assert grade("sql-execution", candidate, REFERENCE, {"context": CONTEXT}) == 0.0


def test_delete_cannot_match_an_empty_reference() -> None:
    empty = "SELECT name FROM people WHERE name = 'nobody-has-this-name'"

    assert execution_match("DELETE FROM people", empty, CONTEXT).equal is False


@pytest.mark.parametrize(
    "context",
    [
        "CREATE TABLE people (name VARCHAR, name VARCHAR, age INTEGER)",  # duplicate column
        "CREATE TABLE people (name VARCHAR, age INTEGER); CREATE TABLE people (name VARCHAR, age INTEGER)",
        'CREATE TABLE "peo""ple" (na"me VARCHAR, age INTEGER)',  # a quote in a name
        "CREATE TABLE people ()",
    ],
)
def test_a_context_sqlite_refuses_is_scored_never_raised(context: str) -> None:
    score = grade("sql-execution", REFERENCE, REFERENCE, {"context": context})

    assert score in (0.0, 1.0)


def test_a_bad_context_does_not_fail_the_batch() -> None:
    samples = [
        {
            "id": str(i),
            "messages": [{"role": "assistant", "content": REFERENCE}],
            "reference_answer": REFERENCE,
            "metadata": {"task": "text-to-sql", "context": context},
        }
        for i, context in enumerate([CONTEXT, "CREATE TABLE people (name VARCHAR, name VARCHAR)"])
    ]

    scored = score_samples(samples)

    assert len(scored) == 2


@pytest.mark.parametrize(
    "candidate",
    [
        "SELECT zeroblob(1000000000)",
        "SELECT printf('%.*c', 1000000000, 'x')",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
    ],
)
def test_huge_results_and_runaway_queries_score_zero_quickly(candidate: str) -> None:
    started = time.monotonic()

    assert grade("sql-execution", candidate, REFERENCE, {"context": CONTEXT}) == 0.0
    assert time.monotonic() - started < 5
