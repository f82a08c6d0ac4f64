"""A stage's training cost in the progression table: what SageMaker billed (billable seconds x instances x the
hourly price), Bedrock's token estimate, or why there is no figure."""

from __future__ import annotations

from dataclasses import replace

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import JobState, StageCostEstimate
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.progression import render_progression, training_cost

SAGEMAKER = parse_execution_input(
    {
        "dataset": {"uri": "raw/x.csv"},
        "platform": "sagemaker",
        "sagemaker": {"instanceType": "ml.g5.48xlarge", "instanceCount": 1},
    },
    region="us-east-1",
)
BEDROCK = parse_execution_input({"dataset": {"uri": "raw/x.csv"}}, region="us-east-1")
ESTIMATE = StageCostEstimate(index=0, method="sft", training_usd=0.6, training_basis="600,000 tokens x $0.001/1K")


def _job(platform: str, billable: float | None) -> JobState:
    return JobState(platform=platform, job_arn="arn", job_name="job", billable_seconds=billable)


def test_a_sagemaker_stage_costs_its_billed_seconds() -> None:
    cost = training_cost(_job("sagemaker", 5_400), SAGEMAKER, ESTIMATE, load_prices())

    # 5,400 s = 1.5 h x 1 instance x $16.25/h (ml.g5.48xlarge, the seed's 4 h for $65)
    assert cost == (24.38, "billed 5400 s x 1 x ml.g5.48xlarge at $16.25/h")


def test_a_sagemaker_instance_without_a_price_falls_back_to_the_estimate_or_says_why() -> None:
    table = replace(load_prices(), instances={})
    unpriced = StageCostEstimate(index=0, method="sft", training_basis="no hourly price for ml.g5.48xlarge")

    assert training_cost(_job("sagemaker", 60), SAGEMAKER, ESTIMATE, table)[0] == 0.6
    assert training_cost(_job("sagemaker", 60), SAGEMAKER, unpriced, table) == (
        None,
        "not priced: no hourly price for ml.g5.48xlarge",
    )


def test_a_bedrock_stage_costs_its_token_estimate() -> None:
    cost = training_cost(_job("bedrock", None), BEDROCK, ESTIMATE, load_prices())

    assert cost == (0.6, "estimated before the run: 600,000 tokens x $0.001/1K")
    assert training_cost(_job("bedrock", None), BEDROCK, None, load_prices()) == (
        None,
        "not priced: no estimate was made",
    )


def test_the_html_table_shows_the_cost_with_how_it_was_found() -> None:
    row = {"stage": "stage 1", "method": "sft", "trainingCostUsd": 24.38, "trainingCostBasis": 'billed "5400" s'}

    page = render_progression({"rows": [row], "chosenStage": 1})

    assert "<th>training cost (USD)</th>" in page
    assert '<span title="billed &quot;5400&quot; s">24.38</span>' in page
