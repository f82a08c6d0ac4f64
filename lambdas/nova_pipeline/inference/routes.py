"""The inference API's routes: POST /v1/generate, GET /v1/model, GET /v1/health, and the error mapping.

Each typed domain exception maps to its HTTP status with `@app.exception_handler`; the Lambda handler
(`lambdas/inference/handler.py`) only guards the body size and resolves.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.inference.api import ApiSettings, active_record, api_settings, validation_message
from nova_pipeline.inference.models import GenerateRequest, GenerateResponse, HealthResponse, ModelResponse
from nova_pipeline.inference.service import ApiError, NoModelPromoted, generate

app = APIGatewayRestResolver(enable_validation=True)
# Every route and its methods: anything else is a 404 or a 405 before routing (`api.refusal`), never a 500.
ROUTES: dict[str, frozenset[str]] = {
    "/v1/generate": frozenset({"POST"}),
    "/v1/model": frozenset({"GET"}),
    "/v1/health": frozenset({"GET"}),
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response[Any]:
    body = {"message": message, "requestId": app.lambda_context.aws_request_id if app.lambda_context else None}
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers or {}
    )


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response[Any]:
    return _error(400, validation_message(error.errors()))


@app.exception_handler(ApiError)
def _api_error(error: ApiError) -> Response[Any]:
    return _error(error.status, error.message, error.headers or None)


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[Any]:
    logger.exception("Unhandled error")
    return _error(500, "internal error; quote the request id when reporting it")


@app.get("/v1/health")
def health() -> HealthResponse:
    try:
        promoted = active_record() is not None
    except NoModelPromoted:
        promoted = False
    return HealthResponse(status="ok", model_promoted=promoted)


@app.get("/v1/model")
def model() -> ModelResponse:
    record = active_record()
    return ModelResponse(
        deployment_arn=record.deployment_arn,
        custom_model_arn=record.custom_model_arn,
        base_model=record.base_model,
        version=record.version,
        promoted_at=record.promoted_at.isoformat(),
        system_prompt=record.system_prompt,
        inference_config=record.inference_config.model_dump(by_alias=True),
        metrics=record.metrics.model_dump(by_alias=True) if record.metrics else None,
        report_uri=record.report_uri,
    )


@app.post("/v1/generate")
def generate_route(request: GenerateRequest) -> GenerateResponse:
    settings: ApiSettings = api_settings()
    response = generate(client("bedrock-runtime"), active_record(), request, settings.limits())
    metrics.add_metric(name="InputTokens", unit="Count", value=response.usage.input_tokens)
    metrics.add_metric(name="OutputTokens", unit="Count", value=response.usage.output_tokens)
    if settings.debug_logging:
        logger.debug("Generated", extra={"request": request.model_dump(), "output": response.output})
    return response
