"""The twin's event bus: a rule delivers a matching event to a Lambda target only when the function's resource
policy lets EventBridge invoke it for that rule, as AWS does."""

from __future__ import annotations

import io
import json
from typing import Any

from nova_pipeline.local.eventbridge import EventBus
from nova_pipeline.local.template import CloudAssembly

PATTERN = {"source": ["aws.s3"], "detail": {"object": {"key": [{"wildcard": "incoming/*/input.json"}]}}}


def _templates(*, permission_for: str | None) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Uploaded": {
            "Type": "AWS::Events::Rule",
            "Properties": {"EventPattern": PATTERN, "Targets": [{"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "Id": "T"}]},
        },
        "Other": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.bedrock"]}}},
    }
    if permission_for:
        resources["Allow"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [permission_for, "Arn"]},
            },
        }
    return {"stack": {"Resources": resources}}


def _event(key: str) -> dict[str, Any]:
    return {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": key}}}


def _bus(permission_for: str | None) -> tuple[EventBus, list[tuple[str, Any]]]:
    invoked: list[tuple[str, Any]] = []

    def invoke(arn: str, payload: bytes) -> dict[str, Any]:
        invoked.append((arn, json.loads(payload)))
        return {"StatusCode": 200, "Payload": io.BytesIO(b'{"started": true}')}

    return EventBus.from_assembly(CloudAssembly(_templates(permission_for=permission_for)), invoke), invoked


def test_a_matching_event_reaches_the_target_the_rule_may_invoke() -> None:
    bus, invoked = _bus(permission_for="Uploaded")

    bus.put_event(_event("incoming/t/input.json"))
    bus.put_event(_event("incoming/t/data.csv"))
    [delivery] = bus.wait()

    assert delivery.result == {"started": True} and delivery.error is None
    assert invoked == [(delivery.target, _event("incoming/t/input.json"))]


def test_without_a_resource_policy_for_the_rule_the_function_is_not_invoked() -> None:
    bus, invoked = _bus(permission_for="Other")  # a permission, but for another rule

    bus.put_event(_event("incoming/t/input.json"))
    [delivery] = bus.wait()

    assert invoked == []
    assert delivery.error is not None
    assert delivery.error.startswith("AccessDeniedException: ") and "events.amazonaws.com" in delivery.error
