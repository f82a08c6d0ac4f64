"""RFT reward functions and the Bedrock / SageMaker RFT Lambda grader contract.

Input: a list of samples. Each sample is the prepared training record's own fields at the TOP LEVEL
(`reference_answer`, `task`, `grader`, `labels`, `context`, ...) plus `id` (added by the service) and `messages`: the
record's prompt with the generated answer appended as the last assistant turn. The generated turn's role may be
`assistant` or `nova_assistant`; its content a string or a list of `{"type": "text", "text": ...}` blocks.
Older Bedrock pages show the record's fields wrapped in `metadata` instead: both are read. When a field is in both
places the top-level value wins (it is the shape the Nova 2 user guide documents and the one the service sends);
a field only in `metadata` is still used.
Output: a list of `{id, aggregate_reward_score, metrics_list: [{name, value, type: "Reward" | "Metric"}]}` with
scores in [0, 1], one per sample, `id`s echoed.

Graders: `exact`, `normalized`, `label` (classification: the label extracted from a verbose answer), `numeric`
(absolute tolerance) and `sql-execution` (candidate and reference run on several in-memory SQLite test databases
built from the record's CREATE TABLE context and seeded with both queries' literals; equal results on every
database score 1; a reference empty on every database is compared by canonical SQL instead, and the sample's
`sql_fallback` metric says so). The grader of a record comes from its metadata (`grader`), else from its task.
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
    return graded(grader, candidate, reference, metadata)[0]


def graded(grader: str, candidate: str, reference: Any, metadata: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """Reward in [0, 1] of one candidate, and the grader's own metrics (`Metric` entries of the sample's result)."""
    reference_text = reference if isinstance(reference, str) else str(reference)
    if grader == "sql-execution":
        match = execution_match(candidate, reference_text, str(metadata.get("context", "")))
        return float(match.equal), [{"name": "sql_fallback", "value": float(match.fallback), "type": "Metric"}]
    return _score(grader, candidate, reference_text, metadata), []


def _score(grader: str, candidate: str, reference_text: str, metadata: dict[str, Any]) -> float:
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
    raise ValueError(f"unknown grader {grader!r}; known: {', '.join(GRADERS)}")


def grader_for(metadata: dict[str, Any]) -> str:
    grader = metadata.get("grader")
    if grader:
        return str(grader)
    return {"classification": "label", "text-to-sql": "sql-execution"}.get(str(metadata.get("task")), "normalized")


GENERATED_ROLES = ("assistant", "nova_assistant")
METRIC_TYPES = ("Reward", "Metric")
# Keys the service adds to a sample (or that wrap the record's fields): never record fields themselves.
_SAMPLE_KEYS = ("id", "messages", "metadata")


def message_text(content: Any) -> str:
    """Text of a message's content: a string, or a list of `{"type": "text", "text": ...}` / `{"text": ...}` blocks."""
    if isinstance(content, list):
        return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return "" if content is None else str(content)


def generated_answer(messages: list[dict[str, Any]]) -> str:
    """The generated answer: the last `assistant` / `nova_assistant` turn."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") in GENERATED_ROLES:
            return message_text(message.get("content", ""))
    return ""


def record_fields(sample: dict[str, Any]) -> dict[str, Any]:
    """The training record's fields of a sample: top-level fields, over those of an older `metadata` wrapper."""
    wrapped = sample.get("metadata")
    fields = dict(wrapped) if isinstance(wrapped, dict) else {}
    fields.update({key: value for key, value in sample.items() if key not in _SAMPLE_KEYS})
    return fields


def score_samples(
    samples: list[dict[str, Any]], *, grade_fn: Callable[..., tuple[float, list[dict[str, Any]]]] = graded
) -> list[dict[str, Any]]:
    """Apply the grader contract to a batch."""
    results = []
    for sample in samples:
        fields = record_fields(sample)
        grader = grader_for(fields)
        candidate = generated_answer(sample.get("messages") or [])
        reference = fields.get("reference_answer")
        score, grader_metrics = grade_fn(grader, candidate, "" if reference is None else reference, fields)
        results.append(
            {
                "id": sample.get("id"),
                "aggregate_reward_score": score,
                "metrics_list": [
                    {"name": grader, "value": score, "type": "Reward"},
                    {"name": "answer_chars", "value": float(len(candidate)), "type": "Metric"},
                    *grader_metrics,
                ],
            }
        )
    return results


def check_grader_output(samples: list[dict[str, Any]], output: Any) -> list[str]:
    """Problems with a grader's answer to `samples`: the pre-flight check, and the simulated RFT job's check.

    The contract: a list with one object per sample, each `{id, aggregate_reward_score, metrics_list}` where `id`
    is a sample's id, the score a number in [0, 1] and `metrics_list` (optional) a list of
    `{name: str, value: number, type: "Reward" | "Metric"}`.
    """
    if not isinstance(output, list):
        return [f"the grader returned {type(output).__name__}, expected a list"]
    problems = []
    if len(output) != len(samples):
        problems.append(f"the grader returned {len(output)} results for {len(samples)} samples")
    expected_ids = {sample.get("id") for sample in samples}
    seen: set[Any] = set()
    for index, result in enumerate(output):
        if not isinstance(result, dict):
            problems.append(f"result {index} is {type(result).__name__}, expected an object")
            continue
        result_id = result.get("id")
        if result_id not in expected_ids:
            problems.append(f"result {index} has id {result_id!r}, which is not a sample id")
        elif result_id in seen:
            problems.append(f"result {index} repeats id {result_id!r}")
        seen.add(result_id)
        score = result.get("aggregate_reward_score")
        if not (isinstance(score, int | float) and _is_number(score) and 0.0 <= float(score) <= 1.0):
            problems.append(f"result {index} ({result_id}): aggregate_reward_score {score!r} is not in [0, 1]")
        problems += _metrics_list_problems(index, result_id, result.get("metrics_list"))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _metrics_list_problems(index: int, result_id: Any, metrics: Any) -> list[str]:
    where = f"result {index} ({result_id}): metrics_list"
    if metrics is None:
        return []
    if not isinstance(metrics, list):
        return [f"{where} is {type(metrics).__name__}, expected a list"]
    problems = []
    for position, metric in enumerate(metrics):
        if not isinstance(metric, dict):
            problems.append(f"{where}[{position}] is {type(metric).__name__}, expected an object")
            continue
        if not isinstance(metric.get("name"), str) or not metric["name"]:
            problems.append(f"{where}[{position}].name {metric.get('name')!r} is not a non-empty string")
        if not _is_number(metric.get("value")):
            problems.append(f"{where}[{position}].value {metric.get('value')!r} is not a number")
        if metric.get("type") not in METRIC_TYPES:
            problems.append(f"{where}[{position}].type {metric.get('type')!r} is not 'Reward' or 'Metric'")
    return problems
