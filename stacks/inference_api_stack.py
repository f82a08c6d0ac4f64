"""InferenceApiStack: the promoted model behind an authenticated regional REST API, with alarms and a dashboard."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.inference.models import GenerateRequest
from nova_pipeline.promotion.record import active_model_parameter_name
from stacks.config import EnvironmentSettings
from stacks.constructs.pipeline_function import METRICS_NAMESPACE, PipelineFunction
from stacks.constructs.retention import log_retention, removal_policy

LATENCY_P90_ALARM_MS = 3000
FOUR_XX_SPIKE_PER_5_MIN = 100


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
        api_settings = settings.api
        self.function = PipelineFunction(
            self,
            "Inference",
            settings=settings,
            layer=layer,
            handler_dir="inference",
            description="Serves the promoted Nova model",
            timeout=Duration.seconds(29),
            memory_size=1024,
            environment={
                "NOVA_API_MAX_BODY_BYTES": str(api_settings.max_body_bytes),
                "NOVA_API_MAX_INPUT_CHARS": str(api_settings.max_input_chars),
                "NOVA_API_DEBUG_LOGGING": str(api_settings.debug_logging).lower(),
                "POWERTOOLS_LOG_LEVEL": "DEBUG" if api_settings.debug_logging else "INFO",
            },
        )
        self._grant(settings, key)
        self.api = self._rest_api(settings)
        self._alarms(settings, topic)
        self._dashboard(settings)
        CfnOutput(self, "ApiUrl", value=self.api.url)

    def _grant(self, settings: EnvironmentSettings, key: kms.IKey) -> None:
        role = self.function.role
        parameter = self.format_arn(
            service="ssm", resource="parameter", resource_name=active_model_parameter_name(settings.name).lstrip("/")
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter]))
        key.grant(role, "kms:Decrypt")
        base = MODELS[settings.default_base_model]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                resources=[
                    self.format_arn(service="bedrock", resource="custom-model-deployment", resource_name="*"),
                    self.format_arn(
                        service="bedrock", resource="inference-profile", resource_name=base.inference_profile_id
                    ),
                    self.format_arn(
                        service="bedrock",
                        region="*",
                        account="",
                        resource="foundation-model",
                        resource_name=base.inference_profile_id.removeprefix("us."),
                    ),
                ],
            )
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="The served deployment changes with every promotion (custom-model-deployment/*); the "
                    "configured base model's inference profile routes to its foundation model in any US region.",
                    applies_to=[
                        RegexAppliesTo(regex=r"/^Resource::arn:.*:bedrock:.*:custom-model-deployment\/\*$/g"),
                        RegexAppliesTo(regex=r"/^Resource::arn:.*:bedrock:\*::foundation-model\/amazon\.nova-.*$/g"),
                    ],
                )
            ],
            apply_to_children=True,
        )

    def _rest_api(self, settings: EnvironmentSettings) -> apigateway.RestApi:
        api_settings = settings.api
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention(settings), removal_policy=removal_policy(settings)
        )
        iam_auth = api_settings.auth == "iam"
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{settings.prefix}-inference",
            description=f"Nova customization ({settings.name}): the promoted model",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name=settings.name,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=api_settings.throttle_rate_limit,
                throttling_burst_limit=api_settings.throttle_burst_limit,
            ),
            default_method_options=apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.IAM if iam_auth else apigateway.AuthorizationType.NONE,
                api_key_required=not iam_auth,
            ),
        )
        validator = api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
        schema = GenerateRequest.model_json_schema(by_alias=True)
        model = api.add_model(
            "GenerateRequest",
            content_type="application/json",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4,
                type=apigateway.JsonSchemaType.OBJECT,
                properties={
                    "input": apigateway.JsonSchema(
                        type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=api_settings.max_input_chars
                    ),
                    "context": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, min_length=1),
                    "messages": apigateway.JsonSchema(type=apigateway.JsonSchemaType.ARRAY, min_items=1, max_items=40),
                    "inferenceConfig": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
                },
                additional_properties=False,
                description=json.dumps(sorted(schema.get("properties", {}))),
            ),
        )
        integration = apigateway.LambdaIntegration(self.function.function)
        v1 = api.root.add_resource("v1")
        v1.add_resource("generate").add_method(
            "POST", integration, request_validator=validator, request_models={"application/json": model}
        )
        v1.add_resource("model").add_method("GET", integration, request_validator=validator)
        v1.add_resource("health").add_method("GET", integration, request_validator=validator)
        if not iam_auth:
            plan = api.add_usage_plan(
                "UsagePlan",
                name=f"{settings.prefix}-inference",
                throttle=apigateway.ThrottleSettings(
                    rate_limit=api_settings.throttle_rate_limit, burst_limit=api_settings.throttle_burst_limit
                ),
            )
            plan.add_api_stage(stage=api.deployment_stage)
            plan.add_api_key(api.add_api_key("ApiKey"))
        NagSuppressions.add_resource_suppressions(
            api,
            [
                NagPackSuppression(
                    id="AwsSolutions-APIG3",
                    reason="Regional API authenticated with IAM (or an API "
                    "key with a usage plan) and throttled per stage; WAF is left to the account.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-COG4",
                    reason="Callers authenticate with IAM SigV4 (or an API key): no Cognito user pool is involved.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="API Gateway's account-level CloudWatch role uses "
                    "the AWS managed push-to-CloudWatch-Logs policy.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                ),
            ],
            apply_to_children=True,
        )
        return api

    def _alarms(self, settings: EnvironmentSettings, topic: sns.ITopic) -> None:
        api_name = self.api.rest_api_name
        dimensions = {"ApiName": api_name, "Stage": settings.name}

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=Duration.minutes(5),
            )

        five_xx_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": metric("5XXError", "Sum"), "requests": metric("Count", "Sum")},
            label="5XX rate (%)",
            period=Duration.minutes(5),
        )
        alarms = [
            five_xx_rate.create_alarm(
                self,
                "ServerErrorRate",
                threshold=1,
                evaluation_periods=1,
                alarm_description="More than 1% of inference requests failed with 5XX",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            metric("4XXError", "Sum").create_alarm(
                self,
                "ClientErrorSpike",
                threshold=FOUR_XX_SPIKE_PER_5_MIN,
                evaluation_periods=1,
                alarm_description="A spike of 4XX responses (bad requests, throttling)",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            metric("Latency", "p90").create_alarm(
                self,
                "LatencyP90",
                threshold=LATENCY_P90_ALARM_MS,
                evaluation_periods=3,
                alarm_description=f"p90 latency above {LATENCY_P90_ALARM_MS} ms for 15 minutes",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            self.function.function.metric_throttles(period=Duration.minutes(5), statistic="Sum").create_alarm(
                self,
                "LambdaThrottles",
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                alarm_description="The inference function was throttled",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(actions.SnsAction(topic))
        self.alarms = alarms

    def _dashboard(self, settings: EnvironmentSettings) -> None:
        dimensions = {"ApiName": self.api.rest_api_name, "Stage": settings.name}

        def metric(
            name: str, statistic: str, namespace: str = "AWS/ApiGateway", dims: dict[str, str] | None = None
        ) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                statistic=statistic,
                dimensions_map=dims if dims is not None else dimensions,
                period=Duration.minutes(5),
            )

        tokens_dims = {"service": "inference"}
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{settings.prefix}-inference")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Requests", left=[metric("Count", "Sum")]),
            cloudwatch.GraphWidget(title="Errors", left=[metric("4XXError", "Sum"), metric("5XXError", "Sum")]),
            cloudwatch.GraphWidget(
                title="Latency (ms)",
                left=[metric("Latency", "p50"), metric("Latency", "p90"), metric("IntegrationLatency", "p90")],
            ),
            cloudwatch.GraphWidget(
                title="Bedrock tokens",
                left=[
                    metric("InputTokens", "Sum", METRICS_NAMESPACE, tokens_dims),
                    metric("OutputTokens", "Sum", METRICS_NAMESPACE, tokens_dims),
                ],
            ),
        )
