"""Operations settings on the templates: the encrypted topic, encrypted logs in prod, the inference function's
reserved concurrency, the approval policy per environment, the guards' permissions and data-triggered runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.conftest import as_list

DATA_KEY = "DataKey"


def resources(template: Template, kind: str) -> list[dict[str, Any]]:
    return [resource["Properties"] for resource in template.find_resources(kind).values()]


def key_statements(template: Template) -> list[dict[str, Any]]:
    [key] = resources(template, "AWS::KMS::Key")
    statements: list[dict[str, Any]] = key["KeyPolicy"]["Statement"]
    return statements


def function_variables(template: Template, handler_dir: str) -> dict[str, Any]:
    for properties in resources(template, "AWS::Lambda::Function"):
        variables = properties.get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == handler_dir:
            return {**variables, "_properties": properties}
    raise AssertionError(f"no function for lambdas/{handler_dir}")


def role_statements(template: Template, role_logical_id_part: str) -> list[dict[str, Any]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if role_logical_id_part in roles:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_notification_topic_is_encrypted_with_the_environment_key(templates: dict[str, Template], env: str) -> None:
    [topic] = resources(templates[f"nova-{env}-pipeline"], "AWS::SNS::Topic")

    assert DATA_KEY in json.dumps(topic["KmsMasterKeyId"])
    # The AWS services that publish to it may use the key (EventBridge: job state changes; CloudWatch: API alarms)
    services = [s for s in key_statements(templates[f"nova-{env}-storage"]) if "Service" in s["Principal"]]
    publishers = [s for s in services if "events.amazonaws.com" in as_list(s["Principal"]["Service"])]
    assert publishers and set(as_list(publishers[0]["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "cloudwatch.amazonaws.com" in as_list(publishers[0]["Principal"]["Service"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_publisher_role_gets_exact_key_actions_not_wildcards(templates: dict[str, Template], env: str) -> None:
    pipeline = templates[f"nova-{env}-pipeline"]
    for role in ("CleanupRole", "RequestApprovalRole"):
        statements = role_statements(pipeline, role)
        publish = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
        keys = [s for s in statements if any(str(a).startswith("kms:") for a in as_list(s["Action"]))]

        assert publish, role
        assert all("*" not in str(action) for s in keys for action in as_list(s["Action"])), role


def test_prod_log_groups_are_encrypted_with_the_key_cloudwatch_logs_may_use(templates: dict[str, Template]) -> None:
    groups = [
        group
        for stack in ("nova-prod-pipeline", "nova-prod-api")
        for group in resources(templates[stack], "AWS::Logs::LogGroup")
    ]
    [logs_statement] = [
        s
        for s in key_statements(templates["nova-prod-storage"])
        if "logs.us-east-1.amazonaws.com" in json.dumps(s["Principal"])
    ]

    assert len(groups) > 20 and all(DATA_KEY in json.dumps(group.get("KmsKeyId")) for group in groups)
    condition = json.dumps(logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert "arn:aws:logs:us-east-1:" in condition and ":log-group:*" in condition


def test_dev_log_groups_are_not_encrypted_and_the_key_does_not_trust_logs(templates: dict[str, Template]) -> None:
    groups = resources(templates["nova-dev-pipeline"], "AWS::Logs::LogGroup")

    assert groups and not any("KmsKeyId" in group for group in groups)
    assert "logs.us-east-1" not in json.dumps(key_statements(templates["nova-dev-storage"]))


@pytest.mark.parametrize(("env", "expected"), [("dev", None), ("prod", 50)])
def test_the_inference_function_reserves_the_configured_concurrency(
    templates: dict[str, Template], env: str, expected: int | None
) -> None:
    properties = function_variables(templates[f"nova-{env}-api"], "inference")["_properties"]

    assert properties.get("ReservedConcurrentExecutions") == expected


@pytest.mark.parametrize(("env", "required", "seconds"), [("dev", False, 24 * 3600), ("prod", True, 72 * 3600)])
def test_validate_input_gets_the_environment_approval_policy(
    templates: dict[str, Template], env: str, required: bool, seconds: int
) -> None:
    variables = function_variables(templates[f"nova-{env}-pipeline"], "validate_input")

    assert json.loads(variables["NOVA_APPROVAL"]) == {"required": required, "timeoutSeconds": seconds}


def test_request_approval_writes_only_approval_tokens(templates: dict[str, Template]) -> None:
    statements = role_statements(templates["nova-prod-pipeline"], "RequestApprovalRole")
    s3 = [s for s in statements if any(str(a).startswith("s3:") for a in as_list(s["Action"]))]

    assert [as_list(s["Action"]) for s in s3] == [["s3:PutObject"]]
    assert json.dumps(s3[0]["Resource"]).endswith('"/approvals/*"]]}')


def test_uploading_an_input_under_the_prefix_triggers_a_run_in_dev(templates: dict[str, Template]) -> None:
    pipeline, storage = templates["nova-dev-pipeline"], templates["nova-dev-storage"]
    [notifications] = resources(storage, "Custom::S3BucketNotifications")
    [rule] = [r for r in resources(pipeline, "AWS::Events::Rule") if r["EventPattern"]["source"] == ["aws.s3"]]
    trigger = function_variables(pipeline, "start_from_upload")

    assert notifications["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["object"] == {"key": [{"wildcard": "incoming/*/input.json"}]}
    assert "Data" in json.dumps(rule["EventPattern"]["detail"]["bucket"]["name"])
    [target] = rule["Targets"]
    assert "StartFromUpload" in json.dumps(target["Arn"]) and target["RetryPolicy"]["MaximumRetryAttempts"] == 4
    assert trigger["NOVA_TRIGGER_PREFIX"] == "incoming/"
    statements = role_statements(pipeline, "StartFromUploadRole")
    assert {"states:StartExecution", "s3:GetObjectVersion"} <= {a for s in statements for a in as_list(s["Action"])}


def test_prod_has_no_data_trigger(templates: dict[str, Template]) -> None:
    assert not resources(templates["nova-prod-storage"], "Custom::S3BucketNotifications")
    assert all(
        r["EventPattern"]["source"] != ["aws.s3"]
        for r in resources(templates["nova-prod-pipeline"], "AWS::Events::Rule")
    )
