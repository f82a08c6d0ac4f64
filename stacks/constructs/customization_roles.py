"""The service roles that Bedrock and SageMaker assume to run a customization job, and how Lambdas may pass them.

Both roles trust their service only for this account and only for its customization/training jobs (confused-deputy
protection with `aws:SourceAccount` and `aws:SourceArn`), read only the prepared-data prefix, write only the job
output prefix and use only the environment's key. A function may pass a role only to its own service
(`iam:PassedToService`).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from nova_pipeline.core import layout
from stacks.constructs.service_grants import (
    grant_checkpoint_import,
    grant_mlflow_logging,
    grant_teachers,
    grant_training_runtime,
)


class CustomizationRoles(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        mlflow_tracking_arn: str | None = None,
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
                    # CreateCustomModel (import of a SageMaker checkpoint): the model, and the import job the
                    # model-import role example of the Bedrock user guide names.
                    stack.format_arn(service="bedrock", resource="custom-model", resource_name="*"),
                    stack.format_arn(service="bedrock", resource="model-import-job", resource_name="*"),
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
            # Both services list the training data they read (Bedrock's service-role policy: GetObject and
            # ListBucket on the training data; SageMaker channels are S3 prefixes it lists).
            grant_prefix_read(role, data_bucket, layout.PREPARED, listing=True)
            # Bedrock lists its output location too (GetObject, PutObject and ListBucket on the output bucket);
            # a SageMaker training job only writes its output (CreateTrainingJob execution role permissions).
            grant_prefix_write(role, artifacts_bucket, layout.JOBS, listing=role is self.bedrock)
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
        grant_prefix_read(self.sagemaker, artifacts_bucket, layout.RECIPES, listing=True)
        grant_training_runtime(self.sagemaker, stack)
        if mlflow_tracking_arn:
            grant_mlflow_logging(self.sagemaker, mlflow_tracking_arn)
        grant_checkpoint_import(self.bedrock, stack)
        grant_teachers(self.bedrock, stack)

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


def _service_principal(service: str, stack: Stack, source_arns: list[str]) -> iam.IPrincipal:
    return iam.ServicePrincipal(service).with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": source_arns},
        }
    )


def grant_prefix_read(role: iam.Role, bucket: s3.IBucket, prefix: str, *, listing: bool) -> None:
    """GetObject under `prefix`, and with `listing` ListBucket limited to it (only for code that lists)."""
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]))
    if listing:
        grant_prefix_listing(role, bucket, prefix)


def grant_prefix_write(role: iam.Role, bucket: s3.IBucket, prefix: str, *, listing: bool) -> None:
    """Put/Get/Delete objects under `prefix` (atomic outputs delete their temporary parts); `listing` as above."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        )
    )
    if listing:
        grant_prefix_listing(role, bucket, prefix)


def grant_prefix_listing(role: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """ListBucket, limited by the `s3:prefix` condition to `prefix`."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )
