"""The environment's optional Amazon Bedrock guardrail: the variables of the functions that call Converse with it,
and the permission those calls need.

A Converse call with `guardrailConfig` needs `bedrock:ApplyGuardrail` on the guardrail besides the invoke permission
on the model (Bedrock user guide, "Set up permissions to use Amazon Bedrock Guardrails",
https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-permissions.html). The offline twin checks it.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import EnvironmentSettings


def guardrail_variables(settings: EnvironmentSettings) -> dict[str, str]:
    """NOVA_GUARDRAIL_ID / NOVA_GUARDRAIL_VERSION (both empty without a guardrail)."""
    guardrail = settings.guardrail
    return {
        "NOVA_GUARDRAIL_ID": guardrail.identifier if guardrail else "",
        "NOVA_GUARDRAIL_VERSION": guardrail.version if guardrail else "",
    }


def guardrail_arn(scope: Construct, settings: EnvironmentSettings) -> str | None:
    """The guardrail's ARN (an id is a guardrail of this account and Region)."""
    if settings.guardrail is None:
        return None
    identifier = settings.guardrail.identifier
    if identifier.startswith("arn:"):
        return identifier
    return Stack.of(scope).format_arn(service="bedrock", resource="guardrail", resource_name=identifier)


def grant_apply_guardrail(scope: Construct, settings: EnvironmentSettings, *roles: iam.IRole) -> None:
    """`bedrock:ApplyGuardrail` on the environment's guardrail for each role (nothing without a guardrail)."""
    arn = guardrail_arn(scope, settings)
    if arn is None:
        return
    for role in roles:
        role.add_to_principal_policy(iam.PolicyStatement(actions=["bedrock:ApplyGuardrail"], resources=[arn]))
