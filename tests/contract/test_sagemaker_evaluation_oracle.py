"""Contract: our CreateTrainingJob for a Nova evaluation recipe on a checkpoint agrees with the SageMaker Python SDK
v3's `ModelTrainer.from_recipe` fed the same recipe (its `_get_args_from_nova_recipe` handles recipes with an
`evaluation` section: `base_model_location` for an s3:// model path, `eval_lambda_arn` only when the recipe's
`processor.lambda_arn` is set). Offline, as tests/contract/test_sagemaker_sdk_oracle.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nova_pipeline.contract.catalog import SAGEMAKER_EVALUATION_TASKS, evaluation_recipe
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.jobs import sagemaker_evaluation as evaluation
from nova_pipeline.jobs import training
from tests.contract import sdk_oracle
from tests.contract.test_sagemaker_sdk_oracle import EXECUTION, channel_types, hyperparameters

pytestmark = [
    pytest.mark.filterwarnings("ignore:register_new_resolver:UserWarning"),
    pytest.mark.filterwarnings("ignore:sagemaker.train.configs has been moved:DeprecationWarning"),
]

CHECKPOINT = "s3://customer-escrow-123456789012-smtj-abc/nova-dev-oracle-train-1/checkpoints/"
CASES = [
    pytest.param(model, task, id=f"{model}-{task}")
    for model in ("nova-micro", "nova-lite", "nova-pro", "nova-2-lite")
    for task in ("mmlu", "bbh", "gen_qa")
]


def ours(model: str, task: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    requested: dict[str, Any] = {"task": task} | ({"dataset": "raw/eval/qa.jsonl"} if task == "gen_qa" else {})
    run = parse_execution_input(
        {
            "dataset": {"uri": "raw/x.csv"},
            "platform": "sagemaker",
            "baseModel": model,
            "runName": "oracle",
            "sagemaker": {"evaluationRecipes": [requested]},
        }
        | ({"split": {"train": 0.9, "validation": 0, "test": 0.1}} if model == "nova-2-lite" else {}),
        region="us-east-1",
    )
    [wanted] = run.sagemaker.evaluation_recipes
    resources = training.TrainingResources(
        environment="dev", region="us-east-1", role_arn=sdk_oracle.ROLE_ARN, artifacts_bucket="artifacts"
    )
    job_name = evaluation.evaluation_job_name("dev", run, EXECUTION, task)
    name, recipe = evaluation.build_evaluation_recipe(run, wanted, model_path=CHECKPOINT, job_name=job_name)
    recipe_file = f"{name}.yaml"
    request = evaluation.evaluation_job_request(
        run,
        wanted,
        EXECUTION,
        resources,
        recipe=recipe,
        recipe_uri=f"s3://artifacts/recipes/{job_name}/{recipe_file}",
        recipe_file=recipe_file,
        job_name=job_name,
        data_bucket="data",
    )
    return request, recipe, recipe_file


@pytest.mark.parametrize(("model", "task"), CASES)
def test_our_evaluation_request_matches_the_sagemaker_sdk(model: str, task: str, tmp_path: Path) -> None:
    request, recipe, recipe_file = ours(model, task)
    (tmp_path / recipe_file).write_text(training.recipe_document(recipe), encoding="utf-8")
    data_channels = [
        (c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"], "S3Prefix")
        for c in request["InputDataConfig"]
        if c["ChannelName"] != "recipe"
    ]

    sdk = sdk_oracle.create_training_job(
        tmp_path / recipe_file,
        region="us-east-1",
        image=request["AlgorithmSpecification"]["TrainingImage"],
        instance_type=request["ResourceConfig"]["InstanceType"],
        channels=data_channels,
    )
    theirs = sdk.create_training_job

    assert hyperparameters(request) == hyperparameters(theirs)
    assert request["HyperParameters"]["base_model_location"] == CHECKPOINT
    assert channel_types(request) == channel_types(theirs)
    assert request["AlgorithmSpecification"] == theirs["AlgorithmSpecification"]
    for key in ("InstanceType", "InstanceCount"):
        assert request["ResourceConfig"][key] == theirs["ResourceConfig"][key], key
    assert recipe == yaml.safe_load(sdk.recipe_upload)
    published = SAGEMAKER_EVALUATION_TASKS[task]
    assert recipe_file == f"{evaluation_recipe(model, published)}.yaml"
    assert recipe["evaluation"]["task"] == task
    assert (recipe["evaluation"]["strategy"], recipe["evaluation"]["metric"]) == (published.strategy, published.metric)


def test_the_shipped_evaluation_recipes_are_the_published_ones() -> None:
    """Unchanged copies of aws/sagemaker-hyperpod-recipes (the tasks, strategies and metrics they carry)."""
    folder = Path(evaluation.__file__).parent / "recipes" / "evaluation"
    shipped = {path.stem: yaml.safe_load(path.read_text()) for path in folder.glob("*.yaml")}

    assert len(shipped) == 8
    for name, recipe in shipped.items():
        kind = "gen_qa" if "bring_your_own_dataset" in name else "mmlu"
        assert recipe["evaluation"]["task"] == kind, name
        assert recipe["run"]["replicas"] == 1, name
