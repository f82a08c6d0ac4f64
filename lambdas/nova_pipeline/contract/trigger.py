"""Data-triggered runs: `<prefix><name>/input.json` uploaded to the data bucket starts an execution.

EventBridge delivers the bucket's "Object Created" event at least once, and an invocation may be retried: the
execution's name is derived from the object's key and version id, so a second delivery of the same version asks for
an execution that already exists and starts nothing. For a Standard workflow StartExecution with the name and input
of a running execution returns that execution; once it has ended the name fails with ExecutionAlreadyExists for 90
days (Step Functions API reference, StartExecution). A new version of the file starts a new run.
Without `dataset.uri`, the input reads `raw/<name>/` (upload the data there first, the input last).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nova_pipeline.core import layout

INPUT_FILE = "input.json"
_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")


class UploadedObject(BaseModel):
    """The object of an S3 "Object Created" event on EventBridge. The data bucket is versioned (StorageStack), so
    every event has a version id; an unversioned object's id is the literal `null`, as S3 names it."""

    model_config = ConfigDict(frozen=True)

    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    version_id: str = Field(default="null", min_length=1)


def run_name(key: str, prefix: str) -> str | None:
    """`<name>` of `<prefix><name>/input.json`, or None for any other key."""
    if not key.startswith(prefix) or not key.endswith(f"/{INPUT_FILE}"):
        return None
    name = key[len(prefix) : -len(INPUT_FILE) - 1]
    return name if name and "/" not in name else None


def execution_name(name: str, uploaded: UploadedObject) -> str:
    """At most 80 characters of `[A-Za-z0-9_-]`: the run's name and a digest of the key and version id."""
    digest = hashlib.sha256(f"{uploaded.key}\0{uploaded.version_id}".encode()).hexdigest()[:16]
    return f"{_NAME_CHARACTERS.sub('-', name)[:48]}-{digest}"


def start_from_upload(
    uploaded: UploadedObject, *, prefix: str, state_machine_arn: str, s3: Any, stepfunctions: Any
) -> dict[str, Any]:
    """Start (at most once per object version) the execution an uploaded input describes."""
    from botocore.exceptions import ClientError

    name = run_name(uploaded.key, prefix)
    if name is None:
        return {"started": False, "reason": f"{uploaded.key} is not {prefix}<name>/{INPUT_FILE}"}
    body = s3.get_object(Bucket=uploaded.bucket, Key=uploaded.key, VersionId=uploaded.version_id)["Body"].read()
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        return {"started": False, "reason": f"s3://{uploaded.bucket}/{uploaded.key} line {error.lineno}: {error.msg}"}
    if not isinstance(document, dict):
        return {"started": False, "reason": f"s3://{uploaded.bucket}/{uploaded.key}: must be a JSON object"}
    dataset = document.get("dataset")
    if dataset is None:
        document["dataset"] = {"uri": f"{layout.RAW}{name}/"}
    elif isinstance(dataset, dict) and "uri" not in dataset:
        document["dataset"] = {**dataset, "uri": f"{layout.RAW}{name}/"}
    execution = execution_name(name, uploaded)
    arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{execution}"
    try:
        arn = stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=execution, input=json.dumps(document, sort_keys=True)
        )["executionArn"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        return {"started": False, "duplicate": True, "executionArn": arn}
    return {"started": True, "executionArn": arn}
