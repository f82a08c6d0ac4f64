"""The execution input model: defaults, aliases, and every problem listed at once with its JSON path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.contract.execution_input import ExecutionInput, parse_execution_input
from nova_pipeline.contract.reference import execution_input_reference
from nova_pipeline.core.problems import InputProblemsError

ROOT = Path(__file__).resolve().parents[3]
MINIMAL = {"dataset": {"uri": "raw/data.csv"}}


def problems_of(document: object, **kwargs: str) -> list[str]:
    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input(document, **kwargs)
    return [str(problem) for problem in caught.value.problems]


def test_minimal_input_gets_documented_defaults() -> None:
    parsed = parse_execution_input(MINIMAL, default_base_model="nova-lite")

    assert parsed.base_model == "nova-lite"
    assert (parsed.method.value, parsed.platform.value, parsed.task.value) == ("sft", "bedrock", "generation")
    assert parsed.hyperparameters == {"epochCount": 2, "learningRate": 1e-5, "learningRateWarmupSteps": 10}
    assert (parsed.split.train, parsed.split.validation, parsed.split.test) == (0.8, 0.1, 0.1)
    assert parsed.dataset.on_invalid == "fail"


def test_seed_alias_learning_rate_multiplier_is_sent_as_learning_rate() -> None:
    parsed = parse_execution_input(
        {**MINIMAL, "hyperparameters": {"learningRateMultiplier": "2e-5", "epochCount": "5"}}
    )

    assert parsed.hyperparameters["learningRate"] == 2e-5
    assert parsed.hyperparameters["epochCount"] == 5
    assert "learningRateMultiplier" not in parsed.hyperparameters


def test_field_errors_are_all_listed_with_json_paths() -> None:
    document = {
        "dataset": {"uri": "", "format": "xlsx", "colums": {}},
        "method": "dpo",
        "split": {"train": 2},
        "hyperparameters": {"epochCount": 9},
    }

    assert problems_of(document) == [
        "$.dataset.uri: String should have at least 1 character (got '')",
        "$.dataset.format: Input should be 'auto', 'csv', 'json' or 'jsonl' (got 'xlsx')",
        "$.dataset.colums: is not a known field (check the spelling; see the execution input reference)",
        "$.method: Input should be 'sft', 'rft' or 'distillation' (got 'dpo')",
        "$.split.train: Input should be less than or equal to 1 (got 2)",
    ]


def test_hyperparameter_errors_name_parameter_value_and_range() -> None:
    document = {**MINIMAL, "hyperparameters": {"epochCount": 9, "learningRate": "fast", "dropout": 0.1}}

    assert problems_of(document) == [
        "$.hyperparameters.epochCount: 9 is out of range; allowed: int from 1 to 5",
        "$.hyperparameters.learningRate: 'fast' is not a float; allowed: float from 1e-06 to 0.0001",
        "$.hyperparameters.dropout: is not a hyperparameter of sft on bedrock; known: epochCount, learningRate, "
        "learningRateWarmupSteps, batchSize",
    ]


def test_field_and_hyperparameter_errors_come_in_one_round_trip() -> None:
    document = {"dataset": {}, "hyperparameters": {"epochCount": 0}}

    assert problems_of(document) == [
        "$.dataset.uri: is required",
        "$.hyperparameters.epochCount: 0 is out of range; allowed: int from 1 to 5",
    ]


def test_model_method_platform_combinations_are_checked() -> None:
    assert problems_of({**MINIMAL, "baseModel": "nova-micro", "method": "rft"}) == [
        "$.method: rft on bedrock is not available for nova-micro; it supports: sft on bedrock, "
        "distillation on bedrock, sft on sagemaker",
    ]
    assert problems_of({**MINIMAL, "baseModel": "nova-premier"}) == [
        "$.baseModel: 'nova-premier' cannot be customized; "
        "allowed values: nova-micro, nova-lite, nova-pro, nova-2-lite",
    ]


def test_nova_2_lite_rejects_a_validation_split() -> None:
    document = {**MINIMAL, "baseModel": "nova-2-lite", "method": "rft"}

    assert problems_of(document) == [
        "$.split.validation: must be 0: nova-2-lite does not accept a validation set",
    ]
    accepted = parse_execution_input({**document, "split": {"train": 0.9, "validation": 0, "test": 0.1}})
    assert accepted.hyperparameters["batchSize"] == 128


def test_split_must_sum_to_one_and_cap_within_model_limit() -> None:
    document = {**MINIMAL, "split": {"train": 0.7, "validation": 0.1, "test": 0.1, "maxTrain": 30000}}

    assert problems_of(document) == [
        "$.split: train + validation + test must be 1.0 (got 0.9)",
        "$.split.maxTrain: 30000 exceeds the nova-micro limit of 20000 records",
    ]


def test_distillation_needs_a_teacher_that_can_teach() -> None:
    document = {**MINIMAL, "method": "distillation", "distillation": {"teacherModel": "nova-lite"}}

    assert problems_of(document) == [
        "$.distillation.teacherModel: 'nova-lite' cannot teach; allowed values: nova-pro, nova-premier",
    ]
    parsed = parse_execution_input({**MINIMAL, "method": "distillation", "distillation": {"teacherModel": "nova-pro"}})
    assert parsed.hyperparameters == {}


def test_text_to_sql_needs_the_schema_column() -> None:
    assert problems_of({**MINIMAL, "task": "text-to-sql"}) == [
        "$.dataset.columns.context: is required for text-to-sql and the sql-execution grader (the CREATE TABLE column)",
    ]


def test_non_object_input_is_rejected() -> None:
    assert problems_of(["not", "an", "object"]) == ["$: must be a JSON object"]


def test_resolved_input_round_trips_through_json() -> None:
    parsed = parse_execution_input(json.loads((ROOT / "examples/sft-text-to-sql-nova-micro.json").read_text()))

    dumped = json.loads(json.dumps(parsed.model_dump(mode="json", by_alias=True)))

    assert ExecutionInput.model_validate(dumped) == parsed
    assert dumped["gate"]["maxCostPer1kRequestsUsd"] is None


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_example_input_is_valid(example: Path) -> None:
    parse_execution_input(json.loads(example.read_text()))


def test_committed_reference_matches_the_model() -> None:
    committed = (ROOT / "docs" / "execution-input.md").read_text()

    assert committed == execution_input_reference(), "run: nova-pipeline input-reference > docs/execution-input.md"


@pytest.mark.parametrize(
    ("judge", "called"),
    [
        ("us.amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"),
        ("nova-premier", "us.amazon.nova-premier-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456",
            "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456",
        ),
    ],
)
def test_a_judge_is_what_the_evaluation_calls(judge: str, called: str) -> None:
    parsed = parse_execution_input({**MINIMAL, "evaluation": {"judgeModel": judge}}, region="us-east-1")

    assert parsed.evaluation.judge_model == called


@pytest.mark.parametrize(
    ("judge", "problem"),
    [
        (
            "arn:aws:iam::123456789012:role/judge",
            "'arn:aws:iam::123456789012:role/judge' is not a model the evaluation can call: give a Nova inference "
            "profile id (us.amazon.nova-micro-v1:0, us.amazon.nova-lite-v1:0, us.amazon.nova-pro-v1:0, "
            "us.amazon.nova-2-lite-v1:0, us.amazon.nova-premier-v1:0), a short name (nova-micro, nova-lite, "
            "nova-pro, nova-2-lite, nova-premier), or the ARN of such a profile or of a custom-model deployment in "
            "us-east-1",
        ),
        (
            "anthropic.claude-3-haiku",
            "'anthropic.claude-3-haiku' is not a model the evaluation can call",
        ),
        (
            "arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/abc123def456",
            "'arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/abc123def456' is in us-west-2; the "
            "evaluation runs in us-east-1: use a model in us-east-1",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0",
            "inference profile 'us.meta.llama3-1-8b-instruct-v1:0' is not a Nova model of the catalog",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/Judge",
            "is not a custom-model deployment ARN (its id is 12 lowercase letters and digits)",
        ),
    ],
)
def test_a_judge_the_evaluation_cannot_call_is_refused_before_training(judge: str, problem: str) -> None:
    [found] = problems_of({**MINIMAL, "evaluation": {"judgeModel": judge}}, region="us-east-1")

    assert found.startswith("$.evaluation.judgeModel: ")
    assert problem in found


def test_a_us_profile_cannot_judge_outside_the_us() -> None:
    assert problems_of({**MINIMAL, "evaluation": {"judgeModel": "nova-pro"}}, region="eu-west-1") == [
        "$.evaluation.judgeModel: 'us.amazon.nova-pro-v1:0' is a US cross-Region profile: it cannot be called in "
        "eu-west-1"
    ]


@pytest.mark.parametrize(
    ("prompt", "problem"),
    [
        (
            {"userTemplate": "{question:>1000000000}"},
            "$.prompt.userTemplate: placeholder {question:>1000000000} is not a plain {column} field: format "
            "specifications, conversions, attributes and indexes are not allowed (got '{question:>1000000000}')",
        ),
        (
            {"userTemplate": "Q: {question"},
            "$.prompt.userTemplate: is not a valid template (expected '}' before end of string); write a literal "
            "brace as {{ or }} (got 'Q: {question')",
        ),
        (
            {"system": "Schema: {context!r}"},
            "$.prompt.system: placeholder {context!r} is not a plain {column} field: format specifications, "
            "conversions, attributes and indexes are not allowed (got 'Schema: {context!r}')",
        ),
        (
            {"system": "{context.__class__}"},
            "$.prompt.system: placeholder {context.__class__} is not a plain {column} field: format specifications, "
            "conversions, attributes and indexes are not allowed (got '{context.__class__}')",
        ),
        (
            {"userTemplate": "{} {question}"},
            "$.prompt.userTemplate: placeholder {} names no column; use {column} (got '{} {question}')",
        ),
        (
            {"userTemplate": "{0}"},
            "$.prompt.userTemplate: placeholder {0} is positional; name a column, as in {question} (got '{0}')",
        ),
    ],
    ids=["format-spec", "unclosed", "conversion", "attribute", "empty", "positional"],
)
def test_templates_take_plain_column_fields_only(prompt: dict[str, str], problem: str) -> None:
    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input({"dataset": {"uri": "raw/x.csv"}, "prompt": prompt})

    assert [str(p) for p in caught.value.problems] == [problem]


def test_templates_with_column_fields_and_literal_braces_are_valid() -> None:
    parsed = parse_execution_input(
        {
            "dataset": {"uri": "raw/x.csv"},
            "prompt": {"system": "Schema {{json}}: {context}", "userTemplate": "Q: {question} ({my column})"},
        }
    )

    assert parsed.prompt.user_template == "Q: {question} ({my column})"
