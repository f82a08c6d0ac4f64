"""LLM-as-judge: robust score parsing, the rubric sent, its tokens counted and priced."""

from __future__ import annotations

import pytest

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.gate import Thresholds
from nova_pipeline.evaluation.judge import judge, parse_score
from nova_pipeline.evaluation.metrics import evaluate_rows
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.evaluation.service import evaluation_report


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Mostly right. <SCORE>85</SCORE>", 85.0),
        ("<score> 72.5 </score>", 72.5),
        ("Score: 40", 40.0),
        ("I'd give it 90/100.", 90.0),
        ("100", 100.0),
        ("<SCORE>130</SCORE>", 100.0),
        ("<SCORE>-5</SCORE>", 0.0),
        ("First <SCORE>10</SCORE> then, on reflection, <SCORE>60</SCORE>", 60.0),
        ("no idea", None),
    ],
)
def test_scores_are_parsed_robustly(text: str, score: float | None) -> None:
    assert parse_score(text) == score


def test_the_rubric_carries_question_reference_and_candidate() -> None:
    seen: list[str] = []

    def converse(prompt: str) -> tuple[str, int, int]:
        seen.append(prompt)
        return "<SCORE>50</SCORE>", 120, 8

    verdict = judge(converse, prompt="How many heads?", reference="SELECT COUNT(*) FROM head", prediction="")

    assert (verdict.score, verdict.input_tokens, verdict.output_tokens) == (50.0, 120, 8)
    assert "Reference answer: SELECT COUNT(*) FROM head" in seen[0] and "Candidate answer: (empty)" in seen[0]


def test_judge_scores_and_cost_reach_the_metrics_and_the_report() -> None:
    rows = [
        PredictionRow(prediction="a", reference="a", judge_score=100, judge_input_tokens=1000, judge_output_tokens=100),
        PredictionRow(
            prediction="b", reference="c", judge_score=None, judge_input_tokens=1000, judge_output_tokens=100
        ),
    ]

    metrics = evaluate_rows(rows, TaskType.GENERATION)
    report = evaluation_report(
        candidate_rows=rows,
        baseline_rows=None,
        task=TaskType.GENERATION,
        model="nova-micro",
        prices=load_prices(),
        traffic={"queriesPerMonth": 1, "inputTokens": 1, "outputTokens": 1},
        thresholds=Thresholds(),
        judge_model="us.amazon.nova-pro-v1:0",
    )

    assert metrics["judge"] == {"meanScore": 1.0, "unparsedRate": 0.5, "inputTokens": 2000, "outputTokens": 200}
    # 2,000 input tokens x $0.0008/1K + 200 output tokens x $0.0032/1K on Nova Pro
    assert report["evaluationCost"]["judge"] == pytest.approx(0.0016 + 0.00064)
