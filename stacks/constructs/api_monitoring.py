"""ApiMonitoring: the inference API's alarms (5XX rate, 4XX spike, p90 latency, function throttles), each notifying
the environment's topic, and its dashboard (requests, errors, latency, Bedrock tokens).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import EnvironmentSettings
from stacks.constructs.pipeline_function import METRICS_NAMESPACE

LATENCY_P90_ALARM_MS = 3000
FOUR_XX_SPIKE_PER_5_MIN = 100


class ApiMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        api: apigateway.RestApi,
        function: lambda_.IFunction,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._dimensions = {"ApiName": api.rest_api_name, "Stage": settings.name}
        self.alarms = self._alarms(function)
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(topic))
        # "Default" is left out of logical ids: the named dashboard keeps the id it had as the stack's "Dashboard"
        # child (a new id would create a second dashboard of the same name).
        self.dashboard = cloudwatch.Dashboard(self, "Default", dashboard_name=f"{settings.prefix}-inference")
        tokens = {"service": "inference"}
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Requests", left=[self._metric("Count", "Sum")]),
            cloudwatch.GraphWidget(
                title="Errors", left=[self._metric("4XXError", "Sum"), self._metric("5XXError", "Sum")]
            ),
            cloudwatch.GraphWidget(
                title="Latency (ms)",
                left=[
                    self._metric("Latency", "p50"),
                    self._metric("Latency", "p90"),
                    self._metric("IntegrationLatency", "p90"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Bedrock tokens",
                left=[
                    self._metric("InputTokens", "Sum", METRICS_NAMESPACE, tokens),
                    self._metric("OutputTokens", "Sum", METRICS_NAMESPACE, tokens),
                ],
            ),
        )

    def _metric(
        self, name: str, statistic: str, namespace: str = "AWS/ApiGateway", dimensions: dict[str, str] | None = None
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            statistic=statistic,
            dimensions_map=self._dimensions if dimensions is None else dimensions,
            period=Duration.minutes(5),
        )

    def _alarms(self, function: lambda_.IFunction) -> list[cloudwatch.Alarm]:
        five_xx_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": self._metric("5XXError", "Sum"), "requests": self._metric("Count", "Sum")},
            label="5XX rate (%)",
            period=Duration.minutes(5),
        )
        return [
            five_xx_rate.create_alarm(
                self,
                "ServerErrorRate",
                threshold=1,
                evaluation_periods=1,
                alarm_description="More than 1% of inference requests failed with 5XX",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            self._metric("4XXError", "Sum").create_alarm(
                self,
                "ClientErrorSpike",
                threshold=FOUR_XX_SPIKE_PER_5_MIN,
                evaluation_periods=1,
                alarm_description="A spike of 4XX responses (bad requests, throttling)",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            self._metric("Latency", "p90").create_alarm(
                self,
                "LatencyP90",
                threshold=LATENCY_P90_ALARM_MS,
                evaluation_periods=3,
                alarm_description=f"p90 latency above {LATENCY_P90_ALARM_MS} ms for 15 minutes",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            function.metric_throttles(period=Duration.minutes(5), statistic="Sum").create_alarm(
                self,
                "LambdaThrottles",
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                alarm_description="The inference function was throttled",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
