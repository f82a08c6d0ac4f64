"""The forgetting guard's general-capability set: multiple-choice questions in MMLU's format, scored by exact-choice
extraction, answered by the candidate and by the base model beside the task's test split.

A row of a set is `{"question": str, "choices": [str, ...] (2-10), "answer": index | letter}` (MMLU's columns,
Hendrycks et al., "Measuring Massive Multitask Language Understanding", ICLR 2021), one JSON object per line. The
shipped set `builtin:general-v1` is written by this module (arithmetic, units, sequences, comparisons, spelling:
`write_builtin`), so it is reproducible and carries no third-party data.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_pipeline.core.problems import InputProblemsError, Problem
from nova_pipeline.evaluation.predictions import PredictionRow

BUILTIN_PREFIX = "builtin:"
BUILTIN_SETS = ("general-v1",)
LETTERS = string.ascii_uppercase[:10]
INSTRUCTION = "Answer with the letter of the correct choice only."
KIND = "general"
MAX_QUESTION_CHARS = 4_000
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Question:
    question: str
    choices: tuple[str, ...]
    answer: int

    def prompt(self) -> str:
        lines = [self.question, *(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(self.choices)), INSTRUCTION]
        return "\n".join(lines)

    def letter(self) -> str:
        return LETTERS[self.answer]


def _question(record: Any) -> Question:
    if not isinstance(record, dict):
        raise ValueError("must be a JSON object with question, choices and answer")
    question, choices, answer = record.get("question"), record.get("choices"), record.get("answer")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question: must be a non-empty string")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"question: longer than {MAX_QUESTION_CHARS:,} characters")
    if not isinstance(choices, list) or not 2 <= len(choices) <= len(LETTERS):
        raise ValueError(f"choices: must be a list of 2 to {len(LETTERS)} strings")
    if not all(isinstance(choice, str) and choice.strip() for choice in choices):
        raise ValueError("choices: every choice must be a non-empty string")
    if isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip().upper() in LETTERS:
        index = LETTERS.index(answer.strip().upper())
    elif isinstance(answer, int) and not isinstance(answer, bool):
        index = answer
    else:
        raise ValueError("answer: must be the index of the correct choice (0-based) or its letter (A, B, ...)")
    if not 0 <= index < len(choices):
        raise ValueError(f"answer: {answer!r} is not one of the {len(choices)} choices")
    return Question(question.strip(), tuple(choice.strip() for choice in choices), index)


def parse_general_set(text: str, name: str) -> list[Question]:
    """Every question of a JSONL set, or `InputProblemsError` naming file, line and field of each problem."""
    questions: list[Question] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(_question(json.loads(line)))
        except (ValueError, RecursionError) as error:
            message = f"invalid JSON: {error.msg}" if isinstance(error, json.JSONDecodeError) else str(error)
            problems.append(Problem(f"{name} line {number}", message))
            if len(problems) >= MAX_PROBLEMS:
                break
    if problems:
        raise InputProblemsError(name, problems)
    if not questions:
        raise InputProblemsError(name, [Problem(name, "the general set has no questions")])
    return questions


def builtin_set(name: str) -> list[Question]:
    if name != "general-v1":
        raise InputProblemsError(
            "evaluation.general.uri", [Problem("$.evaluation.general.uri", f"unknown built-in set {name!r}")]
        )
    return [_question(record) for record in write_builtin()]


def extract_choice(text: str, choices: int) -> str | None:
    """The letter a model's answer picks, or None: an exact letter (`B`, `(B)`, `B.`), `answer is B` / `Answer: B`,
    or a line opening with `B.` / `B)`. Letters beyond the question's choices do not count."""
    valid = LETTERS[:choices]
    stripped = text.strip()
    patterns = (
        r"^\(?([A-J])\)?[.):]?$",
        r"\b(?:answer|choice)\s*(?:is|:)?\s*\(?([A-J])\)?(?![A-Za-z])",
        r"(?m)^\(?([A-J])[.)]\s",
    )
    for pattern in patterns:
        match = re.search(pattern, stripped, flags=re.IGNORECASE if "answer" in pattern else 0)
        if match and match.group(1).upper() in valid:
            return match.group(1).upper()
    return None


def general_rows(questions: Sequence[Question], max_rows: int) -> list[dict[str, Any]]:
    """Evaluation rows (`kind: general`): the lettered prompt, the correct letter as reference."""
    return [
        {
            "id": f"general-{index:05d}",
            "kind": KIND,
            "prompt": question.prompt(),
            "reference": question.letter(),
            "choices": len(question.choices),
        }
        for index, question in enumerate(questions[:max_rows])
    ]


def general_accuracy(predictions: Sequence[tuple[str, str, int, bool]]) -> dict[str, float | int]:
    """(prediction, reference letter, choices, failed) rows → accuracy and the share with no valid choice."""
    picked = [None if failed else extract_choice(text, choices) for text, _, choices, failed in predictions]
    rows = len(predictions) or 1
    return {
        "rows": len(predictions),
        "accuracy": sum(p == ref for p, (_, ref, _, _) in zip(picked, predictions, strict=True)) / rows,
        "noChoiceRate": sum(p is None for p in picked) / rows,
    }


def general_summary(
    candidate: Sequence[PredictionRow], base: Sequence[PredictionRow], *, uri: str | None, base_model: str | None
) -> dict[str, Any] | None:
    """The forgetting guard's figures: accuracy of candidate and base model on the general set, and the drop."""
    if not candidate:
        return None

    def scored(rows: Sequence[PredictionRow]) -> dict[str, float | int]:
        return general_accuracy([(r.prediction, r.reference, r.choices or 4, r.error is not None) for r in rows])

    mine, theirs = scored(candidate), scored(base) if base else None
    return {
        "set": uri,
        "baseModel": base_model,
        "candidate": mine,
        "base": theirs,
        "regression": round(float(theirs["accuracy"]) - float(mine["accuracy"]), 6) if theirs else None,
    }


# ------------------------------------------------------------------------------------------- the shipped set
_WORDS = ("river", "mountain", "keyboard", "elephant", "window", "orange", "planet", "library", "garden", "bicycle",
          "umbrella", "pencil", "castle", "violin", "harbour")  # fmt: skip


def _choices(rng: random.Random, correct: int | str, wrong: Sequence[int | str]) -> tuple[list[str], int]:
    options = [str(correct)]
    for candidate in wrong:
        if str(candidate) not in options and len(options) < 4:
            options.append(str(candidate))
    rng.shuffle(options)
    return options, options.index(str(correct))


def write_builtin(seed: int = 2026, per_kind: int = 15) -> list[dict[str, Any]]:
    """`builtin:general-v1`: 120 distinct questions of eight kinds, deterministic for the seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible questions, not a secret

    def addition() -> tuple[str, int | str, list[int | str]]:
        a, b = rng.randint(11, 89), rng.randint(11, 89)
        return f"What is {a} + {b}?", a + b, [a + b + 1, a + b - 10, a + b + 10, a + b - 1]

    def times() -> tuple[str, int | str, list[int | str]]:
        a, b = rng.randint(3, 19), rng.randint(3, 12)
        return f"What is {a} times {b}?", a * b, [a * b + a, a * b - b, a * b + 1, (a + 1) * (b + 1)]

    def minus() -> tuple[str, int | str, list[int | str]]:
        a, b = rng.randint(50, 99), rng.randint(11, 49)
        return f"What is {a} minus {b}?", a - b, [a - b + 1, a - b - 1, a + b, a - b + 10]

    def largest() -> tuple[str, int | str, list[int | str]]:
        numbers = rng.sample(range(100, 999), 4)
        return f"Which of these numbers is the largest: {', '.join(map(str, numbers))}?", max(numbers), list(numbers)

    def minutes() -> tuple[str, int | str, list[int | str]]:
        hours = rng.randint(2, 30)
        return f"How many minutes are in {hours} hours?", hours * 60, [hours * 100, hours * 30, hours * 60 + 60, hours]

    def letters() -> tuple[str, int | str, list[int | str]]:
        word = rng.choice(_WORDS)
        return f"How many letters are in the word '{word}'?", len(word), [len(word) + 1, len(word) - 1, len(word) + 2]

    def sequence() -> tuple[str, int | str, list[int | str]]:
        start, step = rng.randint(1, 20), rng.randint(2, 9)
        shown, following = [start + step * i for i in range(4)], start + step * 4
        question = f"What number comes next: {', '.join(map(str, shown))}, ...?"
        return question, following, [following + 1, following - step, following + step, following - 1]

    def alphabet() -> tuple[str, int | str, list[int | str]]:
        letter = rng.choice(string.ascii_uppercase[:-1])
        after = chr(ord(letter) + 1)
        before = chr(ord(letter) - 1) if letter != "A" else "Z"
        beyond = chr(ord(after) + 1) if after != "Z" else "Y"
        return f"Which letter comes right after '{letter}' in the English alphabet?", after, [before, beyond, letter]

    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for kind in (addition, times, minus, largest, minutes, letters, sequence, alphabet):
        made = 0
        while made < per_kind:
            question, correct, wrong = kind()
            if question in seen:
                continue
            seen.add(question)
            options, answer = _choices(rng, correct, wrong)
            records.append({"question": question, "choices": options, "answer": answer})
            made += 1
    return records


def builtin_jsonl() -> str:
    return "".join(json.dumps(record) + "\n" for record in write_builtin())


def read_local(path: Path) -> list[Question]:
    return parse_general_set(path.read_text(encoding="utf-8"), path.name)
