"""Full-rank vs LoRA on SageMaker (`sagemaker.peftScheme`), Provisioned Throughput refusal, MLflow tracking config."""

from __future__ import annotations

from typing import Any

import pytest

from nova_pipeline.contract.catalog import PEFT_SCHEME_PATHS
from nova_pipeline.contract.execution_input import ExecutionInput, parse_execution_input
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.jobs import training
from tests.unit.jobs.test_training import EXECUTION, RESOURCES, REWARD_ARN, request_for

NO_VALIDATION = {"train": 0.9, "validation": 0, "test": 0.1}
MLFLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"


def parse(model: str = "nova-micro", method: str = "sft", **fields: Any) -> ExecutionInput:
    document: dict[str, Any] = {
        "dataset": {"uri": "raw/x.csv"},
        "platform": "sagemaker",
        "baseModel": model,
        "method": method,
        "runName": "full",
    }
    if model == "nova-2-lite":
        document["split"] = NO_VALIDATION
    return parse_execution_input({**document, **fields})


def problems(model: str = "nova-micro", method: str = "sft", **fields: Any) -> list[str]:
    with pytest.raises(InputProblemsError) as caught:
        parse(model, method, **fields)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("model", "method", "instance_type", "recipe", "count"),
    [
        ("nova-micro", "sft", None, "nova_micro_1_0_g5_g6_48x_gpu_sft", 1),
        ("nova-micro", "sft", "ml.p5.48xlarge", "nova_micro_1_0_p5_p4d_gpu_sft", 2),
        ("nova-lite", "sft", None, "nova_lite_1_0_p5_p4d_gpu_sft", 4),
        ("nova-pro", "sft", None, "nova_pro_1_0_p5_gpu_sft", 6),
        ("nova-2-lite", "sft", None, "nova_lite_2_0_p5_gpu_sft", 4),
        ("nova-2-lite", "rft", None, "nova_lite_v2_smtj_p5_p5en_gpu_rft", 4),
    ],
)
def test_peft_scheme_none_selects_the_published_full_rank_recipe(
    model: str, method: str, instance_type: str | None, recipe: str, count: int
) -> None:
    sagemaker: dict[str, Any] = {"peftScheme": "none"}
    if instance_type:
        sagemaker["instanceType"] = instance_type
    run = parse(model, method, sagemaker=sagemaker)
    option, _, instances = training.instances(run)

    merged, request = request_for(run, resources=_resources(reward=method == "rft"))

    assert (option.recipe, instances, request["ResourceConfig"]["InstanceCount"]) == (recipe, count, count)
    peft_path = PEFT_SCHEME_PATHS[training.training_spec(run).family].rsplit(".", 1)[0]
    peft = training._get(merged, peft_path)
    assert peft["peft_scheme"] in (None, "null") and "lora_tuning" not in peft
    # Same image as LoRA: the full-rank recipes run in the same Nova training image.
    assert request["AlgorithmSpecification"]["TrainingImage"] == training.image_uri(model, run.method, "us-east-1")


def test_lora_stays_the_default() -> None:
    run = parse()
    option, _, _ = training.instances(run)

    merged, _ = request_for(run)

    assert run.sagemaker.peft_scheme == "lora" and option.recipe == "nova_micro_1_0_g5_g6_48x_gpu_lora_sft"
    assert merged["training_config"]["model"]["peft"]["peft_scheme"] == "lora"


def test_full_rank_on_an_instance_without_a_full_rank_recipe_is_refused() -> None:
    assert problems("nova-lite", sagemaker={"peftScheme": "none", "instanceType": "ml.g5.48xlarge"}) == [
        "$.sagemaker.instanceType: 'ml.g5.48xlarge' cannot run nova-lite sft full-rank; allowed: ml.p5.48xlarge, "
        "ml.p5en.48xlarge, ml.p4d.24xlarge"
    ]


def test_a_lora_recipe_named_with_peft_scheme_none_is_refused_with_the_hint() -> None:
    assert problems(sagemaker={"peftScheme": "none", "recipe": "nova_micro_1_0_g5_g6_48x_gpu_lora_sft"}) == [
        "$.sagemaker.recipe: 'nova_micro_1_0_g5_g6_48x_gpu_lora_sft' is not a nova-micro sft full-rank recipe; "
        "shipped: nova_micro_1_0_g5_g6_48x_gpu_sft, nova_micro_1_0_p5_p4d_gpu_sft "
        "(nova_micro_1_0_g5_g6_48x_gpu_lora_sft is LoRA: set sagemaker.peftScheme)"
    ]


def test_lora_hyperparameters_are_refused_for_full_rank() -> None:
    assert problems(sagemaker={"peftScheme": "none"}, hyperparameters={"loraAlpha": 64, "epochCount": 2}) == [
        '$.hyperparameters.loraAlpha: is a LoRA setting; the full-rank recipe (sagemaker.peftScheme "none") has no '
        "LoRA adapter"
    ]


def test_full_rank_on_bedrock_is_refused() -> None:
    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input({"dataset": {"uri": "raw/x.csv"}, "sagemaker": {"peftScheme": "none"}})

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.peftScheme: full-rank training is a SageMaker recipe choice: set platform to sagemaker, or "
        "remove peftScheme"
    ]


def test_provisioned_throughput_is_refused_as_not_supported_yet() -> None:
    messages = problems(
        sagemaker={"peftScheme": "none"},
        deployment={"provisionedThroughput": {"modelUnits": 1, "commitment": "none", "acceptHourlyUsd": 40}},
    )

    assert len(messages) == 1
    assert messages[0].startswith(
        "$.deployment.provisionedThroughput: Provisioned Throughput is not supported by the pipeline yet"
    )


def test_the_pipeline_owns_peft_scheme_and_mlflow_recipe_keys() -> None:
    run = parse(
        sagemaker={
            "recipeOverrides": {
                "training_config.model.peft.peft_scheme": None,
                "run.mlflow_tracking_uri": MLFLOW_ARN,
            }
        }
    )

    with pytest.raises(InputProblemsError) as caught:
        request_for(run)

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipeOverrides.training_config.model.peft.peft_scheme: is set by the pipeline from "
        "sagemaker.peftScheme",
        "$.sagemaker.recipeOverrides.run.mlflow_tracking_uri: is set by the pipeline from the environment's "
        "mlflowTrackingArn",
    ]


def test_a_user_recipe_must_match_the_peft_scheme() -> None:
    run = parse(sagemaker={"peftScheme": "none"})
    lora = training.load_shipped_recipe("nova_micro_1_0_g5_g6_48x_gpu_lora_sft")

    with pytest.raises(InputProblemsError) as caught:
        training.build_recipe(run, lora)

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipe: training_config.model.peft.peft_scheme is 'lora'; sagemaker.peftScheme 'none' needs a "
        "full-rank recipe (null)"
    ]


def test_mlflow_config_is_sent_only_when_the_environment_has_a_tracking_server() -> None:
    run = parse(sagemaker={"peftScheme": "none"})

    _, without = request_for(run)
    merged, tracked = request_for(run, resources=_resources(mlflow=MLFLOW_ARN))

    assert "MlflowConfig" not in without
    assert tracked["MlflowConfig"] == {
        "MlflowResourceArn": MLFLOW_ARN,
        "MlflowExperimentName": "nova-dev-full",
        "MlflowRunName": EXECUTION.name,
    }
    # The recipe's own MLflow keys stay as published (training jobs take MlflowConfig, not the recipe's run block).
    assert merged["run"]["mlflow_tracking_uri"] == ""
    assert {k: v for k, v in tracked.items() if k != "MlflowConfig"} == without


def test_mlflow_names_keep_to_the_api_pattern() -> None:
    run = parse()
    execution = EXECUTION.model_copy(update={"name": "run:1 é"})

    config = training.mlflow_config(MLFLOW_ARN, "dev", run, execution)

    assert config["MlflowRunName"] == "run-1--"


def _resources(*, reward: bool = False, mlflow: str | None = None) -> training.TrainingResources:
    return training.TrainingResources(
        environment=RESOURCES.environment,
        region=RESOURCES.region,
        role_arn=RESOURCES.role_arn,
        artifacts_bucket=RESOURCES.artifacts_bucket,
        reward_function_arn=REWARD_ARN if reward else None,
        mlflow_tracking_arn=mlflow,
    )


def test_full_rank_stages_are_refused() -> None:
    stages = [{"method": "sft"}, {"method": "rft", "from": "previous", "sagemaker": {"peftScheme": "none"}}]

    messages = problems("nova-2-lite", stages=stages)

    assert messages == [
        "$.stages[1].sagemaker.peftScheme: full-rank models cannot be deployed on demand, and every stage is "
        "evaluated against its deployment: multi-stage runs are LoRA only (remove peftScheme, or run one full-rank "
        "stage without `stages`)"
    ]
