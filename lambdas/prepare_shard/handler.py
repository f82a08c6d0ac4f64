"""PrepareShard: one object of a fanned-out dataset (an item of the PrepareShards Distributed Map)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.prepare.service import prepare_shard


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = event["object"]
    summary = prepare_shard(
        ExecutionInput.model_validate(event["input"]),
        event["runId"],
        item["Key"],
        int(item.get("Size", 0)),
        s3=client("s3"),
        data_bucket=function_settings().require("data_bucket"),
    )
    if summary["shard"] is None:
        logger.info("Not a data object; skipped", extra={"key": summary["key"]})
    else:
        logger.info("Shard prepared", extra={"shard": summary["shard"], "records": summary["records"]})
    return summary
