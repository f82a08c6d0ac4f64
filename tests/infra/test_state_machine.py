"""The state machine as deployed: definition from stepfunctions.workflow, logging, tracing, catches, least privilege."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Match, Template

from stepfunctions import workflow
from tests.infra.conftest import as_list, policy_statements

TRANSIENT = {"ThrottledError", "TransientServiceError", "Lambda.TooManyRequestsException", "Lambda.ServiceException"}


def definition(templates: dict[str, Template]) -> dict[str, Any]:
    """The deployed definition: the template's DefinitionString with its substitutions applied."""
    [machine] = templates["nova-prod-pipeline"].find_resources("AWS::StepFunctions::StateMachine").values()
    text = machine["Properties"]["DefinitionString"]
    for name in machine["Properties"]["DefinitionSubstitutions"]:
        text = text.replace("${" + name + "}", f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
    return json.loads(text)


def test_every_placeholder_of_the_definition_is_substituted(templates: dict[str, Template]) -> None:
    [machine] = templates["nova-prod-pipeline"].find_resources("AWS::StepFunctions::StateMachine").values()
    placeholders = set(re.findall(r"\$\{(\w+)\}", machine["Properties"]["DefinitionString"]))

    assert placeholders == set(machine["Properties"]["DefinitionSubstitutions"])
    assert json.loads(machine["Properties"]["DefinitionString"]) == workflow.definition()


def test_standard_workflow_logs_everything_and_traces(templates: dict[str, Template]) -> None:
    templates["nova-prod-pipeline"].has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True, "Destinations": [Match.any_value()]},
        },
    )


def test_every_task_retries_transient_errors_with_jitter_and_catches_into_cleanup(
    templates: dict[str, Template],
) -> None:
    states = definition(templates)["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}

    assert len(tasks) == 25  # 19 + SageMaker evaluation pair, CheckBudget, RequestApproval, PT pair
    for name, state in tasks.items():
        [retry] = state["Retry"]
        assert set(retry["ErrorEquals"]) >= TRANSIENT, name
        assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] == 2, name
        if name not in ("Cleanup", "RequestApproval"):
            assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Cleanup"}]
    assert states["Failed"]["ErrorPath"] == "$.cleanup.error"
    assert states["Failed"]["CausePath"] == "$.cleanup.cause"


def test_polls_wait_for_the_interval_the_poll_function_returns(templates: dict[str, Template]) -> None:
    states = definition(templates)["States"]
    waits = {name: state for name, state in states.items() if state["Type"] == "Wait"}

    assert set(waits) == {
        "WaitForBedrockJob",
        "WaitForTrainingJob",
        "WaitForImportedModel",
        "WaitForDeployment",
        "WaitForSageMakerEvaluation",
        "WaitForProvisionedThroughput",
    }
    assert all("SecondsPath" in state and "Seconds" not in state for state in waits.values())


def test_poll_interval_comes_from_the_environment(templates: dict[str, Template]) -> None:
    templates["nova-prod-pipeline"].has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"NOVA_POLL_INTERVAL_SECONDS": "300"})}},
    )
    templates["nova-dev-pipeline"].has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"NOVA_POLL_INTERVAL_SECONDS": "120"})}},
    )


def test_state_machine_may_only_invoke_the_pipeline_functions_and_run_its_map(templates: dict[str, Template]) -> None:
    template = templates["nova-prod-pipeline"]
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [Match.object_like({"Principal": {"Service": "states.amazonaws.com"}})]
                }
            }
        },
    )
    [role_id] = roles
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]

    assert invoke
    for statement in invoke:
        for resource in as_list(statement["Resource"]):
            assert "Fn::GetAtt" in json.dumps(resource), resource
    other_actions = {a for s in statements for a in as_list(s["Action"]) if not str(a).startswith("lambda:")}
    assert other_actions <= {
        "s3:ListBucket",
        "s3:PutObject",  # the maps' ResultWriter, under map-results/ only
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
        "kms:GenerateDataKey",  # the data bucket is SSE-KMS
        "kms:Decrypt",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }


def test_bedrock_actions_are_scoped_to_their_resource_types(templates: dict[str, Template]) -> None:
    for statement in policy_statements(templates["nova-prod-pipeline"]):
        actions = [str(a) for a in as_list(statement["Action"])]
        if any(a.startswith("bedrock:") for a in actions):
            resources = json.dumps(statement["Resource"])
            assert '"*"' not in resources or {a for a in actions if a.startswith("bedrock:")} <= {
                "bedrock:ListCustomModels",
                "bedrock:ListCustomModelDeployments",
                "bedrock:ListProvisionedModelThroughputs",
            }
            if "bedrock:GetCustomModelDeployment" in actions or "bedrock:DeleteCustomModelDeployment" in actions:
                assert "custom-model-deployment/*" in resources
            if {"bedrock:GetProvisionedModelThroughput", "bedrock:DeleteProvisionedModelThroughput"} & set(actions):
                assert "provisioned-model/*" in resources


def test_only_the_job_starters_may_pass_the_service_roles(templates: dict[str, Template]) -> None:
    passes = [s for s in policy_statements(templates["nova-prod-pipeline"]) if s["Action"] == "iam:PassRole"]

    assert sorted(s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passes) == [
        "bedrock.amazonaws.com",
        "bedrock.amazonaws.com",
        "sagemaker.amazonaws.com",
        "sagemaker.amazonaws.com",  # StartTrainingJob and StartSageMakerEvaluation
    ]


def test_job_state_changes_are_forwarded_to_the_topic(templates: dict[str, Template]) -> None:
    templates["nova-prod-pipeline"].has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.bedrock"],
                "detail-type": ["Model Customization Job State Change"],
                "detail": {"jobName": [{"prefix": "nova-prod-"}]},
            },
            "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("Notifications")}})],
        },
    )


def test_large_or_many_file_datasets_fan_out_with_a_distributed_map(templates: dict[str, Template]) -> None:
    states = definition(templates)["States"]
    fan_out = states["PrepareShards"]

    assert states["ChooseDataPath"]["Choices"] == [
        {"Variable": "$.plan.mode", "StringEquals": "fanout", "Next": "PrepareShards"}
    ]
    assert fan_out["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert fan_out["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert fan_out["ItemProcessor"]["States"]["PrepareShard"]["Retry"]
    assert fan_out["Next"] == "MergeShards" and states["MergeShards"]["Next"] == "CheckBudget"


def test_the_distributed_map_may_list_raw_data_and_run_only_its_own_children(templates: dict[str, Template]) -> None:
    statements = list(policy_statements(templates["nova-prod-pipeline"]))
    starts = [s for s in statements if s["Action"] == "states:StartExecution"]
    lists = [s for s in statements if s["Action"] == "s3:ListBucket" and "raw/*" in json.dumps(s.get("Condition"))]

    assert len(starts) == 1
    assert "stateMachine:nova-prod-customization" in json.dumps(starts[0]["Resource"])
    assert lists
