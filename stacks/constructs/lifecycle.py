"""Lifecycle: GarbageCollect, run by EventBridge Scheduler when `lifecycle.enabled`, deletes the environment's custom
models that are neither active nor rollback targets and are older than the retention (see `promotion/gc.py`).

It reads every model's and deployment's tags (list and tag reads have no tag scope) but deletes only resources
tagged with this environment (`stage.environment_scope`): another environment's or an untagged model is refused by
IAM even if the code asked.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from nova_pipeline.core.settings import GcSettings
from nova_pipeline.promotion.record import active_model_parameter_name
from stacks.constructs.stage import (
    PipelineResources,
    allow_wildcards,
    bedrock_arn,
    build_function,
    environment_scope,
    spec,
)

GARBAGE_COLLECT = spec(
    "GarbageCollect", "garbage_collect", "Deletes expired custom models", GcSettings, seconds=300, task=False
)
FUNCTIONS = (GARBAGE_COLLECT,)


class Lifecycle(Construct):
    """The clean-up function (always deployed, so `nova-pipeline gc` and a manual invoke work) and its schedule."""

    FUNCTIONS = FUNCTIONS

    def __init__(self, scope: Construct, construct_id: str, *, resources: PipelineResources) -> None:
        super().__init__(scope, construct_id)
        settings = resources.settings
        lifecycle = settings.lifecycle
        self.function = build_function(
            self,
            GARBAGE_COLLECT,
            settings=settings,
            layer=resources.layer,
            values={
                "NOVA_GC_RETENTION_DAYS": str(lifecycle.retention_days),
                "NOVA_GC_KEEP_VERSIONS": str(lifecycle.keep_versions),
            },
            log_key=resources.key,
        )
        self.functions = {GARBAGE_COLLECT.construct_id: self.function}
        role = self.function.role
        models, deployments = bedrock_arn(self, "custom-model"), bedrock_arn(self, "custom-model-deployment")
        # List actions have no resource-level permissions (Service Authorization Reference, Amazon Bedrock).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["bedrock:ListCustomModels", "bedrock:ListCustomModelDeployments"], resources=["*"]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=[models, deployments])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["bedrock:DeleteCustomModel", "bedrock:DeleteCustomModelDeployment"],
                resources=[models, deployments],
                conditions=environment_scope(settings),
            )
        )
        parameter = Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name=active_model_parameter_name(settings.name).lstrip("/")
        )
        # The active model and the rollback targets come from the record's version history (a SecureString).
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ssm:GetParameterHistory"], resources=[parameter]))
        resources.key.grant(role, "kms:Decrypt")
        allow_wildcards(
            [role],
            "gc lists every custom model and deployment (list actions take no resource) and reads their tags; it "
            "deletes only those tagged with this environment (aws:ResourceTag condition).",
            r"/^Resource::\*$/g",
            r"/^Resource::arn:.*:bedrock:.*:custom-model(-deployment)?\/\*$/g",
        )
        if lifecycle.enabled:
            invoker = iam.Role(self, "SchedulerRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"))
            self.schedule = scheduler.Schedule(
                self,
                "Schedule",
                schedule=scheduler.ScheduleExpression.expression(lifecycle.schedule),
                target=targets.LambdaInvoke(
                    self.function.function,
                    input=scheduler.ScheduleTargetInput.from_object({"dryRun": False}),
                    role=invoker,
                ),
                description=f"Nova customization {settings.name}: delete expired custom models",
            )
            allow_wildcards(
                [invoker],
                "The scheduler invokes the GarbageCollect function (CDK grants its ARN and its versions, ':*').",
                r"/^Resource::<LifecycleGarbageCollectFunction.*\.Arn>:\*$/g",
            )
