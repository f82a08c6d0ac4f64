"""Optional LLM-as-judge: the seed's 0-100 rubric, robust score parsing, and its token cost counted.

The judge compares the candidate's answer with the reference and answers with a score in <SCORE></SCORE> tags.
Parsing accepts the tags, "Score: 85", "85/100" and a lone number; values are clamped to [0, 100]; an answer with no
score counts as unparsed (reported, not guessed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

RUBRIC = """You are grading an answer against a reference answer.
Question: {prompt}
Reference answer: {reference}
Candidate answer: {prediction}

Score the candidate from 0 to 100: 100 when it is equivalent to the reference (same meaning, or for SQL the same
result), 50 when it is partly right, 0 when it is wrong or empty. Explain briefly, then give the score as
<SCORE>number</SCORE>."""

_TAGGED = re.compile(r"<SCORE>\s*(-?\d+(?:\.\d+)?)\s*</SCORE>", re.IGNORECASE)
_LABELLED = re.compile(r"score\s*[:=]\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)
_FRACTION = re.compile(r"(-?\d+(?:\.\d+)?)\s*/\s*100\b")
_LONE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*$")

# converse(prompt) -> (text, input tokens, output tokens); injected so the judge is testable without AWS.
Converse = Callable[[str], tuple[str, int, int]]


def parse_score(text: str) -> float | None:
    for pattern in (_TAGGED, _LABELLED, _FRACTION, _LONE):
        matches = pattern.findall(text)
        if matches:
            return max(0.0, min(100.0, float(matches[-1])))
    return None


@dataclass(frozen=True)
class Judgement:
    score: float | None
    input_tokens: int
    output_tokens: int


def judge(converse: Converse, *, prompt: str, reference: str, prediction: str) -> Judgement:
    text, input_tokens, output_tokens = converse(
        RUBRIC.format(prompt=prompt, reference=reference, prediction=prediction or "(empty)")
    )
    return Judgement(parse_score(text), input_tokens, output_tokens)
