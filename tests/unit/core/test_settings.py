"""Per-function Lambda settings: parsed at cold start, every missing variable named, only what the function reads."""

from __future__ import annotations

import pytest

from nova_pipeline.core.settings import (
    AggregateSettings,
    BedrockJobSettings,
    PlanDataSettings,
    SettingsError,
    load_settings,
)


def test_settings_parse_the_variables_the_function_declares() -> None:
    settings = load_settings(
        AggregateSettings,
        {
            "NOVA_ENVIRONMENT": "dev",
            "NOVA_DATA_BUCKET": "data",
            "NOVA_GATE_DEFAULTS": '{"min_primary_metric": 0.5}',
            "NOVA_MLFLOW_TRACKING_ARN": "",
            "NOVA_MLFLOW_ARTIFACT_STORE_URI": "",
        },
    )

    assert (settings.environment, settings.data_bucket) == ("dev", "data")
    assert settings.gate_defaults == {"min_primary_metric": 0.5}
    assert (settings.mlflow_tracking_arn, settings.mlflow_artifact_store_uri) == (None, None)  # empty: no tracking
    assert settings.simulated is False


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(BedrockJobSettings, {"NOVA_ENVIRONMENT": "dev", "NOVA_POLL_INTERVAL_SECONDS": "0"})

    message = str(caught.value)
    assert message.startswith("BedrockJobSettings: NOVA_POLL_INTERVAL_SECONDS: Input should be greater than or equal")
    for name in ("NOVA_BEDROCK_ROLE_ARN", "NOVA_ARTIFACTS_BUCKET", "NOVA_KMS_KEY_ARN", "NOVA_GRADER_FUNCTION_ARN"):
        assert f"{name} is not set" in message


def test_variables_are_the_required_ones_only() -> None:
    assert PlanDataSettings.variables() == {"NOVA_ENVIRONMENT", "NOVA_DATA_BUCKET"}
    assert BedrockJobSettings.variables() == {
        "NOVA_ENVIRONMENT",
        "NOVA_POLL_INTERVAL_SECONDS",
        "NOVA_BEDROCK_ROLE_ARN",
        "NOVA_ARTIFACTS_BUCKET",
        "NOVA_KMS_KEY_ARN",
        "NOVA_GRADER_FUNCTION_ARN",
        "NOVA_DATA_BUCKET",
    }
