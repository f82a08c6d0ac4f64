"""CustomizationWorkflow: the Standard state machine that runs the pipeline functions, with its log group, X-Ray
tracing, invoke grants on exactly its task functions, and the Distributed Map's permissions.
"""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import ArnFormat, Aspects, Duration, IAspect, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct, IConstruct

from nova_pipeline.core import layout
from stacks.config import EnvironmentSettings
from stacks.constructs.pipeline_function import PipelineFunction
from stacks.constructs.retention import log_group


class CustomizationWorkflow(Construct):
    """`tasks` maps each definition substitution (`<State>Arn`) to the function that state invokes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        definition_body: sfn.DefinitionBody,
        tasks: Mapping[str, PipelineFunction],
        data_bucket: s3.IBucket,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        logs_group = log_group(self, "Logs", settings, key)
        self.name = f"{settings.prefix}-customization"
        # "Default" is left out of logical ids: the named state machine keeps the id it had as the stack's
        # "CustomizationStateMachine" child, so CloudFormation updates it in place (a named resource cannot be
        # replaced).
        self.state_machine = sfn.StateMachine(
            self,
            "Default",
            state_machine_name=self.name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=definition_body,
            definition_substitutions={
                **{name: f.function.function_arn for name, f in tasks.items()},
                "DataBucketName": data_bucket.bucket_name,
            },
            logs=sfn.LogOptions(destination=logs_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=Duration.days(7),
        )
        for function in tasks.values():
            function.function.grant_invoke(self.state_machine)
        # The Distributed Maps list their items as this role (ItemReader): PrepareShards the raw data, EvaluateBatches
        # the batches PlanEvaluation wrote; and write their results (ResultWriter) under the run's map-results/
        # prefixes (Step Functions developer guide, "IAM policies for ItemReader / ResultWriter").
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{layout.RAW}*", layout.evaluation_batches("*") + "*"]}},
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                resources=[data_bucket.arn_for_objects(f"{layout.MAP_RESULTS}*")],
            )
        )
        key.grant(self.state_machine, "kms:GenerateDataKey", "kms:Decrypt")
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="stateMachine",
                        resource_name=self.name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{self.name}/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        suppressions = [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="Log delivery and X-Ray actions have no resource-level permissions; the maps write their "
                "results under map-results/ in folders Step Functions names per map run; Lambda invoke "
                "grants cover the function's versions (ARN:*) as CDK generates them; the Distributed Map's "
                "child executions are named by Step Functions.",
                applies_to=[
                    "Resource::*",
                    RegexAppliesTo(regex=r"/^Resource::<.*\.Arn>:\*$/g"),
                    RegexAppliesTo(regex=r"/^Resource::.*\/map-results\/\*$/g"),
                    RegexAppliesTo(regex=r"/^Resource::arn:.*:states:.*:execution:nova-[a-z0-9]+-customization\/\*$/g"),
                ],
            )
        ]
        NagSuppressions.add_resource_suppressions(self.state_machine, suppressions, apply_to_children=True)
        # A role whose policy outgrows IAM's size limit moves statements into OverflowPolicy<n> from an aspect
        # (aws-iam Role.splitLargePolicy); this aspect, added after it, gives them the same suppressions.
        Aspects.of(self.state_machine.role).add(_SuppressOverflow(self.state_machine.role, suppressions))


@jsii.implements(IAspect)
class _SuppressOverflow:
    """Suppressions for the overflow policies a role creates at synthesis, which exist only after its own aspect."""

    def __init__(self, role: iam.IRole, suppressions: list[NagPackSuppression]) -> None:
        self.path, self.suppressions = role.node.path, suppressions

    def visit(self, node: IConstruct) -> None:
        if node.node.path != self.path:
            return
        for child in node.node.children:
            if child.node.id.startswith("OverflowPolicy"):
                NagSuppressions.add_resource_suppressions(child, self.suppressions, apply_to_children=True)
