"""StorageStack: the customer-managed key and the three buckets of an environment.

- data bucket and artifacts bucket, with the prefixes of `nova_pipeline.core.layout`
- access-log bucket: server access logs of the two others
"""

from __future__ import annotations

import math

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from nova_pipeline.contract.execution_input import MAX_APPROVAL_SECONDS
from nova_pipeline.core.layout import APPROVALS
from stacks.config import EnvironmentSettings
from stacks.constructs.retention import removal_policy


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        removal = removal_policy(settings)

        self.key = kms.Key(
            self,
            "DataKey",
            description=f"{settings.prefix}: training data, job outputs, reports",
            enable_key_rotation=True,
            alias=f"alias/{settings.prefix}-data",
            removal_policy=removal,
        )
        if settings.logs_encrypted:
            # CloudWatch Logs encrypts the environment's log groups with this key: the key policy must allow the
            # regional service principal, limited by the encryption context to this account's log groups
            # (CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS", step 2).
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                    actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                                service="logs",
                                resource="log-group",
                                resource_name="*",
                                arn_format=ArnFormat.COLON_RESOURCE_NAME,
                            )
                        }
                    },
                )
            )
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logs can only be delivered to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=settings.destroy_on_delete,
        )
        NagSuppressions.add_resource_suppressions(
            self.access_log_bucket,
            [NagPackSuppression(id="AwsSolutions-S1", reason="This is the access-log bucket; it does not log itself.")],
        )
        # Data-triggered runs: the data bucket sends its events to EventBridge (DataTriggers' rule matches them).
        # A pending approval's task token is only good while its execution waits (at most 120 h): it is removed
        # a day after the longest wait, and its old versions the day after that.
        approvals = s3.LifecycleRule(
            id="expire-approval-tokens",
            prefix=APPROVALS,
            expiration=Duration.days(math.ceil(MAX_APPROVAL_SECONDS / 86_400) + 1),
            noncurrent_version_expiration=Duration.days(1),
        )
        self.data_bucket = self._bucket("Data", "data/", event_bridge=settings.triggers.enabled, rules=(approvals,))
        self.artifacts_bucket = self._bucket("Artifacts", "artifacts/")

        if settings.triggers.enabled:
            # CDK turns EventBridge delivery on with its bucket-notifications custom resource (one per stack).
            NagSuppressions.add_resource_suppressions_by_path(
                self,
                f"/{self.node.path}/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role",
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM4",
                        reason="CDK's bucket-notifications handler (it only turns on the data bucket's EventBridge "
                        "delivery at deploy time) uses the basic execution managed policy.",
                        applies_to=[
                            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                        ],
                    )
                ],
            )
        if settings.destroy_on_delete:
            NagSuppressions.add_resource_suppressions_by_path(
                self,
                f"/{self.node.path}/Custom::S3AutoDeleteObjectsCustomResourceProvider/Role",
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM4",
                        reason="CDK's auto-delete-objects provider (dev only, removal policy destroy) uses the "
                        "basic execution managed policy; it exists only to empty the buckets on stack deletion.",
                        applies_to=[
                            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                        ],
                    )
                ],
            )

        CfnOutput(self, "DataBucketName", value=self.data_bucket.bucket_name)
        CfnOutput(self, "ArtifactsBucketName", value=self.artifacts_bucket.bucket_name)
        CfnOutput(self, "DataKeyArn", value=self.key.key_arn)

    def _bucket(
        self,
        construct_id: str,
        log_prefix: str,
        *,
        event_bridge: bool = False,
        rules: tuple[s3.LifecycleRule, ...] = (),
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                *rules,
            ],
            removal_policy=removal_policy(self.settings),
            auto_delete_objects=self.settings.destroy_on_delete,
            event_bridge_enabled=event_bridge or None,
        )
