"""Step Functions limits the offline twin enforces as AWS does: a state's input or output over 256 KiB fails the
execution with `States.DataLimitExceeded`; the pipeline's Distributed Maps write their results to S3 instead."""

from __future__ import annotations

import json
import time

import boto3
from moto import mock_aws

from stepfunctions.workflow import definition


def _run(state_definition: dict[str, object]) -> dict[str, object]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="limits", definition=json.dumps(state_definition), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        for _ in range(100):
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return dict(described)
            time.sleep(0.05)
    raise AssertionError("the execution did not end")


def test_a_state_output_over_256_kib_fails_the_execution() -> None:
    big = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": {"x": "a" * 262_144}, "End": True}}}
    small = {"StartAt": "Small", "States": {"Small": {"Type": "Pass", "Result": {"x": "a" * 200_000}, "End": True}}}

    assert (_run(big)["status"], _run(big).get("error")) == ("FAILED", "States.DataLimitExceeded")
    assert _run(small)["status"] == "SUCCEEDED"


def test_every_distributed_map_writes_its_results_to_s3_not_to_the_state() -> None:
    maps = {
        name: state
        for name, state in definition()["States"].items()
        if state["Type"] == "Map" and state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    }

    assert sorted(maps) == ["EvaluateBatches", "PrepareShards"]
    for state in maps.values():
        assert state["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
        assert state["ResultWriter"]["Parameters"]["Bucket"] == "${DataBucketName}"
