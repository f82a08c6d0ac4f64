"""StartTrainingJob: the Nova recipe merged and uploaded, then this execution's SageMaker training job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import TrainingJobSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.training import TrainingResources, start_training

SETTINGS = load_settings(TrainingJobSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    resources = TrainingResources(
        environment=SETTINGS.environment,
        region=SETTINGS.region,
        role_arn=SETTINGS.sagemaker_role_arn,
        artifacts_bucket=SETTINGS.artifacts_bucket,
        kms_key_arn=SETTINGS.kms_key_arn,
        reward_function_arn=SETTINGS.grader_function_arn,
        data_bucket=SETTINGS.data_bucket,
        mlflow_tracking_arn=SETTINGS.mlflow_tracking_arn,
    )
    job = start_training(
        state, resources, s3=client("s3"), sagemaker=client("sagemaker"), wait_seconds=SETTINGS.poll_interval_seconds
    )
    logger.info("Training job", extra={"job": job.job_name, "reused": job.adopted})
    metrics.add_metric(name="TrainingJobsStarted", unit="Count", value=1)
    return job.dump()
