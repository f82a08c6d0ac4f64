"""StorageStack: KMS with rotation, private TLS-only versioned buckets with lifecycle rules, per-env retention."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_customer_managed_key_rotates(templates: dict[str, Template], env: str) -> None:
    templates[f"nova-{env}-storage"].has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    templates[f"nova-{env}-storage"].has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/nova-{env}-data"})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_bucket_blocks_public_access_and_is_versioned_and_encrypted(
    templates: dict[str, Template], env: str
) -> None:
    buckets = templates[f"nova-{env}-storage"].find_resources("AWS::S3::Bucket")

    assert len(buckets) == 3
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_data_and_artifacts_buckets_use_the_kms_key_and_log_access(templates: dict[str, Template], env: str) -> None:
    template = templates[f"nova-{env}-storage"]
    kms_buckets = template.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        Match.object_like(
                            {
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": Match.any_value(),
                                },
                                "BucketKeyEnabled": True,
                            }
                        )
                    ]
                },
                "LoggingConfiguration": {
                    "DestinationBucketName": Match.any_value(),
                    "LogFilePrefix": Match.any_value(),
                },
            }
        },
    )
    assert len(kms_buckets) == 2


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_lifecycle_expires_noncurrent_versions_and_aborts_multipart_uploads(
    templates: dict[str, Template], env: str
) -> None:
    for bucket in templates[f"nova-{env}-storage"].find_resources("AWS::S3::Bucket").values():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any(
            rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 30
            and rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 7
            and rule["Status"] == "Enabled"
            for rule in rules
        ), rules


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_approval_tokens_expire_a_day_after_the_longest_approval_wait(templates: dict[str, Template], env: str) -> None:
    rules = [
        rule
        for bucket in templates[f"nova-{env}-storage"].find_resources("AWS::S3::Bucket").values()
        for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        if rule.get("Prefix") == "approvals/"
    ]

    # one rule, on the data bucket only: 120 h (the longest approval.timeoutHours) is 5 days, plus one
    assert rules == [
        {
            "Id": "expire-approval-tokens",
            "Prefix": "approvals/",
            "ExpirationInDays": 6,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "Status": "Enabled",
        }
    ]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_bucket_policy_denies_plain_http(templates: dict[str, Template], env: str) -> None:
    template = templates[f"nova-{env}-storage"]
    policies = template.find_resources("AWS::S3::BucketPolicy")

    assert len(policies) == 3
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in statements
        )


def test_prod_retains_buckets_and_key(templates: dict[str, Template]) -> None:
    template = templates["nova-prod-storage"]
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain"
    assert template.find_resources("Custom::S3AutoDeleteObjects") == {}


def test_dev_deletes_buckets_and_their_objects(templates: dict[str, Template]) -> None:
    template = templates["nova-dev-storage"]
    for resource in template.find_resources("AWS::S3::Bucket").values():
        assert resource["DeletionPolicy"] == "Delete"
    assert len(template.find_resources("Custom::S3AutoDeleteObjects")) == 3
