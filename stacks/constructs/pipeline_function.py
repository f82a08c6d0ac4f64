"""One construct creates every pipeline function with the shared defaults.

Each function gets: its own role (logs to its own log group, X-Ray; nothing else until a construct grants it), the
newest Python runtime on arm64, the shared layer, Powertools environment variables and `NOVA_ENVIRONMENT`, exactly the
`NOVA_*` variables its handler reads (passed explicitly), active tracing, JSON logs in a log group with the
environment's retention, and an explicit timeout, memory size and /tmp size.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.config import EnvironmentSettings
from stacks.constructs.lambda_layer import ARCHITECTURE, LAMBDAS_DIR, RUNTIME
from stacks.constructs.retention import log_group

METRICS_NAMESPACE = "NovaCustomization"
DEFAULT_TIMEOUT = Duration.seconds(30)
COMMON_VARIABLES = frozenset({"NOVA_ENVIRONMENT"})  # set on every function; the rest is passed per function


class PipelineFunction(Construct):
    """A Lambda function whose thin handler is `handler` in `lambdas/<handler_dir>/handler.py`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        layer: lambda_.ILayerVersion,
        handler_dir: str,
        description: str,
        handler: str = "lambda_handler",
        timeout: Duration = DEFAULT_TIMEOUT,
        memory_size: int = 512,
        ephemeral_mib: int = 512,
        environment: Mapping[str, str],
        log_key: kms.IKey,
        log_level: str = "INFO",
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        unexpected = sorted(name for name in environment if not name.startswith("NOVA_") or name in COMMON_VARIABLES)
        if unexpected:
            raise ValueError(
                f"{construct_id}: environment takes only handler-specific NOVA_* variables, not {unexpected}"
            )
        self.log_group = log_group(self, "Logs", settings, log_key)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{settings.prefix} {handler_dir} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"handler.{handler}",
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / handler_dir), exclude=["__pycache__", "*.pyc"]),
            layers=[layer],
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            ephemeral_storage_size=Size.mebibytes(ephemeral_mib),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": handler_dir,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_level,
                "NOVA_ENVIRONMENT": settings.name,
                **environment,
            },
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )
