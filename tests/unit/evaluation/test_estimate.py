"""The cost guard's estimate: Bedrock tokens x epochs x price, SageMaker instances x hours x price, evaluation rows x
models x tokens; the budget's refusal names the estimate; `nova-pipeline cost --input` prints the same figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.cli import main
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.estimate import DataSize, TrainingBudgetExceeded, check_budget, estimate_cost

ROOT = Path(__file__).resolve().parents[3]
DATA = DataSize(train_records=1_000, test_records=200, mean_tokens=150.0)


def run(**fields: Any) -> Any:
    return parse_execution_input({"dataset": {"uri": "raw/x.csv"}, **fields}, region="us-east-1")


def test_bedrock_training_is_tokens_times_epochs_times_the_training_price() -> None:
    estimate = estimate_cost(run(hyperparameters={"epochCount": 4}), DATA)

    # 1,000 records x 150 tokens = 150,000 tokens x 4 epochs x $0.001 per 1K tokens (Nova Micro, NOVA_FACTS 8)
    assert estimate.training_usd == 0.6
    assert estimate.training_basis == "1000 train records x 150 tokens = 150,000 tokens x 4 epochs x $0.001/1K"
    # 200 test rows x 2 models (candidate, base model) x 150 tokens in and out at $0.000035 + $0.00014 per 1K
    assert estimate.evaluation_usd == round(200 * 2 * 150 / 1000 * (0.000035 + 0.00014), 4)
    assert estimate.within_budget


def test_sagemaker_training_is_the_most_the_job_can_bill() -> None:
    document = {"platform": "sagemaker", "sagemaker": {"instanceType": "ml.g5.48xlarge", "maxRuntimeHours": 6}}

    estimate = estimate_cost(run(**document), DATA)

    # 1 instance x 6 h x $16.25/h (the seed's 4 h for $65 on one ml.g5.48xlarge, NOVA_FACTS 6)
    assert estimate.training_usd == 97.5
    assert estimate.training_basis == "at most 1 x ml.g5.48xlarge x 6 h (maxRuntimeHours) x $16.25/h"


def test_a_budget_below_the_estimate_refuses_with_the_estimate_in_the_message() -> None:
    estimate = estimate_cost(run(hyperparameters={"epochCount": 4}, budget={"maxTrainingUsd": 0.5}), DATA)

    with pytest.raises(TrainingBudgetExceeded) as caught:
        check_budget(estimate)

    assert str(caught.value) == (
        "estimated training cost $0.60 (1000 train records x 150 tokens = 150,000 tokens x 4 epochs x $0.001/1K) is "
        "above budget.maxTrainingUsd $0.50; no job was started. Lower the epochs, cap the training set "
        "(split.maxTrain) or raise the budget"
    )


def test_a_budget_is_never_waved_through_when_the_cost_cannot_be_estimated() -> None:
    document = {
        "platform": "sagemaker",
        "sagemaker": {"instanceType": "ml.g6.48xlarge"},
        "budget": {"maxTrainingUsd": 1e6},
    }
    estimate = estimate_cost(run(**document), DATA)

    assert estimate.training_usd is None and not estimate.within_budget
    with pytest.raises(TrainingBudgetExceeded, match=r"cannot be estimated \(no hourly price for ml\.g6\.48xlarge"):
        check_budget(estimate)


def test_the_shipped_price_table_has_the_instance_price_it_cites() -> None:
    assert load_prices().instance_hour("ml.g5.48xlarge") == 16.25


def test_cost_input_prepares_the_data_and_prints_the_guard_estimate(tmp_path: Path, capsys: Any) -> None:
    document = json.loads((ROOT / "examples/sft-text-to-sql-nova-micro.json").read_text())
    document["budget"] = {"maxTrainingUsd": 0.1}
    given = tmp_path / "input.json"
    given.write_text(json.dumps(document))

    code = main(["cost", "--input", str(given), "--data", str(ROOT / "examples/data/text-to-sql"), "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert code == 2  # above its budget, as CheckBudget would refuse it
    assert printed["trainingUsd"] == 0.27 and printed["withinBudget"] is False
    assert printed["trainingBasis"].endswith("x 5 epochs x $0.001/1K")


def test_cost_input_shows_the_hourly_cost_of_a_full_rank_runs_provisioned_throughput(
    tmp_path: Path, capsys: Any
) -> None:
    document = json.loads((ROOT / "examples/sagemaker-lora-sft-nova-micro.json").read_text())
    document["sagemaker"] = {"peftScheme": "none", "instanceType": "ml.g5.48xlarge", "maxRuntimeHours": 4}
    document["hyperparameters"] = {}
    document["deployment"] = {"provisionedThroughput": {"usdPerModelUnitHour": 20, "maxHourlyUsd": 20}}
    given = tmp_path / "input.json"
    given.write_text(json.dumps(document))

    code = main(["cost", "--input", str(given), "--data", str(ROOT / "examples/data/text-to-sql")])

    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert printed[1].startswith("  training:   $65.00")  # 1 x ml.g5.48xlarge x 4 h x $16.25/h
    assert printed[-1].startswith(
        "  Provisioned Throughput: 1 model unit(s) x $20.00 = $20.00 per hour while it exists (maxHourlyUsd $20.00)"
    )


def test_cost_input_with_a_bucket_key_asks_for_the_data(capsys: Any) -> None:
    code = main(["cost", "--input", str(ROOT / "examples/sft-text-to-sql-nova-micro.json")])

    assert code == 2
    assert "dataset.uri 'raw/text-to-sql/' is a key of the environment's data bucket; give --data" in (
        capsys.readouterr().err
    )


def test_every_stage_is_estimated_on_its_own_records_and_the_budget_checks_the_sum() -> None:
    stages = [
        {"method": "sft", "dataShare": 0.5, "hyperparameters": {"epochCount": 2}},
        {"method": "sft", "dataShare": 0.5, "includePreviousData": True, "hyperparameters": {"epochCount": 1}},
    ]

    estimate = estimate_cost(run(stages=stages, budget={"maxTrainingUsd": 0.2}), DATA)

    # Stage 1: its half (500 records) x 150 tokens x 2 epochs; stage 2: its half + all of stage 1's x 1 epoch
    assert [(s.index, s.training_usd) for s in estimate.stages] == [(0, 0.15), (1, 0.15)]
    assert estimate.stages[0].training_basis == "500 train records x 150 tokens = 75,000 tokens x 2 epochs x $0.001/1K"
    assert estimate.stages[1].training_basis.startswith("1000 train records x 150 tokens")
    assert estimate.training_usd == 0.3 and not estimate.within_budget  # each stage fits $0.20, both do not
    # Each stage is evaluated on the whole test split
    assert estimate.evaluation_usd == round(2 * 200 * 2 * 150 / 1000 * (0.000035 + 0.00014), 4)
    with pytest.raises(TrainingBudgetExceeded, match=r"^estimated training cost \$0\.30 \(stage 1 \(sft\) \$0\.15 \+"):
        check_budget(estimate)


def test_a_stage_without_a_price_leaves_the_sum_unknown_and_a_budget_refuses() -> None:
    document = json.loads((ROOT / "examples/stages-question-quality-nova-2-lite.json").read_text())

    estimate = estimate_cost(run(**{**document, "budget": {"maxTrainingUsd": 1e6}}), DATA)

    assert estimate.training_usd is None and not estimate.within_budget
    assert "stage 1: no hourly price for ml.p5.48xlarge" in estimate.training_basis


def test_each_sagemaker_evaluation_recipe_job_adds_its_instance_hours_to_the_evaluation() -> None:
    from dataclasses import replace

    table = load_prices()
    table = replace(table, instances={**table.instances, "ml.p5.48xlarge": 55.0, "ml.g5.12xlarge": 7.0})
    document = {
        "platform": "sagemaker",
        "sagemaker": {
            "instanceType": "ml.g5.48xlarge",
            "maxRuntimeHours": 2,
            "evaluationRecipes": [{"task": "mmlu"}, {"task": "bbh", "instanceType": "ml.g5.12xlarge"}],
        },
    }

    estimate = estimate_cost(run(**document), DATA, table)

    bedrock_part = round(200 * 2 * 150 / 1000 * (0.000035 + 0.00014), 4)
    # mmlu on the model's default evaluation instance (ml.p5.48xlarge, 1 instance) and bbh on ml.g5.12xlarge, each
    # for at most maxRuntimeHours: 2 x 55 + 2 x 7 (prices of this test's table)
    assert estimate.evaluation_usd == round(bedrock_part + 2 * 55.0 + 2 * 7.0, 4)
    assert estimate.evaluation_basis.endswith("+ 2 evaluation recipe job(s) of at most 2 h (maxRuntimeHours) $124.00")


def test_an_evaluation_recipe_on_an_instance_without_a_price_leaves_the_evaluation_unknown() -> None:
    document = {
        "platform": "sagemaker",
        "sagemaker": {"instanceType": "ml.g5.48xlarge", "evaluationRecipes": [{"task": "mmlu"}]},
    }

    estimate = estimate_cost(run(**document), DATA)

    assert estimate.evaluation_usd is None
    assert estimate.evaluation_basis.endswith("evaluation recipe mmlu: no hourly price for ml.p5.48xlarge")
    assert estimate.within_budget  # the budget is on training only


def test_a_data_mixing_run_has_no_training_estimate_and_a_budget_refuses_it() -> None:
    document = {
        "dataset": {"uri": "raw/q.jsonl", "columns": {"question": "q", "answer": "label", "label": "label"}},
        "task": "classification",
        "baseModel": "nova-2-lite",
        "platform": "sagemaker",
        "method": "sft",
        "split": {"train": 0.9, "validation": 0, "test": 0.1},
        "budget": {"maxTrainingUsd": 100},
        "dataMixing": {
            "customerDataPercent": 70,
            "novaDataPercent": {"code": 30, "rai": 70},
            "baseModelArn": "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/"
            "nova-textgeneration-lite-v2/1.0.0",
            "modelPackageGroupArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/nova-mixed",
            "acceptEula": True,
        },
    }

    estimate = estimate_cost(parse_execution_input(document, region="us-east-1"), DATA)

    assert estimate.training_usd is None
    with pytest.raises(TrainingBudgetExceeded, match="serverless SageMaker training job \\(data mixing\\)"):
        check_budget(estimate)
