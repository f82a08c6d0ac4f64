"""The inference API behind API Gateway: POST /v1/generate, GET /v1/model, GET /v1/health.

The routes and their error mapping live in `nova_pipeline.inference.routes`; this handler only refuses what cannot
be served (unknown route 404, wrong method 405, oversized body 413, not JSON 415, nested too deep 400) before
parsing, then resolves the request.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.inference.api import refusal
from nova_pipeline.inference.routes import ROUTES, app

__all__ = ["app", "lambda_handler"]


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = refusal(event, ROUTES)
    if refused is not None:
        return {
            "statusCode": refused.status,
            "headers": {"Content-Type": "application/json", **refused.headers},
            "body": json.dumps({"message": refused.message, "requestId": context.aws_request_id}),
        }
    return app.resolve(event, context)
