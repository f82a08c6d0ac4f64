"""The active-model record's conditional write: a candidate is promoted only over the record it was compared with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nova_pipeline.promotion.record import ActiveModelRecord
from nova_pipeline.promotion.store import (
    ACTIVE_MODEL_CHANGED,
    ActiveModelChangedError,
    claim,
    claim_parameter_name,
    promote,
    read_active,
    rollback,
)

DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def record(name: str) -> ActiveModelRecord:
    return ActiveModelRecord(
        deployment_arn=DEPLOYMENT + name,
        custom_model_arn=f"arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/{name}",
        base_model="nova-micro",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:sm:{name}",
        promoted_at=datetime.now(UTC),
    )


def test_two_candidates_compared_with_the_same_record_promote_once(ssm: Any) -> None:
    # Given: both evaluations compared their candidate with "no active model" (version 0)
    first, second = record("first"), record("second")

    # When
    stamped, version = promote(ssm, "dev", first, None, expected_version=0, writer=first.execution_arn)
    with pytest.raises(ActiveModelChangedError) as refused:
        promote(ssm, "dev", second, None, expected_version=0, writer=second.execution_arn)

    # Then: the first is active; the second is refused with the reason and who promoted meanwhile
    assert (stamped.deployment_arn, version) == (DEPLOYMENT + "first", 1)
    assert str(refused.value) == (
        f"{ACTIVE_MODEL_CHANGED}: compared with version 0, the active record is now version 1 (promoted by "
        f"{first.execution_arn})"
    )
    active, active_version = read_active(ssm, "dev")
    assert active is not None and active.deployment_arn == DEPLOYMENT + "first" and active_version == 1
    claimed = ssm.get_parameter(Name=claim_parameter_name("dev", 0))["Parameter"]["Value"]
    assert first.execution_arn in claimed


def test_a_claim_taken_by_another_writer_refuses_even_when_the_record_has_not_changed_yet(ssm: Any) -> None:
    # Given: another execution claimed the slot after version 0 and is about to write
    assert claim(ssm, "dev", 0, "arn:other-execution") is True

    # When / Then
    with pytest.raises(ActiveModelChangedError, match="another writer claimed the promotion replacing version 0"):
        promote(ssm, "dev", record("late"), None, expected_version=0, writer="arn:late")
    assert read_active(ssm, "dev") == (None, None)


def test_a_retried_promote_of_the_same_execution_returns_its_own_write(ssm: Any) -> None:
    first = record("first")
    promote(ssm, "dev", first, None, expected_version=0, writer=first.execution_arn)

    # When: the Lambda's retry runs after the first attempt wrote the record
    again, version = promote(ssm, "dev", first, None, expected_version=0, writer=first.execution_arn)

    # Then: no second version, no refusal
    assert (again.deployment_arn, version) == (first.deployment_arn, 1)
    assert read_active(ssm, "dev")[1] == 1


def test_a_candidate_compared_with_the_current_record_replaces_it_and_rollback_claims_its_slot(ssm: Any) -> None:
    promote(ssm, "dev", record("first"), None, expected_version=0, writer="arn:first")
    stamped, version = promote(ssm, "dev", record("second"), None, expected_version=1, writer="arn:second")
    assert (version, stamped.previous_version) == (2, 1)

    restored, restored_version = rollback(ssm, "dev", None)

    assert (restored.deployment_arn, restored_version) == (DEPLOYMENT + "first", 3)
    # A candidate compared with version 2 is now refused: the rollback replaced it.
    with pytest.raises(ActiveModelChangedError, match="compared with version 2, the active record is now version 3"):
        promote(ssm, "dev", record("third"), None, expected_version=2, writer="arn:third")
