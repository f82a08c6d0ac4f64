"""StartBedrockJob: this execution's Bedrock customization job (SFT, RFT or distillation), started once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core import layout
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import BedrockJobSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.bedrock import JobResources, start_customization

SETTINGS = load_settings(BedrockJobSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    resources = JobResources(
        environment=SETTINGS.environment,
        role_arn=SETTINGS.bedrock_role_arn,
        output_uri=f"s3://{SETTINGS.artifacts_bucket}/{layout.JOBS}",
        kms_key_arn=SETTINGS.kms_key_arn,
        grader_function_arn=SETTINGS.grader_function_arn,
        data_bucket=SETTINGS.data_bucket,
    )
    job = start_customization(
        state, resources, bedrock=client("bedrock"), s3=client("s3"), wait_seconds=SETTINGS.poll_interval_seconds
    )
    logger.info("Customization job", extra={"jobArn": job.job_arn, "reused": job.adopted})
    if not job.adopted:
        metrics.add_metric(name="CustomizationJobsStarted", unit="Count", value=1)
    return job.dump()
