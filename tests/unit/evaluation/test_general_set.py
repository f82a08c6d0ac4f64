"""The forgetting guard's general set: MMLU-format parsing with file:line errors, exact-choice extraction, the
shipped set, the execution input's rules and the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.evaluation.gate import Thresholds, decide
from nova_pipeline.evaluation.general import builtin_jsonl, extract_choice, general_rows, parse_general_set

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_file_is_the_set_the_project_writes() -> None:
    assert (ROOT / "examples" / "data" / "general" / "general-v1.jsonl").read_text() == builtin_jsonl()
    questions = parse_general_set(builtin_jsonl(), "general-v1.jsonl")
    assert len(questions) == 120 and len({q.question for q in questions}) == 120


def test_mmlu_rows_accept_an_index_or_a_letter() -> None:
    text = "\n".join(
        json.dumps(row)
        for row in (
            {"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1},
            {"question": "Capital of France?", "choices": ["Paris", "Rome"], "answer": "a"},
        )
    )
    first, second = parse_general_set(text, "mmlu.jsonl")

    assert (first.letter(), second.letter()) == ("B", "A")
    assert general_rows([first], 10)[0]["prompt"] == (
        "2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer with the letter of the correct choice only."
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "mmlu.jsonl line 2: invalid JSON"),
        ('{"question": "", "choices": ["a", "b"], "answer": 0}', "mmlu.jsonl line 2: question: must be a non-empty"),
        ('{"question": "q", "choices": ["a"], "answer": 0}', "mmlu.jsonl line 2: choices: must be a list of 2 to 10"),
        ('{"question": "q", "choices": ["a", "b"], "answer": 2}', "mmlu.jsonl line 2: answer: 2 is not one of the 2"),
        ('{"question": "q", "choices": ["a", "b"], "answer": true}', "mmlu.jsonl line 2: answer: must be the index"),
        ("[1, 2]", "mmlu.jsonl line 2: must be a JSON object"),
    ],
)
def test_a_bad_row_is_named_by_file_line_and_field(line: str, message: str) -> None:
    good = json.dumps({"question": "q", "choices": ["a", "b"], "answer": 0})

    with pytest.raises(InputProblemsError) as caught:
        parse_general_set(f"{good}\n{line}\n", "mmlu.jsonl")

    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "picked"),
    [
        ("B", "B"),
        ("(c)", None),  # lower-case alone is not a letter answer
        ("(C)", "C"),
        ("D.", "D"),
        ("The answer is (B).", "B"),
        ("Answer: A", "A"),
        ("A. 42\nbecause 40 + 2", "A"),
        ("SELECT * FROM t", None),
        ("E", None),  # beyond the four choices
        ("I am not sure.", None),
    ],
)
def test_exact_choice_extraction(answer: str, picked: str | None) -> None:
    assert extract_choice(answer, 4) == picked


def test_a_gate_on_general_regression_needs_a_general_set_before_any_spend() -> None:
    with pytest.raises(InputProblemsError, match="needs a general set to measure it"):
        parse_execution_input({"dataset": {"uri": "raw/x/"}, "gate": {"maxGeneralRegression": 0.02}})
    with pytest.raises(InputProblemsError, match="this environment gates on the general-set regression"):
        parse_execution_input({"dataset": {"uri": "raw/x/"}}, gate_defaults={"max_general_regression": 0.02})
    with pytest.raises(InputProblemsError, match="unknown built-in set"):
        parse_execution_input({"dataset": {"uri": "raw/x/"}, "evaluation": {"general": {"uri": "builtin:mmlu"}}})
    parsed = parse_execution_input(
        {"dataset": {"uri": "raw/x/"}, "evaluation": {"general": {}}, "gate": {"maxGeneralRegression": 0.02}},
        gate_defaults={"max_general_regression": 0.05},
    )
    assert parsed.evaluation.general is not None and parsed.evaluation.general.uri == "builtin:general-v1"


def _decide(general: tuple[float, float] | None) -> list[str]:
    verdict = decide(
        metric="accuracy", candidate=0.9, baseline=0.5, promoted=None, ttft_p90_ms=None, cost_per_1k_requests=None,
        error_rate=0.0, thresholds=Thresholds(max_general_regression=0.05), general=general,
    )  # fmt: skip
    return list(verdict.dump()["failed"])


def test_the_gate_refuses_a_candidate_that_forgot() -> None:
    assert _decide((0.80, 0.78)) == []
    assert _decide((0.80, 0.60)) == [
        "general-set accuracy fell +0.2000 from the base model's 0.8000 to 0.6000 > maximum 0.0500"
    ]
    assert _decide(None) == ["general-set regression not measured (no general set)"]
