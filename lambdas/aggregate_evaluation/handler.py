"""AggregateEvaluation: metrics, cost, the gate's verdict and the report (JSON and HTML)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import AggregateRequest
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import AggregateSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.evaluation.stages import aggregate_evaluation

SETTINGS = load_settings(AggregateSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AggregateRequest)
def lambda_handler(state: AggregateRequest, context: LambdaContext) -> dict[str, Any]:
    result = aggregate_evaluation(
        state,
        state.evaluation_plan,
        data_bucket=SETTINGS.data_bucket,
        environment=SETTINGS.environment,
        gate_defaults=SETTINGS.gate_defaults,
        simulated=SETTINGS.simulated,
        s3=client("s3"),
        ssm=client("ssm"),
        tracking_arn=SETTINGS.mlflow_tracking_arn,
        artifact_store_uri=SETTINGS.mlflow_artifact_store_uri,
    )
    logger.info("Evaluation aggregated", extra=result.model_dump(exclude={"report_url"}))
    if result.tracking is not None and result.tracking.status == "failed":
        metrics.add_metric(name="TrackingFailures", unit="Count", value=1)
    verdict = "CandidatesPromoted" if result.verdict == "promoted" else "CandidatesRejected"
    metrics.add_metric(name=verdict, unit="Count", value=1)
    return result.dump()
