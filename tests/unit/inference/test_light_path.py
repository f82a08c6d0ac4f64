"""The inference function's request path on pydantic-core alone: it reads what promotion writes, refuses what the
pydantic record model refuses, and its import loads neither pydantic's model layer nor Powertools' event handler."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError as ModelValidationError
from pydantic_core import ValidationError

from nova_pipeline.inference.api import ApiSettings, api_settings
from nova_pipeline.inference.models import served_record
from nova_pipeline.promotion.record import ActiveModelRecord, MetricsSummary, ServedInferenceConfig

ROOT = Path(__file__).resolve().parents[3]
FULL = ActiveModelRecord(
    deployment_arn="arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc",
    custom_model_arn="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc",
    base_model="nova-micro",
    system_prompt="Classify.",
    inference_config=ServedInferenceConfig(max_tokens=64, temperature=0.3, top_p=0.5),
    metrics=MetricsSummary(primary_metric="accuracy", candidate=0.9, baseline=0.5, previous=0.8),
    execution_arn="arn:aws:states:us-east-1:123456789012:execution:sm:run",
    report_uri="s3://b/reports/run/report.json",
    promoted_at=datetime(2026, 11, 24, 12, 30, tzinfo=UTC),
    previous_version=2,
    version=3,
)


def test_the_api_reads_every_served_field_of_a_promoted_record() -> None:
    record = served_record(FULL.model_dump_json(by_alias=True))

    assert (record.deployment_arn, record.custom_model_arn, record.base_model) == (
        FULL.deployment_arn,
        FULL.custom_model_arn,
        FULL.base_model,
    )
    assert (record.system_prompt, record.report_uri, record.version) == ("Classify.", FULL.report_uri, 3)
    assert record.promoted_at == FULL.promoted_at
    assert (record.inference_config.max_tokens, record.inference_config.temperature) == (64, 0.3)
    assert record.inference_config.top_p == 0.5
    assert record.metrics == FULL.metrics.model_dump(by_alias=True)  # type: ignore[union-attr]


def test_defaults_are_the_record_models_defaults() -> None:
    minimal = {
        "deploymentArn": FULL.deployment_arn,
        "customModelArn": "m",
        "baseModel": "b",
        "promotedAt": "2026-11-24T00:00:00Z",
    }
    record, model = served_record(json.dumps(minimal)), ActiveModelRecord.model_validate(minimal)

    assert (record.inference_config.max_tokens, record.inference_config.temperature, record.inference_config.top_p) == (
        model.inference_config.max_tokens,
        model.inference_config.temperature,
        model.inference_config.top_p,
    )
    assert (record.system_prompt, record.metrics, record.version) == (None, None, None)


@pytest.mark.parametrize(
    "change",
    [
        {"deploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/abc"},
        {"inferenceConfig": {"temperature": 2}},
        {"inferenceConfig": {"maxTokens": 0}},
        {"promotedAt": "yesterday"},
        {"baseModel": None},
    ],
)
def test_what_the_record_model_refuses_the_api_refuses(change: dict[str, object]) -> None:
    value = {**json.loads(FULL.model_dump_json(by_alias=True)), **change}

    with pytest.raises(ModelValidationError):
        ActiveModelRecord.model_validate(value)
    with pytest.raises(ValidationError):
        served_record(json.dumps(value))


def test_settings_come_from_the_variables_the_stack_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_ENVIRONMENT", "dev")
    monkeypatch.setenv("NOVA_API_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("NOVA_API_ALLOW_CONTEXT", "false")
    api_settings.cache_clear()
    try:
        settings = api_settings()
    finally:
        api_settings.cache_clear()

    assert (settings.environment, settings.max_body_bytes, settings.allow_context) == ("dev", 2048, False)
    assert ApiSettings.variables() <= set(ApiSettings.VARIABLES.values())


def test_the_handler_imports_no_pydantic_model_layer_and_no_event_handler() -> None:
    # Given a fresh interpreter, as a cold start
    script = (
        "import importlib.util, os, sys; sys.path[:0] = [sys.argv[1]]; os.environ['NOVA_ENVIRONMENT'] = 'x'; "
        "spec = importlib.util.spec_from_file_location('handler', sys.argv[2]); "
        "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
        "print(sorted(m for m in sys.modules if m == 'pydantic' or m.startswith(('pydantic.', "
        "'aws_lambda_powertools.event_handler', 'aws_xray_sdk'))))"
    )
    # When the inference handler is imported
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "lambdas"), str(ROOT / "lambdas" / "inference" / "handler.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    # Then only pydantic-core is: pydantic's model layer and the event handler would cost ~70 ms of cold start
    assert loaded == "[]"
