"""The predictions file: JSONL, one object per evaluated row (what `nova-pipeline evaluate` reads and the
Evaluate stage writes).

Required: `prediction`, `reference`. Classification adds `label`; text-to-SQL adds `context` (CREATE TABLE
statements). Optional: `id`, `prompt`, `ttftMs`, `latencyMs`, `inputTokens`, `outputTokens`,
`outputTokensPerSecond`, `error` (a failed request; its prediction counts as wrong), `judgeScore` (0-100, LLM-as-judge),
`judgeInputTokens`, `judgeOutputTokens`, `stopReason` (Converse's; `guardrail_intervened` counts as a guardrail
intervention).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from nova_pipeline.core.problems import InputProblemsError, Problem, problems_from_validation_error


class PredictionRow(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    prediction: str
    reference: str
    id: str | None = None
    prompt: str | None = None
    label: str | None = None
    context: str | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    output_tokens_per_second: float | None = None
    error: str | None = None
    judge_score: float | None = None
    judge_input_tokens: int | None = None
    judge_output_tokens: int | None = None
    stop_reason: str | None = None
    kind: str | None = None
    """`general` for a row of the general-capability set (the forgetting guard); unset for the task's rows."""
    choices: int | None = None
    """Number of choices of a general-set question."""


def parse_lines(lines: Iterable[str], name: str) -> list[PredictionRow]:
    rows: list[PredictionRow] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(PredictionRow.model_validate(json.loads(line)))
        except json.JSONDecodeError as error:
            problems.append(Problem(f"{name} line {number}", f"invalid JSON: {error.msg}"))
        except ValidationError as error:
            for problem in problems_from_validation_error(error):
                problems.append(
                    Problem(f"{name} line {number}", problem.path.removeprefix("$.") + ": " + problem.message)
                )
    if problems:
        raise InputProblemsError(name, problems[:20])
    return rows


def read_predictions(path: str | Path) -> list[PredictionRow]:
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        return parse_lines(handle, path.name)
