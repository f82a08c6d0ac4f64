"""The service roles that Bedrock and SageMaker assume to run a customization job, and how Lambdas may pass them.

Both roles trust their service only for this account and only for its customization/training jobs (confused-deputy
protection with `aws:SourceAccount` and `aws:SourceArn`), read only the prepared-data prefix, write only the job
output prefix and use only the environment's key. A function may pass a role only to its own service
(`iam:PassedToService`).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from nova_pipeline.core import layout

NOVA_TRAINING_IMAGE_ACCOUNT = "708977205387"
NOVA_TRAINING_IMAGE_REPOSITORY = "nova-fine-tune-repo"


class CustomizationRoles(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bedrock = iam.Role(
            self,
            "BedrockCustomization",
            description="Assumed by Amazon Bedrock to run this environment's model customization jobs",
            assumed_by=_service_principal(
                "bedrock.amazonaws.com",
                stack,
                [
                    stack.format_arn(service="bedrock", resource="model-customization-job", resource_name="*"),
                    stack.format_arn(service="bedrock", resource="custom-model", resource_name="*"),
                ],
            ),
        )
        self.sagemaker = iam.Role(
            self,
            "SageMakerTraining",
            description="Assumed by SageMaker AI to run this environment's Nova recipe training jobs",
            assumed_by=_service_principal(
                "sagemaker.amazonaws.com",
                stack,
                [stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")],
            ),
        )
        for role in (self.bedrock, self.sagemaker):
            grant_prefix_read(role, data_bucket, layout.PREPARED)
            grant_prefix_write(role, artifacts_bucket, layout.JOBS)
            key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="Object access is limited to one key prefix per bucket (prepared data in, job "
                        "output out, recipes in); the object names below it are chosen per run.",
                        applies_to=[
                            RegexAppliesTo(
                                regex=f"/^Resource::.+\\/({layout.PREPARED}|{layout.JOBS}|{layout.RECIPES})\\*$/g"
                            )
                        ],
                    )
                ],
                apply_to_children=True,
            )
        grant_prefix_read(self.sagemaker, artifacts_bucket, layout.RECIPES)
        self._grant_training_runtime(self.sagemaker, stack)

    def grant_pass_role(self, grantee: iam.IGrantable, *, bedrock: bool = False, sagemaker: bool = False) -> None:
        """Let `grantee` pass the chosen roles, each only to its own service."""
        for wanted, role, service in (
            (bedrock, self.bedrock, "bedrock.amazonaws.com"),
            (sagemaker, self.sagemaker, "sagemaker.amazonaws.com"),
        ):
            if wanted:
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=["iam:PassRole"],
                    resource_arns=[role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": service}},
                )

    @staticmethod
    def _grant_training_runtime(role: iam.Role, stack: Stack) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[
                    stack.format_arn(
                        service="ecr",
                        account=NOVA_TRAINING_IMAGE_ACCOUNT,
                        resource="repository",
                        resource_name=NOVA_TRAINING_IMAGE_REPOSITORY,
                    )
                ],
            )
        )
        log_group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/TrainingJobs*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[log_group, f"{log_group}:log-stream:*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level "
                    "permissions (the latter is limited to SageMaker namespaces by condition); training job log "
                    "groups and streams are named by SageMaker per job.",
                    applies_to=[
                        "Resource::*",
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:.*:log-group:\/aws\/sagemaker\/TrainingJobs\*(:log-stream:\*)?$/g"
                        ),
                    ],
                ),
            ],
            apply_to_children=True,
        )


def _service_principal(service: str, stack: Stack, source_arns: list[str]) -> iam.IPrincipal:
    return iam.ServicePrincipal(service).with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": source_arns},
        }
    )


def grant_prefix_read(role: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """GetObject under `prefix` and ListBucket limited to it."""
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )


def grant_prefix_write(role: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """Put/Get/Delete objects under `prefix` (atomic outputs delete their temporary parts) and list it."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )
