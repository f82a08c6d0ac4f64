"""GarbageCollect: the scheduled clean-up; deletes the environment's expired custom models (see promotion/gc.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import GcRequest
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import GcSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.promotion.gc import GcPolicy, collect_and_delete

SETTINGS = load_settings(GcSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=GcRequest)
def lambda_handler(request: GcRequest, context: LambdaContext) -> dict[str, Any]:
    policy = GcPolicy(SETTINGS.environment, SETTINGS.retention_days, SETTINGS.keep_versions)
    report = collect_and_delete(
        client("bedrock"), client("ssm"), policy, now=datetime.now(UTC), dry_run=request.dry_run
    )
    logger.info(report.summary(), extra=report.dump())
    if not request.dry_run:
        metrics.add_metric(name="CustomModelsDeleted", unit="Count", value=len(report.deleted))
        metrics.add_metric(name="StorageSavedUsdPerMonth", unit="None", value=report.monthly_savings_usd)
    return report.dump()
