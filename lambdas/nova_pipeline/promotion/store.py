"""The active-model record in SSM: read it, promote a new one (keeping the previous version), roll back.

Every write is conditional on the record still being the version the writer read (or, for a candidate, the
version its evaluation compared it with). SSM has no compare-and-swap on a parameter's value, but `PutParameter`
with `Overwrite: false` is an atomic create-if-absent ("ParameterAlreadyExists: the parameter already exists. You
can't create duplicate parameters": Systems Manager API reference, PutParameter). So a writer first claims the
slot after version V by creating `/nova-customization/<env>/promotions/<V>`; only one writer can create it, the
others are refused with `ActiveModelChangedError`. The claim holds the writer's identity, so a retried Promote of
the same execution continues where it stopped instead of being refused by its own claim.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from nova_pipeline.core.errors import aws_call, error_code
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name


class NothingToRollBackError(Exception):
    """There is no earlier record to restore."""


class ActiveModelChangedError(Exception):
    """Another writer replaced the active-model record after this candidate was compared with it."""


ACTIVE_MODEL_CHANGED = "active model changed during evaluation"


def claim_parameter_name(environment: str, after_version: int) -> str:
    """The parameter whose creation claims the promotion that replaces version `after_version` (0: no record)."""
    return f"/nova-customization/{environment}/promotions/{after_version}"


def read_active(ssm: Any, environment: str) -> tuple[ActiveModelRecord | None, int | None]:
    from botocore.exceptions import ClientError

    name = active_model_parameter_name(environment)
    try:
        parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None, None
        with aws_call("ssm", "GetParameter"):
            raise
    return ActiveModelRecord.model_validate_json(parameter["Value"]), int(parameter["Version"])


def _put(ssm: Any, environment: str, record: ActiveModelRecord, kms_key: str | None) -> int:
    request: dict[str, Any] = {
        "Name": active_model_parameter_name(environment),
        "Value": record.model_dump_json(by_alias=True),
        "Type": "SecureString",
        "Overwrite": True,
        "Tier": "Intelligent-Tiering",
        "Description": f"Nova customization {environment}: the model the inference API serves",
    }
    if kms_key:
        request["KeyId"] = kms_key
    with aws_call("ssm", "PutParameter"):
        return int(ssm.put_parameter(**request)["Version"])


def claim(ssm: Any, environment: str, after_version: int, writer: str) -> bool:
    """Claim the promotion replacing `after_version` for `writer`: True if it is (or already was) ours."""
    from botocore.exceptions import ClientError

    name = claim_parameter_name(environment, after_version)
    value = json.dumps({"writer": writer, "claimedAt": datetime.now(UTC).isoformat()})
    try:
        ssm.put_parameter(
            Name=name,
            Value=value,
            Type="String",
            Overwrite=False,
            Description=f"Nova customization {environment}: who replaced active-model version {after_version}",
        )
    except ClientError as error:
        if error_code(error) != "ParameterAlreadyExists":
            with aws_call("ssm", "PutParameter"):
                raise
        with aws_call("ssm", "GetParameter"):
            holder = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"]).get("writer")
        return bool(holder == writer)
    return True


def promote(
    ssm: Any,
    environment: str,
    record: ActiveModelRecord,
    kms_key: str | None,
    *,
    expected_version: int | None = None,
    writer: str | None = None,
) -> tuple[ActiveModelRecord, int]:
    """Write `record` as the active model; it remembers the version it replaces (the rollback target).

    `expected_version` is the version the candidate was compared with (0: there was no record; None: whatever is
    active now). If the record is another version now, or another writer claimed the slot after it, the write is
    refused with `ActiveModelChangedError`. A retry by the same `writer` (the execution ARN) after a completed
    write returns the record it wrote."""
    writer = writer or record.execution_arn or f"writer-{uuid.uuid4()}"
    current, previous = read_active(ssm, environment)
    expected = (previous or 0) if expected_version is None else expected_version
    if (previous or 0) != expected:
        if current is not None and current.execution_arn == writer and current.previous_version == (expected or None):
            return current, int(previous or 0)  # this writer's own earlier, completed attempt
        raise ActiveModelChangedError(
            f"{ACTIVE_MODEL_CHANGED}: compared with version {expected}, the active record is now version "
            f"{previous or 0} (promoted by {current.execution_arn if current else 'nobody'})"
        )
    if not claim(ssm, environment, expected, writer):
        raise ActiveModelChangedError(
            f"{ACTIVE_MODEL_CHANGED}: another writer claimed the promotion replacing version {expected}"
        )
    stamped = record.model_copy(
        update={"previous_version": previous, "promoted_at": datetime.now(UTC), "version": expected + 1}
    )
    return stamped, _put(ssm, environment, stamped, kms_key)


def rollback(ssm: Any, environment: str, kms_key: str | None) -> tuple[ActiveModelRecord, int]:
    """Restore the record the active one replaced, as a new version (conditional like any promotion)."""
    current, current_version = read_active(ssm, environment)
    if current is None or current.previous_version is None:
        raise NothingToRollBackError(f"no earlier promoted model to roll back to in {environment}")
    name = active_model_parameter_name(environment)
    with aws_call("ssm", "GetParameter"):
        value = ssm.get_parameter(Name=f"{name}:{current.previous_version}", WithDecryption=True)["Parameter"]["Value"]
    restored = ActiveModelRecord.model_validate_json(value).model_copy(update={"version": (current_version or 0) + 1})
    if not claim(ssm, environment, current_version or 0, f"rollback-{uuid.uuid4()}"):
        raise ActiveModelChangedError(f"the active record changed while rolling back from version {current_version}")
    return restored, _put(ssm, environment, restored, kms_key)
