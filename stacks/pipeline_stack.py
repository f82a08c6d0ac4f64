"""PipelineStack: the customization roles, the shared layer and the pipeline functions of an environment.

The stack composes constructs and wires grants; each capability lives in its construct.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import EnvironmentSettings
from stacks.constructs.customization_roles import CustomizationRoles
from stacks.constructs.lambda_layer import shared_layer
from stacks.constructs.pipeline_function import PipelineFunction
from stacks.storage_stack import StorageStack


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        storage: StorageStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.roles = CustomizationRoles(
            self,
            "CustomizationRoles",
            data_bucket=storage.data_bucket,
            artifacts_bucket=storage.artifacts_bucket,
            key=storage.key,
        )
        self.topic = sns.Topic(
            self, "Notifications", display_name=f"Nova customization ({settings.name})", enforce_ssl=True
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self.layer = layer = shared_layer(self, "SharedLayer")
        self.validate_input = PipelineFunction(
            self,
            "ValidateInput",
            settings=settings,
            layer=layer,
            handler_dir="validate_input",
            description="Validates an execution input and resolves its defaults",
            timeout=Duration.seconds(10),
            memory_size=256,
        )

        CfnOutput(self, "BedrockCustomizationRoleArn", value=self.roles.bedrock.role_arn)
        CfnOutput(self, "SageMakerTrainingRoleArn", value=self.roles.sagemaker.role_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "ValidateInputFunctionName", value=self.validate_input.function.function_name)
