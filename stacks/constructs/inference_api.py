"""InferenceApi: the inference function (reads the active-model parameter, invokes deployments and the configured
base model) and the authenticated, throttled, validating regional REST API in front of it."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from nova_pipeline.inference.api import ApiSettings
from nova_pipeline.inference.openapi import request_properties
from nova_pipeline.promotion.record import active_model_parameter_name
from stacks.config import EnvironmentSettings
from stacks.constructs.guardrail import grant_apply_guardrail, guardrail_variables
from stacks.constructs.retention import log_group
from stacks.constructs.stage import allow_wildcards, build_function, grant_invoke, spec

INFERENCE = spec(
    "Inference",
    "inference",
    "Serves the promoted Nova model",
    ApiSettings,
    seconds=29,
    memory=1024,
    task=False,
)


class InferenceApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        key: kms.IKey,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        api_settings = settings.api
        values = {
            "NOVA_API_MAX_BODY_BYTES": str(api_settings.max_body_bytes),
            "NOVA_API_MAX_INPUT_CHARS": str(api_settings.max_input_chars),
            "NOVA_API_ALLOW_CONTEXT": str(api_settings.allow_context).lower(),
            "NOVA_API_DEBUG_LOGGING": str(api_settings.debug_logging).lower(),
            **guardrail_variables(settings),
        }
        self.function = build_function(
            self,
            INFERENCE,
            settings=settings,
            layer=layer,
            values=values,
            log_key=key,
            log_level="DEBUG" if api_settings.debug_logging else "INFO",
            reserved_concurrency=api_settings.reserved_concurrency,
        )
        self._grant(settings, key)
        self.api = self._rest_api(settings, self.function.function, key)

    def _grant(self, settings: EnvironmentSettings, key: kms.IKey) -> None:
        role, stack = self.function.role, Stack.of(self)
        parameter = stack.format_arn(
            service="ssm", resource="parameter", resource_name=active_model_parameter_name(settings.name).lstrip("/")
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter]))
        # The SecureString record, and the custom models (encrypted with this key): invoking an encrypted Nova model
        # needs Decrypt and GenerateDataKey (Nova user guide, "Encryption of custom models", model invocation).
        key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        grant_apply_guardrail(self, settings, role)
        # This environment's deployments only (tagged by the pipeline): dev's API cannot invoke prod's. It serves
        # the promoted deployment only, never a base model, so it is granted no base model.
        grant_invoke(role, self, settings, [])
        allow_wildcards(
            [role],
            "The served deployment changes with every promotion (custom-model-deployment/*, this environment's tag "
            "only).",
            r"/^Resource::arn:.*:bedrock:.*:(custom-model-deployment|provisioned-model)\/\*$/g",
        )

    def _rest_api(self, settings: EnvironmentSettings, handler: lambda_.IFunction, key: kms.IKey) -> apigateway.RestApi:
        api_settings = settings.api
        access_logs = log_group(self, "AccessLogs", settings, key)
        iam_auth = api_settings.auth == "iam"
        # "Default" is left out of logical ids: the API keeps the ids it had as the stack's "Api" child, so its URL
        # and API key do not change.
        api = apigateway.RestApi(
            self,
            "Default",
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
        model = api.add_model(
            "GenerateRequest", content_type="application/json", schema=_generate_request_schema(settings)
        )
        integration = apigateway.LambdaIntegration(handler)
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
                    reason="Regional API authenticated with IAM (or an API key with a usage plan) and throttled per "
                    "stage; WAF is left to the account.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-COG4",
                    reason="Callers authenticate with IAM SigV4 (or an API key): no Cognito user pool is involved.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="API Gateway's account-level CloudWatch role uses the AWS managed push-to-CloudWatch-Logs "
                    "policy.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                ),
            ],
            apply_to_children=True,
        )
        return api


def _generate_request_schema(settings: EnvironmentSettings) -> apigateway.JsonSchema:
    """The POST /v1/generate body API Gateway validates before the function runs."""
    return apigateway.JsonSchema(
        schema=apigateway.JsonSchemaVersion.DRAFT4,
        type=apigateway.JsonSchemaType.OBJECT,
        properties={
            "input": apigateway.JsonSchema(
                type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=settings.api.max_input_chars
            ),
            "context": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, min_length=1),
            "messages": apigateway.JsonSchema(type=apigateway.JsonSchemaType.ARRAY, min_items=1, max_items=40),
            "inferenceConfig": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
        },
        additional_properties=False,
        description=json.dumps(request_properties()),
    )
