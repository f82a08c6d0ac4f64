"""ValidateInput handler: resolved input out, or the Step Functions error a user sees with every problem."""

from __future__ import annotations

import pytest

from nova_pipeline.core.settings import SettingsError
from tests.handlers.conftest import FakeLambdaContext, HandlerModule, load_handler

handler = HandlerModule("validate_input")


def test_valid_input_returns_resolved_document_with_environment_default_model(
    lambda_context: FakeLambdaContext,
) -> None:
    result = handler.lambda_handler({"dataset": {"uri": "raw/a.csv"}}, lambda_context)

    assert result["baseModel"] == "nova-lite"
    assert result["hyperparameters"] == {"epochCount": 2, "learningRate": 1e-5, "learningRateWarmupSteps": 10}
    assert result["dataset"]["columns"] == {
        "question": "question",
        "answer": "answer",
        "system": None,
        "label": None,
        "context": None,
    }


def test_invalid_input_fails_with_every_problem_and_its_path(lambda_context: FakeLambdaContext) -> None:
    event = {"dataset": {"uri": "raw/a.csv", "format": "parquet"}, "hyperparameters": {"epochCount": 6}}

    with pytest.raises(handler.InvalidExecutionInput) as caught:
        handler.lambda_handler(event, lambda_context)

    assert str(caught.value) == (
        "execution input has 2 problem(s):\n"
        "  - $.dataset.format: Input should be 'auto', 'csv', 'json' or 'jsonl' (got 'parquet')\n"
        "  - $.hyperparameters.epochCount: 6 is out of range; allowed: int from 1 to 5"
    )
    assert type(caught.value).__name__ == "InvalidExecutionInput"


def test_a_missing_variable_fails_the_cold_start_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOVA_ENVIRONMENT")
    monkeypatch.delenv("NOVA_DEFAULT_BASE_MODEL")

    with pytest.raises(SettingsError) as caught:
        load_handler("validate_input")

    assert str(caught.value) == (
        "ValidateInputSettings: NOVA_ENVIRONMENT is not set; NOVA_DEFAULT_BASE_MODEL is not set (stack wiring error)"
    )


def test_sagemaker_input_is_checked_against_the_function_region(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    module = load_handler("validate_input")
    event = {"dataset": {"uri": "raw/a.csv"}, "platform": "sagemaker", "baseModel": "nova-micro"}

    with pytest.raises(module.InvalidExecutionInput) as caught:
        module.lambda_handler(event, lambda_context)

    assert "$.platform: SageMaker training of nova-micro (sft) has no Nova training image in eu-west-2" in str(
        caught.value
    )


def test_a_gate_looser_than_the_environments_fails_validation(
    lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment's gate (as the stack passes it), when an input lowers it, then ValidateInput refuses it
    monkeypatch.setenv("NOVA_GATE_DEFAULTS", '{"min_primary_metric": 0.5, "max_error_rate": 0.02}')
    event = {"dataset": {"uri": "raw/a.csv"}, "gate": {"minPrimaryMetric": 0.26}}

    with pytest.raises(handler.InvalidExecutionInput, match=r"\$\.gate\.minPrimaryMetric: 0.26 is looser than"):
        handler.lambda_handler(event, lambda_context)


def test_an_input_cannot_waive_an_approval_the_environment_requires(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    monkeypatch.setenv("NOVA_APPROVAL", '{"required": true, "timeoutSeconds": 3600}')
    event = {"dataset": {"uri": "raw/a.csv"}, "approval": {"required": False, "timeoutSeconds": 7200}}

    with pytest.raises(handler.InvalidExecutionInput) as caught:
        handler.lambda_handler(event, lambda_context)

    assert str(caught.value) == (
        "execution input has 2 problem(s):\n"
        "  - $.approval.required: the environment requires an approval; an input cannot waive it\n"
        "  - $.approval.timeoutSeconds: may only shorten the environment's 3600 s (got 7200)"
    )


def test_the_environment_approval_policy_is_resolved_into_the_input(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    monkeypatch.setenv("NOVA_APPROVAL", '{"required": true, "timeoutSeconds": 3600}')

    result = handler.lambda_handler(
        {"dataset": {"uri": "raw/a.csv"}, "approval": {"timeoutSeconds": 60}}, lambda_context
    )

    assert result["approval"] == {"required": True, "timeoutSeconds": 60}


def test_an_input_may_require_an_approval_the_environment_does_not(lambda_context: FakeLambdaContext) -> None:
    result = handler.lambda_handler({"dataset": {"uri": "raw/a.csv"}, "approval": {"required": True}}, lambda_context)

    assert result["approval"] == {"required": True, "timeoutSeconds": 259200}


def test_a_judge_the_evaluation_cannot_call_fails_validation_naming_it(
    lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function in us-east-1, when an input names a judge in another Region, then ValidateInput refuses it
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    module = load_handler("validate_input")
    judge = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"
    event = {"dataset": {"uri": "raw/a.csv"}, "evaluation": {"judgeModel": judge}}

    with pytest.raises(module.InvalidExecutionInput) as caught:
        module.lambda_handler(event, lambda_context)

    assert f"$.evaluation.judgeModel: {judge!r} is in eu-west-1; the evaluation runs in us-east-1" in str(caught.value)
