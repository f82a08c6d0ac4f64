"""Metrics by task, computed the same way offline (`nova-pipeline evaluate`) and in the Evaluate stage.

Every task: exact match, normalized exact match, token F1 (SQuAD-style), ROUGE-1/2 and ROUGE-L F-measures,
corpus BLEU-4 (Papineni et al. with brevity penalty and sacrebleu's default "exp" smoothing, on normalized
whitespace tokens). Classification: the label extracted from verbose answers, accuracy, per-class precision /
recall / F1, macro-F1, confusion matrix, the rate of answers with no valid label. Text-to-SQL: execution accuracy
on test-suite SQLite databases built from the record's schema and both queries' literals (`grading.sql`), the
number of rows graded by canonical SQL because the reference is empty on every database, normalized SQL match
(sqlglot canonical form), the share that does not parse.
Latency: TTFT and total latency p50/p90/p99 (nearest rank), output tokens per second; error rate; the share of
answers a guardrail intervened on.

These are plain Python: the usual libraries (rouge-score ships only a source distribution, sacrebleu needs numpy)
have no wheels for the Lambda runtime's platform tags, and the metrics must be identical on both sides.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.grading.rewards import extract_label, normalize_text
from nova_pipeline.grading.sql import execution_match, normalized_match, parses

# Wrong answers sampled into the report (in test-split order), and the characters kept of each text.
WRONG_ANSWER_SAMPLE = 10
EXCERPT_CHARS = 240
PRIMARY_METRIC = {
    TaskType.CLASSIFICATION: "accuracy",
    TaskType.TEXT_TO_SQL: "executionAccuracy",
    TaskType.GENERATION: "tokenF1",
}
NO_LABEL = "(none)"
GUARDRAIL_INTERVENED = "guardrail_intervened"  # Converse `stopReason` when the guardrail blocked input or output


def _tokens(text: str) -> list[str]:
    return normalize_text(text).split()


def token_f1(prediction: str, reference: str) -> float:
    predicted, expected = _tokens(prediction), _tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(prediction: str, reference: str, n: int) -> float:
    predicted, expected = _ngrams(_tokens(prediction), n), _ngrams(_tokens(reference), n)
    overlap = sum((predicted & expected).values())
    if not predicted or not expected or not overlap:
        return 0.0
    precision, recall = overlap / sum(predicted.values()), overlap / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    predicted, expected = _tokens(prediction), _tokens(reference)
    lcs = _lcs(predicted, expected)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return 2 * precision * recall / (precision + recall)


def corpus_bleu(predictions: Sequence[str], references: Sequence[str], max_order: int = 4) -> float:
    matches, totals = [0] * max_order, [0] * max_order
    predicted_length = reference_length = 0
    for prediction, reference in zip(predictions, references, strict=True):
        predicted, expected = _tokens(prediction), _tokens(reference)
        predicted_length += len(predicted)
        reference_length += len(expected)
        for n in range(1, max_order + 1):
            candidate = _ngrams(predicted, n)
            matches[n - 1] += sum((candidate & _ngrams(expected, n)).values())
            totals[n - 1] += max(len(predicted) - n + 1, 0)
    if predicted_length == 0:
        return 0.0
    log_precision, smoothing = 0.0, 1.0
    for n in range(max_order):
        if totals[n] == 0:
            return 0.0
        if matches[n] == 0:
            smoothing *= 2
            precision = 1 / (smoothing * totals[n])
        else:
            precision = matches[n] / totals[n]
        log_precision += math.log(precision) / max_order
    brevity = 1.0 if predicted_length > reference_length else math.exp(1 - reference_length / predicted_length)
    return brevity * math.exp(log_precision)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (share in (0, 1])."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def text_metrics(rows: Sequence[PredictionRow]) -> dict[str, float]:
    predictions = [row.prediction for row in rows]
    references = [row.reference for row in rows]
    return {
        "exactMatch": _mean([float(p.strip() == r.strip()) for p, r in zip(predictions, references, strict=True)]),
        "normalizedExactMatch": _mean(
            [float(normalize_text(p) == normalize_text(r)) for p, r in zip(predictions, references, strict=True)]
        ),
        "tokenF1": _mean([token_f1(p, r) for p, r in zip(predictions, references, strict=True)]),
        "rouge1": _mean([rouge_n(p, r, 1) for p, r in zip(predictions, references, strict=True)]),
        "rouge2": _mean([rouge_n(p, r, 2) for p, r in zip(predictions, references, strict=True)]),
        "rougeL": _mean([rouge_l(p, r) for p, r in zip(predictions, references, strict=True)]),
        "bleu": corpus_bleu(predictions, references) if rows else 0.0,
    }


def classification_metrics(rows: Sequence[PredictionRow], labels: Sequence[str] | None = None) -> dict[str, Any]:
    metrics, _ = _classification(rows, labels)
    return metrics


def _classification(rows: Sequence[PredictionRow], labels: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    """The metrics and the label extracted from each answer (`NO_LABEL` when it names none)."""
    references = [row.label if row.label is not None else row.reference for row in rows]
    label_set = sorted(set(labels or []) | set(references))
    extracted = [extract_label(row.prediction, label_set) for row in rows]
    predicted = [label if label is not None else NO_LABEL for label in extracted]
    per_class: dict[str, dict[str, float]] = {}
    for label in label_set:
        true_positive = sum(1 for p, r in zip(predicted, references, strict=True) if p == label and r == label)
        predicted_count = sum(1 for p in predicted if p == label)
        actual_count = sum(1 for r in references if r == label)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / actual_count if actual_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": actual_count}
    columns = [*label_set, NO_LABEL]
    matrix = [
        [sum(1 for p, r in zip(predicted, references, strict=True) if r == row and p == col) for col in columns]
        for row in label_set
    ]
    supported = [c for c in per_class.values() if c["support"]]
    metrics = {
        "accuracy": _mean([float(p == r) for p, r in zip(predicted, references, strict=True)]),
        "exactLabelMatch": _mean(
            [float(row.prediction.strip() == ref) for row, ref in zip(rows, references, strict=True)]
        ),
        "macroF1": _mean([c["f1"] for c in supported]),
        "noValidLabelRate": _mean([float(label is None) for label in extracted]),
        "perClass": per_class,
        "confusionMatrix": {"labels": label_set, "predicted": columns, "counts": matrix},
    }
    return metrics, predicted


def sql_metrics(rows: Sequence[PredictionRow]) -> dict[str, float]:
    metrics, _ = _sql(rows)
    return metrics


def _sql(rows: Sequence[PredictionRow]) -> tuple[dict[str, float], list[bool]]:
    """The metrics and whether each answer's result set equals the reference's."""
    executed = [execution_match(row.prediction, row.reference, row.context or "") for row in rows]
    metrics = {
        "executionAccuracy": _mean([float(match.equal) for match in executed]),
        "executionFallbackRows": sum(match.fallback for match in executed),
        "normalizedSqlMatch": _mean(
            [float(normalized_match(r.prediction, r.reference, r.context or "")) for r in rows]
        ),
        "unparseableRate": _mean([float(not parses(row.prediction, row.context or "")) for row in rows]),
    }
    return metrics, [match.equal for match in executed]


def _excerpt(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def wrong_answers(
    rows: Sequence[PredictionRow], correct: Sequence[bool], got: Sequence[str | None], limit: int = WRONG_ANSWER_SAMPLE
) -> dict[str, Any]:
    """How many answers were wrong, and the first `limit` of them (input, expected, got; texts cut to an excerpt).
    `got` is what was graded when it differs from the raw answer (the extracted label)."""
    wrong = [i for i, ok in enumerate(correct) if not ok]
    sample = []
    for i in wrong[:limit]:
        row = rows[i]
        sample.append(
            {
                "id": row.id,
                "input": _excerpt(row.prompt),
                "expected": _excerpt(row.label if row.label is not None else row.reference),
                "got": _excerpt(row.prediction),
                "graded": got[i],
                "error": _excerpt(row.error),
            }
        )
    return {"total": len(wrong), "limit": limit, "sample": sample}


def latency_metrics(rows: Sequence[PredictionRow]) -> dict[str, float | None]:
    ttft = [row.ttft_ms for row in rows if row.ttft_ms is not None]
    total = [row.latency_ms for row in rows if row.latency_ms is not None]
    rates = [row.output_tokens_per_second for row in rows if row.output_tokens_per_second is not None]
    return {
        "ttftP50Ms": percentile(ttft, 0.5),
        "ttftP90Ms": percentile(ttft, 0.9),
        "ttftP99Ms": percentile(ttft, 0.99),
        "latencyP50Ms": percentile(total, 0.5),
        "latencyP90Ms": percentile(total, 0.9),
        "latencyP99Ms": percentile(total, 0.99),
        "outputTokensPerSecond": _mean(rates) if rates else None,
    }


def evaluate_rows(rows: Sequence[PredictionRow], task: TaskType, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Every metric of the task for one model's predictions; failed requests count as wrong answers."""
    answered = [row if row.error is None else row.model_copy(update={"prediction": ""}) for row in rows]
    metrics: dict[str, Any] = {
        "rows": len(rows),
        "errorRate": _mean([float(r.error is not None) for r in rows]),
        **text_metrics(answered),
    }
    got: list[str | None] = [None] * len(rows)
    if task is TaskType.CLASSIFICATION:
        classified, predicted = _classification(answered, labels)
        metrics.update(classified)
        references = [row.label if row.label is not None else row.reference for row in answered]
        correct = [p == r for p, r in zip(predicted, references, strict=True)]
        got = list(predicted)
    elif task is TaskType.TEXT_TO_SQL:
        sql, correct = _sql(answered)
        metrics.update(sql)
    else:
        correct = [normalize_text(r.prediction) == normalize_text(r.reference) for r in answered]
    metrics["wrongAnswers"] = wrong_answers(rows, correct, got)
    metrics["latency"] = latency_metrics([r for r in rows if r.error is None])
    metrics["tokens"] = {
        "input": sum(r.input_tokens or 0 for r in rows),
        "output": sum(r.output_tokens or 0 for r in rows),
    }
    judged = [r for r in rows if r.judge_input_tokens is not None]
    if judged:
        scores = [r.judge_score for r in judged if r.judge_score is not None]
        metrics["judge"] = {
            "meanScore": _mean(scores) / 100 if scores else None,
            "unparsedRate": _mean([float(r.judge_score is None) for r in judged]),
            "inputTokens": sum(r.judge_input_tokens or 0 for r in judged),
            "outputTokens": sum(r.judge_output_tokens or 0 for r in judged),
        }
        metrics["judgeScore"] = metrics["judge"]["meanScore"]
    # Converse's stop reason is recorded per answer; predictions files without it have no intervention rate.
    stopped = [r.stop_reason for r in rows if r.error is None and r.stop_reason is not None]
    metrics["guardrailInterventionRate"] = (
        _mean([float(reason == GUARDRAIL_INTERVENED) for reason in stopped]) if stopped else None
    )
    metrics["primaryMetric"] = PRIMARY_METRIC[task]
    metrics["primary"] = metrics[PRIMARY_METRIC[task]]
    return metrics
