"""Test-suite execution accuracy: a constant answer cannot game it, near misses fail, equivalent queries pass, and a
reference no database can tell apart is graded by canonical SQL (and counted)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.evaluation.metrics import evaluate_rows
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.evaluation.report import render_html
from nova_pipeline.grading.rewards import grade, score_samples
from nova_pipeline.grading.sql import DATABASES, build_database, execution_match, normalized_match, schema_tables
from nova_pipeline.grading.sql_values import MAX_PARSED_CHARS, Literals, query_literals

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = list(csv.DictReader((ROOT / "examples" / "data" / "text-to-sql" / "train.csv").open(encoding="utf-8")))
PEOPLE = "CREATE TABLE people (name VARCHAR, city VARCHAR, age INTEGER, score REAL)"
FILTERED = "SELECT name FROM people WHERE age > 30 AND city = 'Paris'"
NEVER = "SELECT name FROM people WHERE age > 50 AND age < 40"  # empty whatever the rows
FLIPPED = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "="}


@pytest.mark.parametrize("constant", ["SELECT 1 WHERE 0", "DELETE FROM people", "SELECT 0", "SELECT NULL, NULL"])
def test_a_constant_answer_scores_zero_on_the_example_records(constant: str) -> None:
    # Given the shipped text-to-SQL records, most filtering on literals (`age > 4729`, `name = 'Aurora Aurora'`)
    # When a constant answer is graded against each reference
    scored_one = [
        record["answer"]
        for record in EXAMPLES
        if grade("sql-execution", constant, record["answer"], {"context": record["context"]}) == 1.0
        and not normalized_match(constant, record["answer"], record["context"])
    ]

    # Then it matches none of them (one database of generated rows let `SELECT 1 WHERE 0` match 14% of them)
    assert scored_one == []


def test_near_misses_of_the_example_references_score_zero() -> None:
    # Given each example reference and a near miss of it: the comparison loosened or tightened, the order reversed,
    # MAX for MIN, or the first compared number plus one
    misses = []
    for record in EXAMPLES:
        reference = record["answer"]
        for old, new in ((">=", ">"), ("<=", "<"), (">", ">="), ("<", "<="), ("DESC", "ASC"), ("MAX(", "MIN(")):
            if old in reference:
                misses.append((reference.replace(old, new, 1), reference, record["context"]))
                break
        plus_one = re.sub(r"(?<=[<>=] )(\d+)\b", lambda m: str(int(m[1]) + 1), reference, count=1)
        if plus_one != reference:
            misses.append((plus_one, reference, record["context"]))

    # When they are graded
    survivors = [miss for miss in misses if execution_match(*miss).equal]

    # Then (almost) none matches: a database holds the literal, its neighbours, and values only on one side of it.
    # The one left, `price > 31 ORDER BY price DESC LIMIT 1` for `>= 31`, differs only when no price exceeds 31.
    assert len(misses) > 500
    assert len(survivors) <= len(misses) // 100, survivors


def _rewritten(reference: str, context: str) -> str:
    """Lower-case keywords, a table alias on every column, the comparison flipped, one line per clause, fenced."""
    table = schema_tables(context)[0]
    flipped = re.sub(
        r"WHERE (\w+) (>=|<=|>|<|=) ('[^']*'|[\d.]+)",
        lambda m: f"WHERE {m[3]} {FLIPPED[m[2]]} {m[1]}",
        reference,
    )
    aliased = re.sub(rf"\bFROM {table.name}\b", f"FROM {table.name} AS t1", flipped)
    for name, _ in table.columns:
        aliased = re.sub(rf"(?<!')\b{name}\b(?!')", f"T1.{name}", aliased)
    lowered = re.sub(r"\b(SELECT|FROM|WHERE|ORDER BY|COUNT|DISTINCT|LIMIT|AS)\b", lambda m: m[1].lower(), aliased)
    return "Here it is:\n```sql\n" + re.sub(r" (?=(from|where|order by) )", "\n  ", lowered) + ";\n```"


def test_an_equivalent_rewrite_of_every_example_reference_scores_one() -> None:
    failed = [
        (candidate, record["answer"])
        for record in EXAMPLES
        if not execution_match(
            candidate := _rewritten(record["answer"], record["context"]), record["answer"], record["context"]
        ).equal
    ]

    assert failed == []


@pytest.mark.parametrize(
    "candidate",
    [
        "select p.name from people as p where p.city = 'Paris' and p.age > 30",
        "SELECT name\n  FROM People\n WHERE 30 < age\n   AND city = 'Paris';",
        "SELECT name FROM people WHERE age >= 31 AND city = 'Paris'",  # an INTEGER column
        "SELECT name FROM people WHERE city IN ('Paris') AND NOT age <= 30",
        "SELECT name FROM (SELECT * FROM people WHERE city = 'Paris') AS paris WHERE paris.age > 30",
    ],
)
def test_a_correct_query_written_differently_scores_one(candidate: str) -> None:
    assert grade("sql-execution", candidate, FILTERED, {"context": PEOPLE}) == 1.0


@pytest.mark.parametrize(
    "candidate",
    [
        "SELECT name FROM people WHERE age > 30 AND city LIKE 'Paris%'",  # 'Paris x' is a row too
        "SELECT name FROM people WHERE age > 30 AND city = 'paris'",
        "SELECT name FROM people WHERE age >= 30 AND city = 'Paris'",
        "SELECT name FROM people WHERE age > 30 OR city = 'Paris'",
        "SELECT name FROM people WHERE city = 'Paris'",
        "SELECT DISTINCT name FROM people WHERE age > 30 AND city = 'Paris'",
    ],
)
def test_a_query_that_differs_on_the_reference_literals_scores_zero(candidate: str) -> None:
    assert grade("sql-execution", candidate, FILTERED, {"context": PEOPLE}) == 0.0


def test_a_reference_empty_on_every_database_is_graded_by_canonical_sql() -> None:
    constant = execution_match("SELECT 1 WHERE 0", NEVER, PEOPLE)
    same = execution_match("select p.name from people p where p.age < 40 and p.age > 50", NEVER, PEOPLE)
    other = execution_match("SELECT name FROM people WHERE age > 60 AND age < 40", NEVER, PEOPLE)
    rows = execution_match("SELECT name FROM people", NEVER, PEOPLE)
    delete = execution_match("DELETE FROM people", NEVER, PEOPLE)

    assert (constant.equal, constant.fallback) == (False, True)
    assert (same.equal, same.fallback) == (True, True)
    assert (other.equal, other.fallback) == (False, True)  # equivalent results, different query: the fallback's limit
    assert (rows.equal, rows.fallback) == (False, False)  # a database returned rows the reference does not
    assert (delete.equal, delete.candidate_error) == (False, "not a SELECT/WITH query")


def test_the_fallback_count_is_in_the_metrics_the_report_and_the_reward() -> None:
    rows = [
        PredictionRow(prediction="SELECT 1 WHERE 0", reference=NEVER, context=PEOPLE),
        PredictionRow(prediction=NEVER.lower(), reference=NEVER, context=PEOPLE),
        PredictionRow(prediction="SELECT 1 WHERE 0", reference=FILTERED, context=PEOPLE),
        PredictionRow(prediction=FILTERED, reference=FILTERED, context=PEOPLE),
    ]

    metrics = evaluate_rows(rows, TaskType.TEXT_TO_SQL)
    page = render_html(_report(metrics))
    rewards = score_samples(
        [
            {
                "id": str(index),
                "messages": [{"role": "assistant", "content": row.prediction}],
                "reference_answer": row.reference,
                "task": "text-to-sql",
                "context": PEOPLE,
            }
            for index, row in enumerate(rows)
        ]
    )

    assert metrics["executionAccuracy"] == 0.5 and metrics["executionFallbackRows"] == 2
    assert "executionAccuracy: candidate 0.5000; 2 of 4 rows graded by canonical SQL" in page
    assert [r["aggregate_reward_score"] for r in rewards] == [0.0, 1.0, 0.0, 1.0]
    assert [m["value"] for r in rewards for m in r["metrics_list"] if m["name"] == "sql_fallback"] == [1, 1, 0, 0]


def _report(metrics: dict[str, object]) -> dict[str, object]:
    gate = {"verdict": "promoted", "reasons": []}
    return {
        "run": {},
        "primaryMetric": "executionAccuracy",
        "candidate": metrics,
        "gate": gate,
        "cost": {},
        "evaluationCost": {},
    }


def test_literals_are_bound_to_the_columns_they_are_compared_with() -> None:
    shape = (("head", ("name", "age")), ("dept", ("name", "budget")))
    sql = (
        "SELECT T1.name FROM head AS T1 JOIN dept AS T2 ON T1.name = T2.name WHERE T1.age BETWEEN 30 AND 40 "
        "AND T2.budget > -5.5 AND T2.name LIKE '%ops%' GROUP BY T1.name HAVING COUNT(*) > 2 ORDER BY 1 LIMIT 3"
    )

    literals = query_literals(sql, shape)

    assert literals.by_column == {("head", "age"): (30, 40), ("dept", "budget"): (-5.5,), ("dept", "name"): ("%ops%",)}
    assert literals.numbers == (2, 1)  # compared with no column; the LIMIT count is not a value
    assert query_literals("SELEC nonsense (((", shape).by_column == {}


def test_the_databases_are_deterministic_hold_the_literals_and_differ_in_size() -> None:
    literals = query_literals(FILTERED, (("people", ("name", "city", "age", "score")),))

    first = [build_database(PEOPLE, index, literals).execute("SELECT * FROM people").fetchall() for index in range(4)]
    again = [build_database(PEOPLE, index, literals).execute("SELECT * FROM people").fetchall() for index in range(4)]

    assert first == again
    assert [len(rows) for rows in first] == [profile.rows for profile in DATABASES]
    assert len({len(rows) for rows in first}) == len(DATABASES)
    cities = {row[1] for rows in first for row in rows}
    ages = {row[2] for rows in first for row in rows}
    assert {"Paris", "PARIS", "paris", "Paris x"} <= cities and {29, 30, 31} <= ages


def test_long_or_deeply_nested_sql_is_graded_without_parsing_and_never_raises() -> None:
    long_equivalent = FILTERED.replace("SELECT", "SELECT /*" + "x" * MAX_PARSED_CHARS + "*/")  # SQLite runs it
    nested = "SELECT " + "(" * 5_000 + "1" + ")" * 5_000

    assert len(long_equivalent) > MAX_PARSED_CHARS
    assert query_literals(long_equivalent, (("people", ("name", "city", "age", "score")),)) == Literals()
    assert grade("sql-execution", long_equivalent, FILTERED, {"context": PEOPLE}) == 1.0
    assert grade("sql-execution", nested, FILTERED, {"context": PEOPLE}) == 0.0
    assert execution_match(nested, NEVER, PEOPLE).equal is False


@pytest.mark.parametrize(
    "literal", ["99999999999999999999", "9223372036854775807", "-9223372036854775808", "1e400", "-1e400", "0x10"]
)
def test_numbers_sqlite_cannot_store_as_integers_are_graded_never_raised(literal: str) -> None:
    reference = f"SELECT name FROM people WHERE age > {literal} OR score > {literal}"

    assert grade("sql-execution", reference, reference, {"context": PEOPLE}) == 1.0
    assert grade("sql-execution", "SELECT 1 WHERE 0", reference, {"context": PEOPLE}) == 0.0
