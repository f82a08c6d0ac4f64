"""StartSageMakerEvaluation: one Nova evaluation-recipe training job per requested task, on the trained checkpoint."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import SageMakerEvaluationSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.sagemaker_evaluation import start_sagemaker_evaluation
from nova_pipeline.jobs.training import TrainingResources

SETTINGS = load_settings(SageMakerEvaluationSettings)


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
    )
    evaluation = start_sagemaker_evaluation(
        state,
        resources,
        data_bucket=SETTINGS.data_bucket,
        s3=client("s3"),
        sagemaker=client("sagemaker"),
        wait_seconds=SETTINGS.poll_interval_seconds,
    )
    logger.info("Evaluation jobs", extra={"jobs": [job.job_name for job in evaluation.jobs]})
    metrics.add_metric(name="EvaluationJobsStarted", unit="Count", value=len(evaluation.jobs))
    return evaluation.dump()
