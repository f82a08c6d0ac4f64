"""Choose how to prepare a dataset: in one PrepareData invocation, or fanned out by a Distributed Map.

One Lambda streams a few GB within its 15 minutes; above `fanout_bytes` in total, or with more than
`fanout_objects` objects under the prefix, the state machine runs PrepareShard per object (Distributed Map) and
MergeShards. The plan lists the prefix once; the Map's ItemReader lists it again itself.
"""

from __future__ import annotations

from typing import Any

from nova_pipeline.contract.run_state import DataPlan, RunState
from nova_pipeline.core import layout
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.s3 import split_s3

MAX_FANOUT_OBJECTS = 1_000
DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".csv.gz", ".json.gz", ".jsonl.gz", ".gz")


class DatasetNotFoundError(Exception):
    """Nothing to prepare at the dataset URI."""


class DatasetOutsideDataBucketError(Exception):
    """The pipeline reads raw data only from the environment's data bucket (raw/)."""


class DatasetTooFragmentedError(Exception):
    """More objects under the prefix than one fan-out takes."""


def split_dataset_uri(uri: str, data_bucket: str) -> tuple[str, str]:
    """(bucket, key or prefix) of `s3://bucket/key` or of a key relative to the data bucket."""
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        return bucket, key
    return data_bucket, uri.lstrip("/")


def plan_preparation(s3: Any, uri: str, *, data_bucket: str, fanout_bytes: int, fanout_objects: int) -> DataPlan:
    bucket, key = split_dataset_uri(uri, data_bucket)
    if bucket != data_bucket or not layout.in_raw(key):
        raise DatasetOutsideDataBucketError(
            f"dataset.uri {uri!r} is outside s3://{data_bucket}/raw/; upload the data there "
            f"(e.g. aws s3 cp data.csv s3://{data_bucket}/raw/my-dataset/) and use raw/my-dataset/"
        )
    if not key.endswith("/"):
        with aws_call("s3", "HeadObject"):
            from botocore.exceptions import ClientError

            try:
                size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    raise DatasetNotFoundError(
                        f"s3://{bucket}/{key} does not exist; upload the dataset first"
                    ) from None
                raise
        return DataPlan(mode="single", bucket=bucket, prefix=key, objects=1, bytes=size)
    objects, total = 0, 0
    paginator = s3.get_paginator("list_objects_v2")
    with aws_call("s3", "ListObjectsV2"):
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/") or not item["Key"].lower().endswith(DATA_SUFFIXES):
                    continue
                objects += 1
                total += int(item["Size"])
    if objects == 0:
        raise DatasetNotFoundError(
            f"no .csv, .json or .jsonl objects (optionally .gz) under s3://{bucket}/{key}; upload the dataset first"
        )
    if objects > MAX_FANOUT_OBJECTS:
        raise DatasetTooFragmentedError(
            f"{objects} objects under s3://{bucket}/{key}; one run takes at most {MAX_FANOUT_OBJECTS}: "
            "concatenate the files or point dataset.uri at a sub-prefix"
        )
    mode = "fanout" if objects > fanout_objects or (objects > 1 and total > fanout_bytes) else "single"
    return DataPlan(mode=mode, bucket=bucket, prefix=key, objects=objects, bytes=total)


class InvalidGeneralSet(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """The forgetting guard's general set cannot be read or has invalid questions."""


def check_general_set(s3: Any, uri: str, *, data_bucket: str) -> int:
    """The number of questions of a general set in the data bucket, read and checked before any paid job (the
    built-in sets need no check); `InvalidGeneralSet` names the object, line and field of each problem."""
    from nova_pipeline.core.problems import InputProblemsError
    from nova_pipeline.evaluation.general import BUILTIN_PREFIX, parse_general_set

    if uri.startswith(BUILTIN_PREFIX):
        return 0
    bucket, key = split_dataset_uri(uri, data_bucket)
    if bucket != data_bucket or not layout.in_raw(key) or key.endswith("/"):
        raise InvalidGeneralSet(
            f"evaluation.general.uri {uri!r} must be a JSONL object under s3://{data_bucket}/raw/ "
            f"(e.g. aws s3 cp general.jsonl s3://{data_bucket}/raw/general/ and use raw/general/general.jsonl)"
        )
    from botocore.exceptions import ClientError

    try:
        with aws_call("s3", "GetObject"):
            text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise InvalidGeneralSet(f"s3://{bucket}/{key} does not exist; upload the general set first") from None
        raise
    except UnicodeDecodeError:
        raise InvalidGeneralSet(f"s3://{bucket}/{key} is not UTF-8 text") from None
    try:
        return len(parse_general_set(text, f"s3://{bucket}/{key}"))
    except InputProblemsError as error:
        raise InvalidGeneralSet(str(error)) from None


def plan_dataset(state: RunState, *, s3: Any, data_bucket: str, fanout_bytes: int, fanout_objects: int) -> DataPlan:
    """PlanData: the plan for this execution's dataset (and the general set checked, when one is named)."""
    assert state.input is not None, "PlanData runs after ValidateInput"
    general = state.input.evaluation.general
    if general is not None:
        check_general_set(s3, general.uri, data_bucket=data_bucket)
    return plan_preparation(
        s3,
        state.input.dataset.uri,
        data_bucket=data_bucket,
        fanout_bytes=fanout_bytes,
        fanout_objects=fanout_objects,
    )
