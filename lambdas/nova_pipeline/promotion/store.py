"""The active-model record in SSM: read it, promote a new one (keeping the previous version), roll back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nova_pipeline.core.errors import aws_call, error_code
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name


class NothingToRollBackError(Exception):
    """There is no earlier record to restore."""


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


def promote(
    ssm: Any, environment: str, record: ActiveModelRecord, kms_key: str | None
) -> tuple[ActiveModelRecord, int]:
    """Write `record` as the active model; it remembers the version it replaces (the rollback target)."""
    _, previous = read_active(ssm, environment)
    stamped = record.model_copy(
        update={"previous_version": previous, "promoted_at": datetime.now(UTC), "version": (previous or 0) + 1}
    )
    return stamped, _put(ssm, environment, stamped, kms_key)


def rollback(ssm: Any, environment: str, kms_key: str | None) -> tuple[ActiveModelRecord, int]:
    """Restore the record the active one replaced, as a new version."""
    current, current_version = read_active(ssm, environment)
    if current is None or current.previous_version is None:
        raise NothingToRollBackError(f"no earlier promoted model to roll back to in {environment}")
    name = active_model_parameter_name(environment)
    with aws_call("ssm", "GetParameter"):
        value = ssm.get_parameter(Name=f"{name}:{current.previous_version}", WithDecryption=True)["Parameter"]["Value"]
    restored = ActiveModelRecord.model_validate_json(value).model_copy(update={"version": (current_version or 0) + 1})
    return restored, _put(ssm, environment, restored, kms_key)
