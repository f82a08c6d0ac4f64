"""Just enough of CloudFormation to run a synthesized app offline: physical names for resources and the
intrinsic functions the templates use (Ref, Fn::GetAtt, Fn::Join, Fn::ImportValue, Fn::Select, Fn::Split, Fn::Sub).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
    "AWS::StackName": "twin",
}


# Resource types whose `Ref` is their ARN (for the others it is their name or id).
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::Lambda::LayerVersion"}


def _short(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    physical_id: str
    arn: str


@dataclass
class CloudAssembly:
    """Every resource of the given templates, with the names they get in the offline twin."""

    templates: dict[str, dict[str, Any]]
    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    exports: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stack, template in self.templates.items():
            for logical_id, resource in template.get("Resources", {}).items():
                physical, arn = _names(stack, logical_id, resource["Type"])
                named = resource.get("Properties", {}).get("StateMachineName")
                if resource["Type"] == "AWS::StepFunctions::StateMachine" and isinstance(named, str):
                    # A named state machine's Ref/Arn carries its name, as CloudFormation returns it.
                    physical, arn = named, f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{named}"
                self.resources[(stack, logical_id)] = Resource(
                    stack, logical_id, resource["Type"], resource.get("Properties", {}), physical, arn
                )
            for output in template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self.exports[export] = (stack, output["Value"])

    def of_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == resource_type]

    def resolve(self, stack: str, value: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic function
        """Evaluate the intrinsic functions in `value`, as CloudFormation would in `stack`."""
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                if argument in PSEUDO:
                    return PSEUDO[argument]
                resource = self.resources[(stack, argument)]
                return resource.arn if resource.type in REF_IS_ARN else resource.physical_id
            if name == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._attribute(self.resources[(stack, logical_id)], attribute)
            if name == "Fn::Join":
                separator, items = argument
                return separator.join(str(self.resolve(stack, item)) for item in self.resolve(stack, items))
            if name == "Fn::ImportValue":
                export_stack, export_value = self.exports[self.resolve(stack, argument)]
                return self.resolve(export_stack, export_value)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(stack, items)[int(self.resolve(stack, index))]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(stack, text)).split(separator)
            if name == "Fn::Sub":
                return self._sub(stack, argument)
        return {key: self.resolve(stack, item) for key, item in value.items()}

    def _sub(self, stack: str, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(stack, variables[name]))
            if name in PSEUDO:
                return str(PSEUDO[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self._attribute(self.resources[(stack, logical_id)], attribute))
            return self.resources[(stack, name)].physical_id

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    @staticmethod
    def _attribute(resource: Resource, attribute: str) -> Any:
        if attribute in ("Arn", "TopicArn"):
            return resource.arn
        if attribute == "Name":
            return resource.physical_id
        return f"{resource.physical_id}.{attribute}"


def _names(stack: str, logical_id: str, resource_type: str) -> tuple[str, str]:  # noqa: PLR0911 - one per type
    base = f"{stack}-{logical_id}"
    if resource_type == "AWS::S3::Bucket":
        name = f"twin-{stack}-{logical_id}".lower()[:54] + "-" + _short(base)
        return name, f"arn:aws:s3:::{name}"
    if resource_type == "AWS::Lambda::Function":
        name = base[:55] + "-" + _short(base)
        return name, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    if resource_type == "AWS::IAM::Role":
        name = base[:55] + "-" + _short(base)
        return name, f"arn:aws:iam::{ACCOUNT}:role/{name}"
    if resource_type == "AWS::SNS::Topic":
        return base, f"arn:aws:sns:{REGION}:{ACCOUNT}:{base}"
    if resource_type == "AWS::KMS::Key":
        key_id = f"{_short(base, 8)}-{_short(base + '1', 4)}-{_short(base + '2', 4)}-{_short(base + '3', 4)}-" + _short(
            base + "4", 12
        )
        return key_id, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    if resource_type == "AWS::StepFunctions::StateMachine":
        return base, f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{base}"
    if resource_type == "AWS::Logs::LogGroup":
        return base, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{base}:*"
    if resource_type == "AWS::Lambda::LayerVersion":
        return base, f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{base}:1"
    return base, f"arn:aws:twin:{REGION}:{ACCOUNT}:{logical_id}"
