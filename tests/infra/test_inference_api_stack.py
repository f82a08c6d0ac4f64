"""InferenceApiStack: IAM auth, stage throttling and access logs, least-privilege Bedrock, alarms, dashboard."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import as_list, policy_statements


def test_every_method_requires_iam_auth_and_validates_requests(templates: dict[str, Template]) -> None:
    methods = templates["nova-prod-api"].find_resources("AWS::ApiGateway::Method")

    assert len(methods) == 3
    for method in methods.values():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert "RequestValidatorId" in method["Properties"]
    [generate] = [m for m in methods.values() if m["Properties"]["HttpMethod"] == "POST"]
    assert "application/json" in generate["Properties"]["RequestModels"]


def test_the_stage_throttles_logs_access_and_traces(templates: dict[str, Template]) -> None:
    templates["nova-prod-api"].has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
            "MethodSettings": [
                Match.object_like({"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100, "DataTraceEnabled": False})
            ],
        },
    )
    templates["nova-prod-api"].has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )


def test_bedrock_invoke_is_scoped_to_this_environments_deployments(templates: dict[str, Template]) -> None:
    statements = [
        s
        for s in policy_statements(templates["nova-prod-api"])
        if any(str(a).startswith("bedrock:") for a in as_list(s["Action"]))
    ]

    # Only prod's own deployments (the tags the pipeline puts on every resource it creates: dev's are refused), and
    # no base model: the API serves the promoted deployment only.
    [deployments] = statements
    assert sorted(deployments["Action"]) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert json.dumps(deployments["Resource"]).endswith(':custom-model-deployment/*"]]}')
    assert deployments["Condition"] == {
        "StringEquals": {"aws:ResourceTag/project": "nova-customization", "aws:ResourceTag/environment": "prod"}
    }


def test_the_function_reads_only_the_active_model_parameter(templates: dict[str, Template]) -> None:
    ssm = [s for s in policy_statements(templates["nova-prod-api"]) if "ssm:GetParameter" in as_list(s["Action"])]

    assert len(ssm) == 1
    assert "parameter/nova-customization/prod/active-model" in json.dumps(ssm[0]["Resource"])


def test_alarms_notify_the_environment_topic_and_a_dashboard_exists(templates: dict[str, Template]) -> None:
    template = templates["nova-prod-api"]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")

    assert len(alarms) == 4
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::ImportValue": Match.string_like_regexp("Notifications")}
        ] or "Notifications" in json.dumps(alarm["Properties"]["AlarmActions"])
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    assert {a["Properties"].get("MetricName") for a in alarms.values()} >= {"4XXError", "Latency", "Throttles"}


def test_api_key_mode_adds_a_usage_plan(templates: dict[str, Template]) -> None:
    from aws_cdk import App

    from stacks.app_builder import add_environment
    from stacks.config import load_environments

    [settings] = load_environments({"qa": {"api": {"auth": "api-key"}}}, None)
    stacks = add_environment(App(), settings)
    template = Template.from_stack(stacks.api)

    template.resource_count_is("AWS::ApiGateway::UsagePlan", 1)
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    for method in template.find_resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["ApiKeyRequired"] is True


@pytest.mark.parametrize("allow", [True, False])
def test_the_environment_switches_a_callers_context_on_or_off(allow: bool) -> None:
    from aws_cdk import App

    from stacks.app_builder import add_environment
    from stacks.config import load_environments

    [settings] = load_environments({"qa": {"api": {"allowContext": allow}}}, None)
    template = Template.from_stack(add_environment(App(), settings).api)

    template.has_resource_properties(
        "AWS::Lambda::Function",
        Match.object_like(
            {"Environment": {"Variables": Match.object_like({"NOVA_API_ALLOW_CONTEXT": str(allow).lower()})}}
        ),
    )
