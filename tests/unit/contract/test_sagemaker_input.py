"""SageMaker execution input: instances and regions from the catalog, hyperparameter rules per recipe family."""

from __future__ import annotations

from typing import Any

import pytest

from nova_pipeline.contract.catalog import (
    SAGEMAKER_REGIONS,
    SAGEMAKER_TRAINING,
    sagemaker_regions,
)
from nova_pipeline.contract.execution_input import ExecutionInput, parse_execution_input
from nova_pipeline.core.problems import InputProblemsError

NO_VALIDATION = {"train": 0.9, "validation": 0, "test": 0.1}


def parse(model: str, method: str = "sft", region: str | None = None, **fields: Any) -> ExecutionInput:
    document: dict[str, Any] = {"dataset": {"uri": "raw/x.csv"}, "platform": "sagemaker", "baseModel": model}
    document["method"] = method
    if model == "nova-2-lite":
        document["split"] = NO_VALIDATION
    return parse_execution_input({**document, **fields}, region=region)


def problems(model: str, method: str = "sft", region: str | None = None, **fields: Any) -> list[str]:
    with pytest.raises(InputProblemsError) as caught:
        parse(model, method, region, **fields)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("model", "method", "instance_type", "count"),
    [
        ("nova-micro", "sft", "ml.g5.48xlarge", 1),
        ("nova-lite", "sft", "ml.g5.48xlarge", 1),
        ("nova-pro", "sft", "ml.p5.48xlarge", 6),
        ("nova-2-lite", "sft", "ml.p5.48xlarge", 1),
        ("nova-2-lite", "rft", "ml.p5.48xlarge", 4),
    ],
)
def test_instances_default_from_the_catalog_per_model_and_method(
    model: str, method: str, instance_type: str, count: int
) -> None:
    parsed = parse(model, method)

    assert (parsed.sagemaker.instance_type, parsed.sagemaker.instance_count) == (instance_type, count)


def test_the_instance_type_selects_the_recipe_and_its_replicas() -> None:
    parsed = parse("nova-lite", sagemaker={"instanceType": "ml.p4d.24xlarge"})

    assert (parsed.sagemaker.instance_type, parsed.sagemaker.instance_count) == ("ml.p4d.24xlarge", 4)


def test_an_instance_type_the_model_cannot_use_is_refused_with_the_allowed_ones() -> None:
    assert problems("nova-pro", sagemaker={"instanceType": "ml.g5.48xlarge"}) == [
        "$.sagemaker.instanceType: 'ml.g5.48xlarge' cannot run nova-pro sft; allowed: ml.p5.48xlarge, "
        "ml.p5en.48xlarge, ml.p4d.24xlarge"
    ]
    assert problems("nova-2-lite", "rft", sagemaker={"instanceType": "ml.g6.48xlarge"}) == [
        "$.sagemaker.instanceType: 'ml.g6.48xlarge' cannot run nova-2-lite rft; allowed: ml.p5.48xlarge, "
        "ml.p5en.48xlarge"
    ]


def test_an_instance_count_the_recipe_does_not_allow_is_refused() -> None:
    assert problems("nova-micro", sagemaker={"instanceType": "ml.p5.48xlarge", "instanceCount": 3}) == [
        "$.sagemaker.instanceCount: 3 is not allowed for recipe nova_micro_1_0_p5_p4d_gpu_lora_sft on "
        "ml.p5.48xlarge; allowed: 2, 4, 8"
    ]
    assert problems("nova-2-lite", "rft", sagemaker={"instanceCount": 1}) == [
        "$.sagemaker.instanceCount: 1 is not allowed for recipe nova_lite_v2_smtj_p5_p5en_gpu_lora_rft on "
        "ml.p5.48xlarge; allowed: 4, 6, 8"
    ]


def test_a_shipped_recipe_of_another_model_or_instance_is_refused() -> None:
    assert problems("nova-lite", sagemaker={"recipe": "nova_micro_1_0_g5_g6_48x_gpu_lora_sft"}) == [
        "$.sagemaker.recipe: 'nova_micro_1_0_g5_g6_48x_gpu_lora_sft' is not a nova-lite sft recipe; shipped: "
        "nova_lite_1_0_g5_g6_48x_gpu_lora_sft, nova_lite_1_0_p5_p4d_gpu_lora_sft"
    ]
    assert problems(
        "nova-micro", sagemaker={"recipe": "nova_micro_1_0_g5_g6_48x_gpu_lora_sft", "instanceType": "ml.p5.48xlarge"}
    ) == [
        "$.sagemaker.instanceType: 'ml.p5.48xlarge' cannot run recipe nova_micro_1_0_g5_g6_48x_gpu_lora_sft; "
        "allowed: ml.g5.48xlarge, ml.g6.48xlarge"
    ]


def test_bedrock_runs_leave_the_sagemaker_instances_unset() -> None:
    parsed = parse_execution_input({"dataset": {"uri": "raw/x.csv"}})

    assert (parsed.sagemaker.instance_type, parsed.sagemaker.instance_count) == (None, None)


def test_a_region_without_nova_training_images_is_refused_at_validate_input() -> None:
    assert parse("nova-micro", region="ap-northeast-1").sagemaker.instance_type == "ml.g5.48xlarge"
    assert problems("nova-micro", region="eu-west-2") == [
        "$.platform: SageMaker training of nova-micro (sft) has no Nova training image in eu-west-2; regions: "
        "us-east-1, us-west-2, ap-northeast-1"
    ]
    # Bedrock runs are not checked against the SageMaker regions.
    parse_execution_input({"dataset": {"uri": "raw/x.csv"}}, region="eu-west-2")


def test_the_stacks_can_ask_which_regions_train_what() -> None:
    assert sagemaker_regions() == ("us-east-1", "us-west-2", "ap-northeast-1")
    assert sagemaker_regions("nova-2-lite") == ("us-east-1", "us-west-2", "ap-northeast-1")
    assert sagemaker_regions("nova-premier") == ()
    assert {region: entry.image_account for region, entry in SAGEMAKER_REGIONS.items()} == {
        "us-east-1": "708977205387",
        "us-west-2": "176779409107",
        "ap-northeast-1": "878185805882",
    }
    for entry in SAGEMAKER_REGIONS.values():
        assert entry.offers <= set(SAGEMAKER_TRAINING)


def test_the_models_sagemaker_methods_are_the_catalog_table() -> None:
    from nova_pipeline.contract.catalog import MODELS, Platform

    offered = {(name, method) for name, spec in MODELS.items() for method in spec.sagemaker_methods}
    assert offered == set(SAGEMAKER_TRAINING)
    for model, method in SAGEMAKER_TRAINING:
        assert MODELS[model].supports(Platform.SAGEMAKER, method)


@pytest.mark.parametrize(
    ("model", "method", "name", "good", "bad", "allowed"),
    [
        ("nova-micro", "sft", "loraAlpha", 192, 100, "one of 32, 64, 96, 128, 160, 192"),
        ("nova-pro", "sft", "globalBatchSize", 32, 128, "one of 16, 32, 64"),
        ("nova-2-lite", "sft", "globalBatchSize", 128, 16, "one of 32, 64, 128"),
        ("nova-2-lite", "sft", "loraAlpha", 160, 16, "one of 32, 64, 96, 128, 160, 192"),
        ("nova-2-lite", "sft", "maxLength", 65536, 4096, "one of 8192, 16384, 32768, 65536"),
        ("nova-2-lite", "rft", "loraAlpha", 16, 128, "one of 16, 32, 64"),
        ("nova-2-lite", "rft", "globalBatchSize", 16, 512, "one of 16, 32, 64, 128"),
        ("nova-2-lite", "rft", "reasoningEffort", "low", "medium", "one of high, low"),
        ("nova-2-lite", "sft", "reasoningEnabled", "false", "maybe", "one of true, false"),
    ],
)
def test_hyperparameter_rules_follow_the_recipe_family(
    model: str, method: str, name: str, good: object, bad: object, allowed: str
) -> None:
    assert name in parse(model, method, hyperparameters={name: good}).hyperparameters
    [message] = problems(model, method, hyperparameters={name: bad})
    assert message.startswith(f"$.hyperparameters.{name}: {bad!r} ")
    assert message.endswith(f"allowed: {allowed}")
