"""PlanData, PrepareData, PrepareShard and MergeShards against moto S3: outputs, fan-out equivalence, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.core import clients
from tests.handlers.conftest import FakeLambdaContext, HandlerModule

BUCKET = "nova-test-data"
plan_handler = HandlerModule("plan_data")
prepare_handler = HandlerModule("prepare_data")
shard_handler = HandlerModule("prepare_shard")
merge_handler = HandlerModule("merge_shards")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("NOVA_DATA_BUCKET", BUCKET)
    with mock_aws(), clients.use_client_factory(lambda service: boto3.client(service, region_name="us-east-1")):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def upload(s3: Any, key: str, rows: list[dict[str, Any]]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(r) + "\n" for r in rows).encode())


def rows(start: int, count: int) -> list[dict[str, str]]:
    return [
        {"question": f"question {i} about topic {i % 5}", "answer": f"answer {i}"} for i in range(start, start + count)
    ]


def resolved(uri: str) -> dict[str, Any]:
    return parse_execution_input({"dataset": {"uri": uri}}).model_dump(mode="json", by_alias=True)


def map_results(s3: Any, outputs: list[dict[str, Any]], failed: int = 0) -> dict[str, Any]:
    """What a Distributed Map's ResultWriter leaves: the items' outputs in S3 and the manifest's location."""
    folder = "map-results/prepare/run-1/"
    files: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for status, entries in (
        ("SUCCEEDED", [{"Status": "SUCCEEDED", "Output": json.dumps(output)} for output in outputs]),
        ("FAILED", [{"Status": "FAILED", "Error": "States.TaskFailed"}] * failed),
    ):
        if entries:
            s3.put_object(Bucket=BUCKET, Key=f"{folder}{status}_0.json", Body=json.dumps(entries).encode())
            files[status].append({"Key": f"{folder}{status}_0.json"})
    s3.put_object(Bucket=BUCKET, Key=f"{folder}manifest.json", Body=json.dumps({"ResultFiles": files}).encode())
    return {
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/run-1:1",
        "ResultWriterDetails": {"Bucket": BUCKET, "Key": f"{folder}manifest.json"},
    }


def keys(s3: Any, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_prepare_data_writes_the_splits_and_the_manifest_under_the_run_prefix(
    s3: Any, lambda_context: FakeLambdaContext
) -> None:
    upload(s3, "raw/qa/data.jsonl", rows(0, 100))

    state = prepare_handler.lambda_handler({"input": resolved("raw/qa/"), "runId": "exec-1"}, lambda_context)

    assert keys(s3, "prepared/exec-1/") == [
        f"prepared/exec-1/{n}" for n in ("manifest.json", "test.jsonl", "train.jsonl", "validation.jsonl")
    ]
    assert state["manifestUri"] == f"s3://{BUCKET}/prepared/exec-1/manifest.json"
    assert state["train"]["uri"] == f"s3://{BUCKET}/prepared/exec-1/train.jsonl"
    assert state["train"]["records"] + state["validation"]["records"] + state["test"]["records"] == 100


def test_invalid_data_fails_with_the_problems_and_publishes_nothing(s3: Any, lambda_context: FakeLambdaContext) -> None:
    upload(s3, "raw/qa/data.jsonl", [*rows(0, 20), {"question": "", "answer": "x"}])

    with pytest.raises(Exception) as caught:
        prepare_handler.lambda_handler({"input": resolved("raw/qa/data.jsonl"), "runId": "exec-2"}, lambda_context)

    assert type(caught.value).__name__ == "InvalidDataset"
    assert "data.jsonl line 21: messages[0].content[0].text: is empty" in str(caught.value)
    assert keys(s3, "prepared/exec-2/") == []


def test_the_fanned_out_path_gives_byte_identical_outputs(s3: Any, lambda_context: FakeLambdaContext) -> None:
    for index in range(3):
        upload(s3, f"raw/parts/part-{index}.jsonl", rows(index * 40, 40) + rows(0, 2))
    document = resolved("raw/parts/")

    plan = plan_handler.lambda_handler({"input": document, "execution": {"name": "x", "arn": "y"}}, lambda_context)
    single = prepare_handler.lambda_handler({"input": document, "runId": "single"}, lambda_context)
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/parts/")["Contents"]
    shards = [
        shard_handler.lambda_handler({"input": document, "runId": "fanned", "object": item}, lambda_context)
        for item in listing
    ]
    fanned = merge_handler.lambda_handler(
        {"input": document, "runId": "fanned", "shards": map_results(s3, shards)}, lambda_context
    )

    assert plan == {"mode": "single", "bucket": BUCKET, "prefix": "raw/parts/", "objects": 3, "bytes": plan["bytes"]}
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        one = s3.get_object(Bucket=BUCKET, Key=f"prepared/single/{name}")["Body"].read()
        two = s3.get_object(Bucket=BUCKET, Key=f"prepared/fanned/{name}")["Body"].read()
        assert one == two, name
    assert single["duplicates"] == fanned["duplicates"] == 6
    assert keys(s3, "prepared/fanned/_shards/") == []


def test_plan_fans_out_many_objects_and_refuses_data_outside_raw(
    s3: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_FANOUT_OBJECTS", "2")
    for index in range(3):
        upload(s3, f"raw/many/{index}.jsonl", rows(index, 1))

    plan = plan_handler.lambda_handler(
        {"input": resolved("raw/many/"), "execution": {"name": "x", "arn": "y"}}, lambda_context
    )
    assert plan["mode"] == "fanout" and plan["objects"] == 3

    with pytest.raises(Exception) as caught:
        plan_handler.lambda_handler(
            {"input": resolved("s3://other-bucket/raw/x.csv"), "execution": {"name": "x", "arn": "y"}}, lambda_context
        )
    assert str(caught.value) == (
        f"dataset.uri 's3://other-bucket/raw/x.csv' is outside s3://{BUCKET}/raw/; upload the data there "
        f"(e.g. aws s3 cp data.csv s3://{BUCKET}/raw/my-dataset/) and use raw/my-dataset/"
    )
    with pytest.raises(Exception, match="does not exist; upload the dataset first"):
        plan_handler.lambda_handler(
            {"input": resolved("raw/missing.csv"), "execution": {"name": "x", "arn": "y"}}, lambda_context
        )


def test_fanned_out_shards_stay_small_skip_non_data_objects_and_name_files_as_the_single_path(
    s3: Any, lambda_context: FakeLambdaContext
) -> None:
    upload(s3, "raw/mixed/part-0.jsonl", [*rows(0, 30), {"question": "", "answer": "x"}])
    upload(s3, "raw/mixed/part-1.jsonl", rows(30, 30))
    s3.put_object(Bucket=BUCKET, Key="raw/mixed/README.txt", Body=b"how this data was collected")
    document = resolved("raw/mixed/")
    document["dataset"]["onInvalid"] = "skip"
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/mixed/")["Contents"]

    shards = [
        shard_handler.lambda_handler({"input": document, "runId": "fan", "object": item}, lambda_context)
        for item in listing
    ]
    merged = merge_handler.lambda_handler(
        {"input": document, "runId": "fan", "shards": map_results(s3, shards)}, lambda_context
    )
    single = prepare_handler.lambda_handler({"input": document, "runId": "one"}, lambda_context)

    assert {shard["key"]: shard["shard"] is None for shard in shards} == {
        "raw/mixed/README.txt": True,
        "raw/mixed/part-0.jsonl": False,
        "raw/mixed/part-1.jsonl": False,
    }
    assert (
        merged["problems"]
        == single["problems"]
        == {
            "count": 1,
            "first": ["part-0.jsonl line 31: messages[0].content[0].text: is empty"],
        }
    )
    assert merged["train"]["records"] == single["train"]["records"] == 48
    assert keys(s3, "prepared/fan/_shards/") == []


def test_a_failed_shard_of_the_map_fails_the_merge_with_the_count(s3: Any, lambda_context: FakeLambdaContext) -> None:
    upload(s3, "raw/parts/part-0.jsonl", rows(0, 50))
    document = resolved("raw/parts/")
    [item] = s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/parts/")["Contents"]
    shard = shard_handler.lambda_handler({"input": document, "runId": "f", "object": item}, lambda_context)

    with pytest.raises(Exception, match="1 of 2 objects failed to prepare"):
        merge_handler.lambda_handler(
            {"input": document, "runId": "f", "shards": map_results(s3, [shard], failed=1)}, lambda_context
        )


@pytest.mark.parametrize(
    ("key", "body", "problem"),
    [
        (
            "raw/bad/data.jsonl.gz",
            b'{"question": "q", "answer": "a"}\n',
            "data.jsonl.gz line 1: not gzip data (Not a gzipped file (b'{\"')); the name ends in .gz, so the file "
            "must be gzip-compressed (rename it or compress it)",
        ),
        (
            "raw/bad/data.jsonl",
            b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "data.jsonl line 1: invalid JSON: nested too deeply (more than about 1,000 levels of arrays and objects)",
        ),
    ],
    ids=["not-gzip", "nested"],
)
def test_prepare_data_turns_a_broken_file_into_a_problem_not_a_crash(
    s3: Any, lambda_context: FakeLambdaContext, key: str, body: bytes, problem: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    with pytest.raises(Exception) as caught:
        prepare_handler.lambda_handler({"input": resolved("raw/bad/"), "runId": "exec-1"}, lambda_context)

    assert type(caught.value).__name__ == "InvalidDataset"
    assert caught.value.problems == [problem]  # type: ignore[attr-defined]
    assert keys(s3, "prepared/exec-1/") == []
