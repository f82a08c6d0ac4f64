"""Per-environment settings from cdk.json: typed, frozen, and errors that name the key and the allowed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from stacks.config import CONTEXT_KEY, ConfigError, load_environments

ROOT = Path(__file__).resolve().parents[2]


def shipped_context() -> dict[str, object]:
    return json.loads((ROOT / "cdk.json").read_text())["context"][CONTEXT_KEY]


def test_shipped_environments_load_with_their_policies() -> None:
    dev, prod = load_environments(shipped_context(), None)

    assert (dev.name, dev.removal_policy, dev.destroy_on_delete) == ("dev", "destroy", True)
    assert (prod.name, prod.removal_policy, prod.destroy_on_delete) == ("prod", "retain", False)
    assert prod.log_retention_days == 365
    assert dev.prefix != prod.prefix


def test_selecting_one_environment_builds_only_that_one() -> None:
    [prod] = load_environments(shipped_context(), "prod")

    assert prod.name == "prod"


def test_settings_are_frozen() -> None:
    [dev] = load_environments(shipped_context(), "dev")

    with pytest.raises(ValidationError):
        dev.region = "eu-west-1"  # type: ignore[misc]


def test_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_environments(shipped_context(), "staging")

    assert str(caught.value) == "unknown environment 'staging' (-c env=staging); allowed values: dev, prod"


def test_invalid_values_name_the_key_and_allowed_values() -> None:
    context = {"qa": {"logRetentionDays": 10, "region": "eu-west-1", "api": {"auth": "cognito"}, "colour": "blue"}}

    with pytest.raises(ConfigError) as caught:
        load_environments(context, None)

    assert str(caught.value).splitlines() == [
        "invalid environment settings in cdk.json:",
        "  nova:environments.qa.region: must be one of us-east-1, us-west-2 (where Nova customization runs) "
        "(got 'eu-west-1')",
        "  nova:environments.qa.logRetentionDays: must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
        "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (got 10)",
        "  nova:environments.qa.api.auth: Input should be 'iam' or 'api-key' (got 'cognito')",
        "  nova:environments.qa.colour: is not a known setting; allowed keys: account, alarmEmail, api, approval, "
        "defaultBaseModel, encryptLogs, evaluation, guardrail, lifecycle, logRetentionDays, mlflowArtifactKeyArn, "
        "mlflowArtifactStoreUri, mlflowTrackingArn, pollIntervalSeconds, region, removalPolicy, triggers",
    ]


def test_unknown_nested_key_lists_the_keys_of_its_own_block() -> None:
    with pytest.raises(ConfigError) as caught:
        load_environments({"qa": {"api": {"throttle": 5}}}, None)

    expected = (
        "nova:environments.qa.api.throttle: is not a known setting; allowed keys: allowContext, auth, debugLogging, "
    )
    assert expected in str(caught.value)


def test_missing_block_is_an_error() -> None:
    with pytest.raises(ConfigError, match="must be an object with one block per environment"):
        load_environments(None, None)


def test_account_must_be_twelve_digits() -> None:
    with pytest.raises(ConfigError, match=r"nova:environments.qa.account: String should match pattern"):
        load_environments({"qa": {"account": "1234"}}, None)


def test_committed_configuration_reference_matches_the_model() -> None:
    from stacks.config import configuration_reference

    committed = (ROOT / "docs" / "configuration.md").read_text()

    assert committed == configuration_reference()


def test_synth_stops_with_the_message_and_no_traceback_on_an_unknown_environment() -> None:
    import os
    import subprocess
    import sys

    context = {"env": "staging", CONTEXT_KEY: shipped_context()}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/tmp/nova-unused-cdk-out"}

    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], capture_output=True, text=True, env=env, check=False
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: unknown environment 'staging' (-c env=staging); allowed values: dev, prod"
    )
    assert "Traceback" not in result.stderr
