"""PrepareShard: normalize, sanitize and validate one object of a fanned-out dataset into a shard."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.events import ShardRequest
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import DataSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.service import prepare_shard

SETTINGS = load_settings(DataSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=ShardRequest)
def lambda_handler(request: ShardRequest, context: LambdaContext) -> dict[str, Any]:
    item = request.item
    summary = prepare_shard(
        request.input, request.run_id, item.key, item.size, s3=client("s3"), data_bucket=SETTINGS.data_bucket
    )
    logger.info("Shard prepared", extra={"key": summary["key"], "shard": summary["shard"]})
    return summary
