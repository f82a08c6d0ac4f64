"""`nova-pipeline start`: the stack output look-up and the StartExecution request, checked by Stubber."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.cli.commands.start import StackNotFoundError, start_execution

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Customization-abc"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Customization-abc:first"


def test_start_looks_up_the_state_machine_and_starts_with_the_input() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    document = {"dataset": {"uri": "raw/x.csv"}}
    stack = {
        "StackName": "nova-dev-pipeline",
        "CreationTime": "2026-11-24T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": "StateMachineArn", "OutputValue": STATE_MACHINE}],
    }
    with Stubber(cloudformation) as cfn, Stubber(stepfunctions) as sfn:
        cfn.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "nova-dev-pipeline"})
        sfn.add_response(
            "start_execution",
            {"executionArn": EXECUTION, "startDate": "2026-11-24T00:00:00Z"},
            {"stateMachineArn": STATE_MACHINE, "input": json.dumps(document), "name": "first"},
        )

        started = start_execution(
            document, environment="dev", name="first", cloudformation=cloudformation, stepfunctions=stepfunctions
        )

    assert started == {
        "executionArn": EXECUTION,
        "console": "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"
        + EXECUTION,
    }


def test_missing_stack_says_how_to_deploy_it() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cloudformation) as cfn:
        cfn.add_client_error("describe_stacks", "ValidationError", "Stack with id nova-qa-pipeline does not exist")
        with pytest.raises(StackNotFoundError) as caught:
            start_execution({}, environment="qa", name=None, cloudformation=cloudformation, stepfunctions=None)

    assert str(caught.value) == (
        "stack nova-qa-pipeline not found (Stack with id nova-qa-pipeline does not exist); deploy it with "
        "`make deploy ENV=qa` or check AWS_PROFILE/AWS_REGION"
    )
