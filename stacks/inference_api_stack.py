"""InferenceApiStack: the promoted model behind an authenticated regional REST API, with alarms and a dashboard."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import EnvironmentSettings
from stacks.constructs.api_monitoring import ApiMonitoring
from stacks.constructs.inference_api import InferenceApi


class InferenceApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        key: kms.IKey,
        topic: sns.ITopic,
        layer: lambda_.ILayerVersion,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # The ids "Api" and "Dashboard" keep the deployed logical ids of the REST API (its URL) and the named dashboard.
        self.inference = InferenceApi(self, "Api", settings=settings, key=key, layer=layer)
        self.function, self.api = self.inference.function, self.inference.api
        self.monitoring = ApiMonitoring(
            self, "Dashboard", settings=settings, api=self.api, function=self.function.function, topic=topic
        )
        self.alarms = self.monitoring.alarms
        CfnOutput(self, "ApiUrl", value=self.api.url)
