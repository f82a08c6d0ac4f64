"""Data-triggered runs end to end in the offline twin: an upload to the data bucket goes to EventBridge as S3 sends
it, the synthesized rule's pattern decides, and its target (StartFromUpload, allowed by its resource policy) starts
the execution, once per object version."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.workflow.conftest import ROOT, example

INPUT_KEY = "incoming/tickets/input.json"


def test_uploading_data_then_its_input_runs_the_pipeline_once_per_version(offline_twin: Any) -> None:
    with offline_twin() as twin:
        s3 = boto3.client("s3", region_name="us-east-1")
        # Given: the data under raw/tickets/ (uploads that match no rule start nothing)
        data = ROOT / "examples" / "data" / "support-tickets" / "tickets.jsonl"
        s3.put_object(Bucket=twin.data_bucket, Key="raw/tickets/tickets.jsonl", Body=data.read_bytes())
        assert twin.events.wait() == []
        document = example("sft-classification-nova-micro.json")
        del document["dataset"]["uri"]  # the run reads raw/<name>/

        # When: the input is uploaded last under incoming/<name>/
        version = s3.put_object(Bucket=twin.data_bucket, Key=INPUT_KEY, Body=json.dumps(document).encode())
        [delivery] = twin.events.wait()

        # Then: the event has the documented shape, and the execution it started runs to promotion
        assert delivery.event["detail-type"] == "Object Created"
        assert delivery.event["detail"]["object"]["key"] == INPUT_KEY
        assert delivery.event["detail"]["object"]["version-id"] == version["VersionId"]
        assert delivery.event["detail"]["reason"] == "PutObject"
        assert delivery.error is None, delivery.error
        assert delivery.result["started"] is True
        result = twin.wait(delivery.result["executionArn"])
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output["verdict"] == "promoted"

        # A second delivery of the same event (EventBridge delivers at least once) starts nothing new
        [again] = twin.events.put_event(delivery.event)
        twin.events.wait()
        assert again.result == {"started": False, "duplicate": True, "executionArn": result.arn}
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        assert len(sfn.list_executions(stateMachineArn=twin.state_machine_arn)["executions"]) == 1


def test_objects_outside_the_pattern_reach_no_function(offline_twin: Any) -> None:
    with offline_twin() as twin:
        s3 = boto3.client("s3", region_name="us-east-1")
        for key in ("incoming/input.json.bak", "raw/incoming/tickets/input.json", "incoming/tickets/notes.txt"):
            s3.put_object(Bucket=twin.data_bucket, Key=key, Body=b"{}")

        assert twin.events.wait() == []
        # `*` of an EventBridge wildcard matches `/` too, so a deeper input.json is delivered; StartFromUpload then
        # refuses it, saying why
        s3.put_object(Bucket=twin.data_bucket, Key="incoming/a/b/input.json", Body=b"{}")
        [delivery] = twin.events.wait()
        assert delivery.result == {
            "started": False,
            "reason": "incoming/a/b/input.json is not incoming/<name>/input.json",
        }
