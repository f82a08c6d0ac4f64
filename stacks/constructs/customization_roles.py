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

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.core import layout
from nova_pipeline.jobs.bedrock import PROFILE_ONLY_TEACHERS

# The Regions the US cross-Region inference profiles route to (Bedrock user guide, "Supported Regions and models for
# inference profiles").
US_PROFILE_REGIONS = ("us-east-1", "us-east-2", "us-west-2")
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
        # Bedrock: reads SSE-KMS training data, writes outputs, and encrypts the custom model with the key, creating
        # a grant (Bedrock user guide, "Encryption of custom models": Decrypt, GenerateDataKey, DescribeKey,
        # CreateGrant for the customization role).
        key.grant(self.bedrock, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")
        # SageMaker: reads SSE-KMS channels, and with OutputDataConfig.KmsKeyId encrypts the output, which needs
        # kms:Encrypt (SageMaker API reference, OutputDataConfig.KmsKeyId) besides the data keys S3 uses.
        key.grant(self.sagemaker, "kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt")
        grant_prefix_read(self.sagemaker, artifacts_bucket, layout.RECIPES)
        self._grant_training_runtime(self.sagemaker, stack)
        self._grant_checkpoint_import(self.bedrock, stack)
        self._grant_teachers(self.bedrock, stack)

    @staticmethod
    def _grant_teachers(role: iam.Role, stack: Stack) -> None:
        """A distillation job invokes its teacher as this role. A teacher reached through its cross-Region profile
        needs the profile and the foundation model in every Region the profile routes to (Bedrock user guide,
        "Prerequisites for model distillation"); the US profiles span us-east-1, us-east-2 and us-west-2."""
        resources = []
        for spec in MODELS.values():
            if not spec.distillation_teacher:
                continue
            model = spec.inference_profile_id.removeprefix("us.")
            if spec.short_name in PROFILE_ONLY_TEACHERS:
                profile = stack.format_arn(
                    service="bedrock", resource="inference-profile", resource_name=spec.inference_profile_id
                )
                regions = US_PROFILE_REGIONS
                resources.append(profile)
            else:
                regions = (stack.region,)
            resources += [
                stack.format_arn(
                    service="bedrock", region=r, account="", resource="foundation-model", resource_name=model
                )
                for r in regions
            ]
        role.add_to_policy(iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=resources))

    @staticmethod
    def _grant_checkpoint_import(role: iam.Role, stack: Stack) -> None:
        """CreateCustomModel from a SageMaker-trained Nova checkpoint reads the Amazon-managed escrow bucket SageMaker
        wrote it to, as this role (Bedrock user guide, "Create a service role for importing pre-trained models":
        s3:GetObject and s3:ListBucket on the bucket of the model artifacts; escrow buckets are named
        `customer-escrow-<account>-smtj-<id>` for training jobs, as in the aws/nova-forge-sdk IAM templates)."""
        bucket = f"arn:{stack.partition}:s3:::customer-escrow-{stack.account}-smtj-*"
        role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket]))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket}/*"]))
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="SageMaker names the Amazon-managed escrow bucket of this account's training checkpoints "
                    "customer-escrow-<account>-smtj-<id>; the id is SageMaker's, so the name ends in a wildcard.",
                    applies_to=[RegexAppliesTo(regex=r"/^Resource::arn:.*:s3:::customer-escrow-.*-smtj-\*(\/\*)?$/g")],
                )
            ],
            apply_to_children=True,
        )

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
