"""`sagemaker.evaluationRecipes` at ValidateInput: the published tasks, strategies, metrics and instance types per
model, gen_qa's dataset, and a clear refusal on the Bedrock platform."""

from __future__ import annotations

from typing import Any

import pytest

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.core.problems import InputProblemsError


def _problems(recipes: list[dict[str, Any]], **document: Any) -> list[str]:
    base = {"dataset": {"uri": "raw/x.csv"}, "platform": "sagemaker", "sagemaker": {"evaluationRecipes": recipes}}
    with pytest.raises(InputProblemsError) as raised:
        parse_execution_input({**base, **document}, region="us-east-1")
    return [f"{p.path}: {p.message}" for p in raised.value.problems]


def test_published_tasks_are_accepted_with_their_defaults() -> None:
    run = parse_execution_input(
        {
            "dataset": {"uri": "raw/x.csv"},
            "platform": "sagemaker",
            "sagemaker": {
                "evaluationRecipes": [
                    {"task": "mmlu", "strategy": "zs_cot", "metric": "accuracy"},
                    {"task": "gen_qa", "dataset": "raw/eval/qa.jsonl", "instanceType": "ml.g5.12xlarge"},
                ]
            },
        },
        region="us-east-1",
    )

    assert [r.task for r in run.sagemaker.evaluation_recipes] == ["mmlu", "gen_qa"]


def test_without_evaluation_recipes_nothing_changes() -> None:
    run = parse_execution_input({"dataset": {"uri": "raw/x.csv"}, "platform": "sagemaker"}, region="us-east-1")

    assert run.sagemaker.evaluation_recipes == []


def test_the_bedrock_platform_is_refused_with_the_alternative() -> None:
    problems = _problems([{"task": "mmlu"}], platform="bedrock")

    assert problems == [
        "$.sagemaker.evaluationRecipes: Nova evaluation recipes run on a SageMaker training job's checkpoint; "
        "platform is bedrock: set `platform` to `sagemaker`, or use `evaluation.general` (the forgetting guard) to "
        "measure general capability on bedrock"
    ]


def test_every_problem_is_named_by_its_path() -> None:
    problems = _problems(
        [
            {"task": "mmlu", "strategy": "fs_cot"},
            {"task": "bbh", "metric": "exact_match", "dataset": "raw/x.jsonl"},
            {"task": "gen_qa"},
            {"task": "llm_judge"},
            {"task": "mmlu"},
            {"task": "math", "instanceType": "ml.p4d.24xlarge"},
            {"task": "gen_qa", "dataset": "prepared/other-run/train.jsonl"},
        ]
    )

    assert problems == [
        "$.sagemaker.evaluationRecipes[0].strategy: mmlu publishes strategy 'zs_cot' only, not 'fs_cot'",
        "$.sagemaker.evaluationRecipes[1].metric: bbh publishes metric 'accuracy' only, not 'exact_match'",
        "$.sagemaker.evaluationRecipes[1].dataset: bbh is a published benchmark and reads no dataset",
        "$.sagemaker.evaluationRecipes[2].dataset: gen_qa evaluates your dataset: give its key under raw/",
        "$.sagemaker.evaluationRecipes[3].task: 'llm_judge' is not offered; offered: mmlu, mmlu_pro, bbh, gpqa, "
        "math, strong_reject, ifeval, gen_qa (llm_judge, mmmu and rft_eval are published too but compare two "
        "models, need images or a reward Lambda)",
        "$.sagemaker.evaluationRecipes[4].task: mmlu is requested twice",
        "$.sagemaker.evaluationRecipes[5].instanceType: not allowed for nova-micro evaluation; allowed: "
        "ml.p5.48xlarge, ml.g5.12xlarge, ml.g5.24xlarge, ml.g6.12xlarge, ml.g6.24xlarge",
        "$.sagemaker.evaluationRecipes[6].task: gen_qa is requested twice",
        "$.sagemaker.evaluationRecipes[6].dataset: must be a key under raw/ of the data bucket",
    ]


def test_a_model_without_published_evaluation_recipes_is_refused() -> None:
    problems = _problems([{"task": "mmlu"}], baseModel="nova-premier")

    assert "$.sagemaker.evaluationRecipes: nova-premier has no published Nova evaluation recipe" in problems
