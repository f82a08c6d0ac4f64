"""The inference API behind API Gateway: POST /v1/generate, GET /v1/model, GET /v1/health.

The routes, their validation and error mapping live in `nova_pipeline.inference.routes`; this handler adds the
Powertools structured logs (request id, cold start) and flushes the request's metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.inference.routes import resolve

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["lambda_handler"]


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(event, context.aws_request_id)
