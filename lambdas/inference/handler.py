"""The inference API behind API Gateway: POST /v1/generate, GET /v1/model, GET /v1/health.

The routes and their error mapping live in `nova_pipeline.inference.routes`; this handler only refuses an oversized
body before parsing it, then resolves the request.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.inference.api import body_too_large
from nova_pipeline.inference.routes import app

__all__ = ["app", "lambda_handler"]


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    too_large = body_too_large(event)
    if too_large:
        return {
            "statusCode": 413,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": too_large, "requestId": context.aws_request_id}),
        }
    return app.resolve(event, context)
