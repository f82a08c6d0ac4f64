"""Notifications: the environment's SNS topic (failures, alarms, job state changes) and its email subscription, and
the EventBridge rule that forwards this environment's Bedrock customization job state changes to it.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import EnvironmentSettings


def grant_publish(topic: sns.ITopic, key: kms.IKey, role: iam.IRole) -> None:
    """sns:Publish on the topic and the two key actions SNS uses for an encrypted topic (SNS developer guide,
    "Encryption at rest", publisher permissions), without the `kms:GenerateDataKey*` wildcard of `grant_publish`."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
    key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        # "Default" is left out of logical ids: the topic keeps the id it had as the stack's "Notifications" child,
        # so its ARN (exported to the API stack's alarms) and its confirmed subscriptions survive this construct.
        # Encrypted with the environment's key: every publisher needs kms:GenerateDataKey* and kms:Decrypt on it,
        # AWS services through the key policy (SNS developer guide, "Enable compatibility between event sources from
        # AWS services and encrypted topics"): EventBridge for the rule below, CloudWatch for the API's alarms.
        self.topic = sns.Topic(
            self,
            "Default",
            display_name=f"Nova customization ({settings.name})",
            enforce_ssl=True,
            master_key=key,
        )
        self.topic.grant_publish(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        rule = events.Rule(
            self,
            "CustomizationJobEvents",
            description=f"Forwards {settings.prefix} customization job state changes to the notification topic",
            event_pattern=events.EventPattern(
                source=["aws.bedrock"],
                detail_type=["Model Customization Job State Change"],
                detail={"jobName": [{"prefix": f"{settings.prefix}-"}]},
            ),
        )
        rule.add_target(
            targets.SnsTopic(
                self.topic,
                message=events.RuleTargetInput.from_text(
                    f"Bedrock customization job {events.EventField.from_path('$.detail.jobName')} is "
                    f"{events.EventField.from_path('$.detail.jobStatus')} "
                    f"({events.EventField.from_path('$.detail.jobArn')})."
                ),
            )
        )
