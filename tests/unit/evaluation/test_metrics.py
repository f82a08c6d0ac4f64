"""Every metric pinned on small hand-computed cases."""

from __future__ import annotations

import math

import pytest

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.evaluation.metrics import (
    classification_metrics,
    corpus_bleu,
    evaluate_rows,
    percentile,
    rouge_l,
    rouge_n,
    sql_metrics,
    token_f1,
)
from nova_pipeline.evaluation.predictions import PredictionRow, parse_lines

CONTEXT = "CREATE TABLE head (age INTEGER, name VARCHAR, department VARCHAR)"


def row(prediction: str, reference: str, **extra: object) -> PredictionRow:
    return PredictionRow.model_validate({"prediction": prediction, "reference": reference, **extra})


def test_token_f1_by_hand() -> None:
    # prediction "the cat sat", reference "the cat sat down": precision 3/3, recall 3/4 -> F1 = 6/7
    assert token_f1("The cat sat.", "the cat sat down") == pytest.approx(6 / 7)
    assert token_f1("", "") == 1.0 and token_f1("dog", "cat") == 0.0


def test_rouge_by_hand() -> None:
    # bigrams: pred {the cat, cat sat}, ref {the cat, cat sat, sat down}: P 2/2, R 2/3 -> F 0.8
    assert rouge_n("the cat sat", "the cat sat down", 2) == pytest.approx(0.8)
    assert rouge_n("the cat sat", "the cat sat down", 1) == pytest.approx(6 / 7)
    # LCS("a b c d", "a c d e") = "a c d" = 3: P 3/4, R 3/4
    assert rouge_l("a b c d", "a c d e") == pytest.approx(0.75)


def test_bleu_by_hand() -> None:
    assert corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(1.0)
    # 5 tokens vs 6 in the reference: every n-gram matches, brevity penalty exp(1 - 6/5)
    assert corpus_bleu(["the cat sat on the"], ["the cat sat on the mat"]) == pytest.approx(math.exp(1 - 6 / 5))
    assert corpus_bleu(["completely different words here"], ["the cat sat on the mat"]) < 0.05


def test_label_is_extracted_from_verbose_answers() -> None:
    rows = [
        row("HQ", "HQ"),
        row("The answer is **LQ_CLOSE** because it lacks detail.", "LQ_CLOSE"),
        row("Label: lq_edit", "LQ_EDIT"),
        row("Probably low quality", "LQ_EDIT"),
        row("LQ_EDIT", "HQ"),
    ]

    metrics = classification_metrics(rows, ["HQ", "LQ_EDIT", "LQ_CLOSE"])

    assert metrics["exactLabelMatch"] == pytest.approx(1 / 5)  # the seed's "exact match" view
    assert metrics["accuracy"] == pytest.approx(3 / 5)  # once extracted
    assert metrics["noValidLabelRate"] == pytest.approx(1 / 5)
    assert metrics["perClass"]["HQ"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert metrics["perClass"]["LQ_EDIT"]["precision"] == 0.5
    assert metrics["macroF1"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    assert metrics["confusionMatrix"] == {
        "labels": ["HQ", "LQ_CLOSE", "LQ_EDIT"],
        "predicted": ["HQ", "LQ_CLOSE", "LQ_EDIT", "(none)"],
        "counts": [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 1]],
    }


def test_sql_execution_accuracy_counts_equivalent_queries_and_unparseable_ones() -> None:
    rows = [
        row("SELECT count(*) FROM head WHERE age > 3", "SELECT COUNT(*) FROM head WHERE age > 3", context=CONTEXT),
        row(
            "select COUNT(name) from head as h where h.age >= 4",
            "SELECT COUNT(*) FROM head WHERE age > 3",
            context=CONTEXT,
        ),
        row("SELECT name FROM head WHERE age > 5", "SELECT name FROM head WHERE age > 2", context=CONTEXT),
        row("SELECT salary FROM head", "SELECT age FROM head", context=CONTEXT),
    ]

    metrics = sql_metrics(rows)

    assert metrics == {
        "executionAccuracy": 0.5,
        "executionFallbackRows": 0,
        "normalizedSqlMatch": 0.25,
        "unparseableRate": 0.25,
    }


def test_latency_percentiles_are_nearest_rank() -> None:
    values = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0]
    assert (percentile(values, 0.5), percentile(values, 0.9), percentile(values, 0.99)) == (500.0, 900.0, 1000.0)
    assert percentile([], 0.5) is None


def test_failed_requests_count_as_wrong_and_raise_the_error_rate() -> None:
    rows = [
        row("billing", "billing", label="billing", ttftMs=300),
        row("", "bug", label="bug", error="ThrottlingException after retries"),
    ]

    metrics = evaluate_rows(rows, TaskType.CLASSIFICATION)

    assert (metrics["accuracy"], metrics["errorRate"], metrics["primary"]) == (0.5, 0.5, 0.5)
    assert metrics["latency"]["ttftP50Ms"] == 300


def test_bad_prediction_lines_are_reported_with_line_and_field() -> None:
    with pytest.raises(InputProblemsError) as caught:
        parse_lines(['{"prediction": "a", "reference": "b"}', '{"prediction": 1}', "not json"], "p.jsonl")

    assert [str(p) for p in caught.value.problems] == [
        "p.jsonl line 2: prediction: Input should be a valid string (got 1)",
        "p.jsonl line 2: reference: is required",
        "p.jsonl line 3: invalid JSON: Expecting value",
    ]
