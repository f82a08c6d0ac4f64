"""The RFT reward functions and the grader contract, on hand-checked cases."""

from __future__ import annotations

import pytest

from nova_pipeline.grading.rewards import check_grader_output, extract_label, grade, score_samples
from nova_pipeline.grading.sql import execution_match, extract_sql, parses

CONTEXT = "CREATE TABLE head (age INTEGER, name VARCHAR, department VARCHAR)"


@pytest.mark.parametrize(
    ("grader", "candidate", "reference", "metadata", "score"),
    [
        ("exact", " SELECT 1 ", "SELECT 1", {}, 1.0),
        ("exact", "select 1", "SELECT 1", {}, 0.0),
        ("normalized", "Paris!", "paris", {}, 1.0),
        ("normalized", "Café  au lait", "cafe au lait", {}, 1.0),
        ("label", "This looks like a **billing** issue to me.", "billing", {"labels": ["billing", "bug"]}, 1.0),
        ("label", "Probably a bug, not billing", "billing", {"labels": ["billing", "bug"]}, 0.0),
        ("label", "I cannot tell", "billing", {"labels": ["billing", "bug"]}, 0.0),
        ("numeric", "The total is 41.99 dollars", "42", {"numeric_tolerance": 0.05}, 1.0),
        ("numeric", "The total is 41.9", "42", {"numeric_tolerance": 0.05}, 0.0),
        ("numeric", "no idea", "42", {}, 0.0),
    ],
)
def test_each_grader_on_hand_checked_cases(
    grader: str, candidate: str, reference: str, metadata: dict[str, object], score: float
) -> None:
    assert grade(grader, candidate, reference, metadata) == score


def test_sql_execution_accepts_an_equivalent_query_written_differently() -> None:
    reference = "SELECT count(*) FROM head WHERE age > 3"
    candidate = "Here you go:\n```sql\nselect COUNT(name) from head as h where h.age >= 4\n```"

    assert execution_match(candidate, reference, CONTEXT).equal
    assert grade("sql-execution", candidate, reference, {"context": CONTEXT}) == 1.0


def test_sql_execution_rejects_a_similar_looking_but_different_query() -> None:
    assert not execution_match(
        "SELECT count(*) FROM head WHERE age > 2", "SELECT count(*) FROM head WHERE age > 3", CONTEXT
    ).equal


def test_sql_that_does_not_run_scores_zero_and_says_why() -> None:
    result = execution_match("SELECT salary FROM head", "SELECT age FROM head", CONTEXT)

    assert not result.equal
    assert result.candidate_error == "OperationalError: no such column: salary"
    assert not parses("SELECT salary FROM head", CONTEXT) and parses("SELECT age FROM head", CONTEXT)


def test_order_matters_only_when_the_reference_orders() -> None:
    assert execution_match("SELECT age FROM head ORDER BY age DESC", "SELECT age FROM head", CONTEXT).equal
    assert not execution_match(
        "SELECT age FROM head ORDER BY age DESC", "SELECT age FROM head ORDER BY age", CONTEXT
    ).equal


def test_sql_is_extracted_from_verbose_answers() -> None:
    assert extract_sql("Sure! SELECT name FROM head; -- this returns names") == "SELECT name FROM head"


def test_label_extraction_prefers_the_first_and_most_specific_label() -> None:
    labels = ["LQ_EDIT", "LQ_CLOSE", "HQ"]

    assert extract_label("The answer is **LQ_CLOSE** because the question is unclear", labels) == "LQ_CLOSE"
    assert extract_label("hq", labels) == "HQ"
    assert extract_label("none of these", labels) is None


def test_grader_contract_output_shape() -> None:
    samples = [
        {
            "id": "a",
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "billing"}],
            "metadata": {"reference_answer": "billing", "task": "classification", "labels": ["billing", "bug"]},
        },
        {
            "id": "b",
            "messages": [{"role": "assistant", "content": [{"text": "SELECT age FROM head"}]}],
            "metadata": {"reference_answer": "SELECT age FROM head", "task": "text-to-sql", "context": CONTEXT},
        },
    ]

    results = score_samples(samples)

    assert results == [
        {
            "id": "a",
            "aggregate_reward_score": 1.0,
            "metrics_list": [
                {"name": "label", "value": 1.0, "type": "Reward"},
                {"name": "answer_chars", "value": 7.0, "type": "Metric"},
            ],
        },
        {
            "id": "b",
            "aggregate_reward_score": 1.0,
            "metrics_list": [
                {"name": "sql-execution", "value": 1.0, "type": "Reward"},
                {"name": "answer_chars", "value": 20.0, "type": "Metric"},
                {"name": "sql_fallback", "value": 0.0, "type": "Metric"},
            ],
        },
    ]
    assert check_grader_output(samples, results) == []


def test_preflight_check_catches_bad_grader_output() -> None:
    samples = [{"id": "a"}, {"id": "b"}]

    assert check_grader_output(samples, {"not": "a list"}) == ["the grader returned dict, expected a list"]
    assert check_grader_output(samples, [{"id": "a", "aggregate_reward_score": 1.5}, {"id": "z"}]) == [
        "result 0 (a): aggregate_reward_score 1.5 is not in [0, 1]",
        "result 1 has id 'z', which is not a sample id",
        "result 1 (z): aggregate_reward_score None is not in [0, 1]",
    ]


def test_model_written_sql_cannot_touch_files_or_run_forever(tmp_path: object) -> None:
    attach = execution_match(f"ATTACH DATABASE '{tmp_path}/x.db' AS x", "SELECT 1", CONTEXT)
    runaway = execution_match(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n", "SELECT 1", CONTEXT
    )

    assert attach.candidate_error == "not a SELECT/WITH query"
    assert runaway.candidate_error == "OperationalError: interrupted"
