"""Bedrock customization job states: StartBedrockJob (start, idempotent) and PollBedrockJob (status)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core import layout
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs import bedrock


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def start_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    assert state.input is not None and state.data is not None, "StartBedrockJob runs after PrepareData"
    resources = bedrock.JobResources(
        environment=settings.environment,
        role_arn=settings.require("bedrock_role_arn"),
        output_uri=f"s3://{settings.require('artifacts_bucket')}/{layout.JOBS}",
        kms_key_arn=settings.kms_key_arn,
        grader_function_arn=settings.grader_function_arn,
    )
    request = bedrock.bedrock_job_request(state.input, state.data, state.execution, resources)
    job = bedrock.start_bedrock_job(client("bedrock"), request, wait_seconds=settings.poll_interval_seconds)
    logger.info("Customization job", extra={"jobArn": job.job_arn, "reused": not job.started_by_this_execution})
    if job.started_by_this_execution:
        metrics.add_metric(name="CustomizationJobsStarted", unit="Count", value=1)
    return job.dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def poll_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.job is not None, "PollBedrockJob runs after StartBedrockJob"
    job = bedrock.poll_bedrock_job(client("bedrock"), state.job, wait_seconds=function_settings().poll_interval_seconds)
    logger.info("Customization job status", extra={"jobArn": job.job_arn, "status": job.status})
    return job.dump()
