"""RFT reward functions and the Bedrock RFT Lambda grader contract.

Input: a list of `{id, messages (including the generated assistant turn), metadata{reference_answer, ...}}`.
Output: a list of `{id, aggregate_reward_score, metrics_list: [{name, value, type}]}` with scores in [0, 1].

Graders: `exact`, `normalized`, `label` (classification: the label extracted from a verbose answer), `numeric`
(absolute tolerance) and `sql-execution` (candidate and reference run on an in-memory SQLite database built from
the record's CREATE TABLE context; equal result sets score 1). The grader of a record comes from its metadata
(`grader`), else from its task.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from nova_pipeline.grading.sql import execution_match

GRADERS = ("exact", "normalized", "label", "numeric", "sql-execution")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PUNCTUATION = re.compile(r"[^\w\s]")


def normalize_text(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form of an answer."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def extract_label(answer: str, labels: list[str]) -> str | None:
    """The label a (possibly verbose) answer names: an exact answer first, else the first label mentioned."""
    normalized = normalize_text(answer)
    by_form = {normalize_text(label): label for label in labels}
    if normalized in by_form:
        return by_form[normalized]
    positions = []
    for form, label in by_form.items():
        match = re.search(rf"(?<![a-z0-9]){re.escape(form)}(?![a-z0-9])", normalized)
        if match:
            positions.append((match.start(), -len(form), label))
    return min(positions)[2] if positions else None


def _first_number(text: str) -> float | None:
    match = _NUMBER.search(text.replace(",", ""))
    return float(match.group()) if match else None


def grade(grader: str, candidate: str, reference: Any, metadata: dict[str, Any]) -> float:
    """Reward in [0, 1] of one candidate."""
    reference_text = reference if isinstance(reference, str) else str(reference)
    if grader == "exact":
        return float(candidate.strip() == reference_text.strip())
    if grader == "normalized":
        return float(normalize_text(candidate) == normalize_text(reference_text))
    if grader == "label":
        labels = [str(label) for label in metadata.get("labels") or [reference_text]]
        return float(extract_label(candidate, labels) == reference_text)
    if grader == "numeric":
        expected, got = _first_number(reference_text), _first_number(candidate)
        if expected is None or got is None or not math.isfinite(got):
            return 0.0
        tolerance = float(metadata.get("numeric_tolerance", 1e-6))
        return float(abs(expected - got) <= tolerance)
    if grader == "sql-execution":
        return float(execution_match(candidate, reference_text, str(metadata.get("context", ""))).equal)
    raise ValueError(f"unknown grader {grader!r}; known: {', '.join(GRADERS)}")


def grader_for(metadata: dict[str, Any]) -> str:
    grader = metadata.get("grader")
    if grader:
        return str(grader)
    return {"classification": "label", "text-to-sql": "sql-execution"}.get(str(metadata.get("task")), "normalized")


def _generated_answer(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant":
            content = message.get("content", "")
            if isinstance(content, list):
                return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
            return str(content)
    return ""


def score_samples(samples: list[dict[str, Any]], *, grade_fn: Callable[..., float] = grade) -> list[dict[str, Any]]:
    """Apply the grader contract to a batch."""
    results = []
    for sample in samples:
        metadata = dict(sample.get("metadata") or {})
        grader = grader_for(metadata)
        candidate = _generated_answer(sample.get("messages", []))
        score = grade_fn(grader, candidate, metadata.get("reference_answer", ""), metadata)
        results.append(
            {
                "id": sample.get("id"),
                "aggregate_reward_score": score,
                "metrics_list": [
                    {"name": grader, "value": score, "type": "Reward"},
                    {"name": "answer_chars", "value": float(len(candidate)), "type": "Metric"},
                ],
            }
        )
    return results


def check_grader_output(samples: list[dict[str, Any]], output: Any) -> list[str]:
    """Problems with a grader's answer to `samples` (the pre-flight check before an RFT job starts)."""
    if not isinstance(output, list):
        return [f"the grader returned {type(output).__name__}, expected a list"]
    problems = []
    if len(output) != len(samples):
        problems.append(f"the grader returned {len(output)} results for {len(samples)} samples")
    expected_ids = {sample.get("id") for sample in samples}
    for index, result in enumerate(output):
        if not isinstance(result, dict):
            problems.append(f"result {index} is {type(result).__name__}, expected an object")
            continue
        if result.get("id") not in expected_ids:
            problems.append(f"result {index} has id {result.get('id')!r}, which is not a sample id")
        score = result.get("aggregate_reward_score")
        if not isinstance(score, int | float) or isinstance(score, bool) or not 0.0 <= float(score) <= 1.0:
            problems.append(f"result {index} ({result.get('id')}): aggregate_reward_score {score!r} is not in [0, 1]")
    return problems
