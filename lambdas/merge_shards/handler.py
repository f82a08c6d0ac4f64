"""MergeShards: deduplicate, split and cap the shards of a fanned-out dataset; write the manifest last."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import MergeRequest
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.settings import DataSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.service import merge_map_results

SETTINGS = load_settings(DataSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=MergeRequest)
def lambda_handler(request: MergeRequest, context: LambdaContext) -> dict[str, Any]:
    result = merge_map_results(
        request.input, request.run_id, request.shards, s3=client("s3"), data_bucket=SETTINGS.data_bucket
    )
    logger.info("Shards merged", extra={"manifest": result.manifest_uri, "records": result.manifest["records"]})
    metrics.add_metric(name="PreparedRecords", unit="Count", value=result.stats.accepted)
    return result.state()
