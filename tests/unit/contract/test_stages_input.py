"""`stages` and `dataMixing` in the execution input: resolved per stage, refused with the rule's source."""

from __future__ import annotations

from typing import Any

import pytest

from nova_pipeline.contract.catalog import Method
from nova_pipeline.contract.execution_input import parse_execution_input, stage_view
from nova_pipeline.core.problems import InputProblemsError

BASE: dict[str, Any] = {
    "dataset": {"uri": "raw/q.jsonl", "columns": {"question": "q", "answer": "label", "label": "label"}},
    "task": "classification",
    "baseModel": "nova-2-lite",
    "split": {"train": 0.8, "validation": 0.0, "test": 0.2},
}


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input(document, region="us-east-1")
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_sagemaker_sft_then_rft_resolves_each_stage_with_its_own_defaults() -> None:
    run = parse_execution_input(
        {
            **BASE,
            "platform": "sagemaker",
            "stages": [
                {"method": "sft", "dataShare": 0.83},
                {"method": "rft", "dataShare": 0.17, "includePreviousData": True, "rft": {"grader": "label"}},
            ],
        },
        region="us-east-1",
    )

    first, second = run.stages
    assert (first.from_, second.from_) == ("base", "previous")
    assert run.method is Method.SFT  # the first stage's method is the run's top-level one
    assert second.sagemaker is not None and (second.sagemaker.instance_type, second.sagemaker.instance_count) == (
        "ml.p5.48xlarge",
        4,
    )
    view = stage_view(run, 1)
    assert view.method is Method.RFT and view.rft.grader == "label" and view.sagemaker == second.sagemaker


def test_a_single_stage_input_is_unchanged() -> None:
    run = parse_execution_input({**BASE, "method": "sft"}, region="us-east-1")

    assert run.stages == [] and stage_view(run, 0) is run


def test_bedrock_refuses_rft_from_a_previous_stage_citing_the_user_guide() -> None:
    found = problems({**BASE, "stages": [{"method": "sft"}, {"method": "rft"}]})

    assert len(found) == 1
    assert found[0].startswith("$.stages[1].method: rft cannot start from the previous stage's sft model on bedrock")
    assert "'Submit a model customization job for fine-tuning'" in found[0]
    assert "'Create and manage fine-tuning jobs for Amazon Nova models'" in found[0]


def test_bedrock_accepts_sft_from_a_previous_sft_stage() -> None:
    run = parse_execution_input({**BASE, "stages": [{"method": "sft"}, {"method": "sft"}]}, region="us-east-1")

    assert [stage.from_ for stage in run.stages] == ["base", "previous"]


def test_every_stage_rule_is_reported_at_once() -> None:
    found = problems(
        {
            **BASE,
            "method": "rft",
            "platform": "sagemaker",
            "sagemaker": {"recipe": "s3://bucket/recipes/full-rank.yaml"},
            "evaluation": {"enabled": False},
            "stages": [
                {"method": "sft", "from": "previous", "dataShare": 0.7, "includePreviousData": 0.5},
                {"method": "rft", "from": "base", "dataShare": 0.6, "hyperparameters": {"nope": 1}},
            ],
        }
    )

    assert found == [
        "$.method: is rft but $.stages[0].method is sft; leave it out",
        "$.evaluation.enabled: must be true with several stages: they are compared by it",
        "$.sagemaker.recipe: an s3:// recipe cannot be used with several stages: every stage uses the shipped LoRA "
        "recipe of its method so that all keep the same LoRA/full-rank choice",
        "$.stages: the stages' dataShare values add up to 1.3; at most 1",
        "$.stages[0].from: the first stage starts from the base model ('base')",
        "$.stages[0].includePreviousData: the first stage has no previous stage",
        "$.stages[1].from: a later stage starts from the previous stage's model ('previous'); run separate "
        "executions instead",
        found[-1],
    ]
    assert found[-1].startswith("$.stages[1].hyperparameters.nope: is not a hyperparameter of rft on sagemaker")


def test_distillation_cannot_be_one_of_several_stages() -> None:
    found = problems(
        {
            **BASE,
            "baseModel": "nova-micro",
            "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
            "stages": [{"method": "distillation"}, {"method": "sft"}],
        }
    )

    assert any(p.startswith("$.stages[0].method: distillation cannot be one of several stages") for p in found)


HUB_MODEL = "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/nova-textgeneration-lite-v2/1.0.0"
GROUP = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/nova-mixed"
MIX: dict[str, Any] = {
    "customerDataPercent": 70,
    "novaDataPercent": {"code": 30, "rai": 70},
    "baseModelArn": HUB_MODEL,
    "modelPackageGroupArn": GROUP,
    "acceptEula": True,
}


def test_data_mixing_on_sagemaker_is_accepted_with_the_serverless_job_settings() -> None:
    run = parse_execution_input(
        {**BASE, "platform": "sagemaker", "method": "sft", "dataMixing": MIX}, region="us-east-1"
    )

    assert run.data_mixing is not None
    assert (run.data_mixing.base_model_arn, run.data_mixing.accept_eula) == (HUB_MODEL, True)


def test_data_mixing_is_checked_as_the_service_checks_it_before_a_paid_job() -> None:
    found = problems(
        {
            **BASE,
            "platform": "sagemaker",
            "method": "sft",
            "hyperparameters": {"epochCount": 2},
            "dataMixing": {
                "customerDataPercent": 70,
                "novaDataPercent": {"code": 30, "poetry": 20},
                "baseModelArn": "arn:aws:sagemaker:us-west-2:aws:hub-content/SageMakerPublicHub/Model/nova-lite/1.0.0",
                "modelPackageGroupArn": "nova-mixed",
            },
        }
    )

    assert found[0].startswith("$.dataMixing.novaDataPercent.poetry: is not a Nova data category; known: agents,")
    assert found[1:5] == [
        "$.dataMixing.novaDataPercent: the weights must add up to 100 (got 50)",
        "$.hyperparameters: with dataMixing the serverless job trains with the SageMaker AI Hub's defaults for the "
        "model; set no hyperparameters",
        "$.dataMixing.acceptEula: must be true: the serverless job trains the base model under its end-user license "
        "agreement, which you accept explicitly",
        "$.dataMixing.baseModelArn: is in us-west-2; the pipeline runs in us-east-1",
    ]
    assert found[5] == (
        "$.dataMixing.modelPackageGroupArn: 'nova-mixed' is not an ARN like "
        "arn:aws:sagemaker:<region>:<account>:model-package-group/<name>"
    )


def test_data_mixing_on_bedrock_is_refused_with_where_it_runs() -> None:
    found = problems({**BASE, "platform": "bedrock", "method": "sft", "dataMixing": MIX})

    assert found == [
        "$.dataMixing: Nova Forge data mixing runs only on SageMaker serverless model customization and SageMaker "
        "HyperPod, for Nova 2 Lite SFT with a Nova Forge subscription (SageMaker Python SDK: 'Data mixing is only "
        "supported on HyperPod and Serverless platforms'); Bedrock customization jobs do not accept it. Use platform "
        "sagemaker (this pipeline then runs a SageMaker serverless training job with the mix), or remove dataMixing"
    ]


def test_data_mixing_refuses_rft_and_several_stages() -> None:
    found = problems(
        {
            **BASE,
            "platform": "sagemaker",
            "stages": [{"method": "sft"}, {"method": "rft", "from": "previous"}],
            "dataMixing": {**MIX, "baseModelArn": None},
        }
    )

    assert "$.dataMixing: mixes into SFT only" in found
    assert "$.dataMixing: runs as one serverless SFT job; remove stages" in found
    assert any(p.startswith("$.dataMixing.baseModelArn: is required: an ARN like") for p in found)


def test_data_mixing_names_the_models_that_have_nova_data() -> None:
    found = problems(
        {
            **BASE,
            "baseModel": "nova-micro",
            "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
            "dataMixing": {"customerDataPercent": 50},
        }
    )

    assert found[0] == "$.dataMixing: nova-micro has no Nova data to mix in; only nova-2-lite (SFT) has"
