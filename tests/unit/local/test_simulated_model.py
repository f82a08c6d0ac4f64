"""The simulated customized model learns from its training examples, including where an answer copies a literal
from its question: honest SQL grading (test-suite databases) needs the asked literal, not the learned one."""

from __future__ import annotations

from nova_pipeline.local.simulated_model import CustomizedModel, Example, tokens


def _example(question: str, answer: str) -> Example:
    prompt = f"<context>\nCREATE TABLE employee (name VARCHAR, salary INTEGER)\n</context>\n\n{question}"
    return Example("", prompt, answer, frozenset(tokens(prompt)))


def test_a_literal_the_answer_copies_from_its_question_is_carried_over() -> None:
    model = CustomizedModel(
        [
            _example("How many employees earn at most 1913?", "SELECT COUNT(*) FROM employee WHERE salary <= 1913"),
            _example("Which employee is named Maple Harbor?", "SELECT * FROM employee WHERE name = 'Maple Harbor'"),
        ]
    )

    assert model.answer("", "How many employees earn at most 2374?") == (
        "SELECT COUNT(*) FROM employee WHERE salary <= 2374"
    )
    assert model.answer("", "Which employee is named O'Hara Cedar?") == (
        "SELECT * FROM employee WHERE name = 'O''Hara Cedar'"
    )


def test_words_that_are_not_literals_of_the_answer_are_left_alone() -> None:
    model = CustomizedModel([_example("Is this ticket about billing?", "billing")])

    assert model.answer("", "Is this ticket about refunds?") == "billing"
