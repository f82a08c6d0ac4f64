"""What every pipeline stage construct shares: how it declares its functions, what it builds on, and ARN helpers.

A stage declares each function once as a `FunctionSpec`, including the `NOVA_*` variables its handler reads; the
stage's construct creates the functions from the specs and passes each one only those variables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from nova_pipeline.core.settings import FunctionSettings
from nova_pipeline.jobs.naming import PROJECT_TAG
from stacks.config import EnvironmentSettings
from stacks.constructs.customization_roles import CustomizationRoles
from stacks.constructs.pipeline_function import PipelineFunction


class SettingsModel(Protocol):
    """A handler's settings class: a `FunctionSettings` model, or the inference function's `ApiSettings` (parsed by
    pydantic-core, for its cold start); each names the `NOVA_*` variables the stack must pass."""

    def variables(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class FunctionSpec:
    """One function: `lambdas/<handler_dir>/handler.py`, whose handler parses its environment with `settings`.

    The settings model (`nova_pipeline.core.settings`) is the single declaration of the `NOVA_*` variables the
    function receives (besides Powertools and `NOVA_ENVIRONMENT`); `task` says whether the state machine invokes it
    (its ARN is the definition substitution `<construct_id>Arn`).
    """

    construct_id: str
    handler_dir: str
    description: str
    settings: SettingsModel
    seconds: int = 30
    memory: int = 512
    ephemeral_mib: int = 512
    task: bool = True

    @property
    def variables(self) -> frozenset[str]:
        return self.settings.variables() - {"NOVA_ENVIRONMENT"}


def spec(
    construct_id: str,
    handler_dir: str,
    description: str,
    settings: SettingsModel = FunctionSettings,
    *,
    seconds: int = 30,
    memory: int = 512,
    ephemeral_mib: int = 512,
    task: bool = True,
) -> FunctionSpec:
    """A `FunctionSpec`: the function's folder, what it does, and the settings model its handler loads."""
    return FunctionSpec(construct_id, handler_dir, description, settings, seconds, memory, ephemeral_mib, task)


@dataclass(frozen=True)
class PipelineResources:
    """What the stages build on: the environment, the shared layer, the storage and the customization roles."""

    settings: EnvironmentSettings
    layer: lambda_.ILayerVersion
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    key: kms.IKey
    roles: CustomizationRoles


def add_functions(
    scope: Construct, specs: Sequence[FunctionSpec], resources: PipelineResources, values: Mapping[str, str]
) -> dict[str, PipelineFunction]:
    """One `PipelineFunction` per spec, each with only the declared variables (taken from `values`)."""
    return {
        function_spec.construct_id: build_function(
            scope,
            function_spec,
            settings=resources.settings,
            layer=resources.layer,
            values=values,
            log_key=resources.key,
        )
        for function_spec in specs
    }


def build_function(
    scope: Construct,
    function_spec: FunctionSpec,
    *,
    settings: EnvironmentSettings,
    layer: lambda_.ILayerVersion,
    values: Mapping[str, str],
    log_key: kms.IKey,
    log_level: str = "INFO",
    reserved_concurrency: int | None = None,
) -> PipelineFunction:
    """The `PipelineFunction` of `function_spec`, with exactly its declared variables (taken from `values`)."""
    missing = sorted(function_spec.variables - set(values))
    if missing:
        raise ValueError(f"{function_spec.construct_id} reads {missing}, which its construct does not provide")
    return PipelineFunction(
        scope,
        function_spec.construct_id,
        settings=settings,
        layer=layer,
        handler_dir=function_spec.handler_dir,
        description=function_spec.description,
        timeout=Duration.seconds(function_spec.seconds),
        memory_size=function_spec.memory,
        ephemeral_mib=function_spec.ephemeral_mib,
        environment={name: values[name] for name in sorted(function_spec.variables)},
        log_key=log_key,
        log_level=log_level,
        reserved_concurrency=reserved_concurrency,
    )


def bedrock_arn(scope: Construct, resource: str, name: str = "*", *, account: bool = True) -> str:
    """A Bedrock ARN of this stack's region (and account, unless `account` is false as for foundation models)."""
    return Stack.of(scope).format_arn(
        service="bedrock", resource=resource, resource_name=name, account=None if account else ""
    )


def routed_foundation_model_arn(scope: Construct, inference_profile_id: str) -> str:
    """The foundation model a cross-region inference profile routes to, in any region of the partition."""
    return Stack.of(scope).format_arn(
        service="bedrock",
        region="*",
        account="",
        resource="foundation-model",
        resource_name=inference_profile_id.removeprefix("us."),
    )


def environment_scope(settings: EnvironmentSettings) -> dict[str, dict[str, str]]:
    """The IAM condition that limits an action to this environment's resources: the `project` and `environment`
    tags every resource the pipeline creates carries (`jobs.naming.pipeline_tags`). Bedrock's
    model-customization-job, custom-model, custom-model-deployment and provisioned-model resource types and
    SageMaker's training-job accept `aws:ResourceTag/${TagKey}` (Service Authorization Reference: "Actions, resources,
    and condition keys for Amazon Bedrock" and "... for Amazon SageMaker AI", resource types tables). Untagged
    resources never match."""
    return {"StringEquals": {"aws:ResourceTag/project": PROJECT_TAG, "aws:ResourceTag/environment": settings.name}}


def grant_invoke(role: iam.IRole, scope: Construct, settings: EnvironmentSettings, profiles: Iterable[str]) -> None:
    """InvokeModel (and its streaming variant) on this environment's deployments (and provisioned models, which serve
    full-rank models) only, and on the base models of
    `profiles` (cross-region inference profile ids) with the foundation models they route to."""
    invoke = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    deployments = [bedrock_arn(scope, "custom-model-deployment"), bedrock_arn(scope, "provisioned-model")]
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=invoke, resources=deployments, conditions=environment_scope(settings))
    )
    base_models = []
    for profile in profiles:
        base_models += [bedrock_arn(scope, "inference-profile", profile), routed_foundation_model_arn(scope, profile)]
    if base_models:
        role.add_to_principal_policy(iam.PolicyStatement(actions=invoke, resources=base_models))


def allow_wildcards(roles: Iterable[iam.IRole], reason: str, *patterns: str) -> None:
    """Suppress AwsSolutions-IAM5 on `roles` for exactly the wildcard resources matching `patterns`, with `reason`."""
    for role in roles:
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=reason,
                    applies_to=[RegexAppliesTo(regex=pattern) for pattern in patterns],
                )
            ],
            apply_to_children=True,
        )
