"""The inference API's routes (POST /v1/generate, GET /v1/model, GET /v1/health), their error mapping, and the one
table the handler dispatches on and the OpenAPI document (`nova_pipeline.inference.openapi`) is generated from.

Three fixed routes need no router: the table below is matched exactly, a request the API cannot serve is refused
before parsing (`api.refusal`: 404, 405, 413, 415, 400), the body of POST /v1/generate is validated by pydantic-core
(400 naming every field at fault), and each typed domain exception (`service.ApiError`) carries its status. Powertools'
event handler would add about 70 ms of cold start with its validation (docs/benchmarks.md#inference-api); Powertools
Logger and Metrics stay.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic_core import ValidationError

from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.inference.api import active_record, api_settings, refusal, validation_message
from nova_pipeline.inference.models import (
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    ModelResponse,
    parse_generate_request,
)
from nova_pipeline.inference.service import ApiError, BadRequest, NoModelPromoted, generate


def health(_request: None = None) -> HealthResponse:
    try:
        promoted = active_record() is not None
    except NoModelPromoted:
        promoted = False
    return {"status": "ok", "modelPromoted": promoted}


def model(_request: None = None) -> ModelResponse:
    record = active_record()
    return {
        "deploymentArn": record.deployment_arn,
        "customModelArn": record.custom_model_arn,
        "baseModel": record.base_model,
        "version": record.version,
        "promotedAt": record.promoted_at.isoformat(),
        "systemPrompt": record.system_prompt,
        "inferenceConfig": {
            "maxTokens": record.inference_config.max_tokens,
            "temperature": record.inference_config.temperature,
            "topP": record.inference_config.top_p,
        },
        "metrics": record.metrics,
        "reportUri": record.report_uri,
    }


def generate_route(request: GenerateRequest) -> GenerateResponse:
    settings = api_settings()
    response = generate(client("bedrock-runtime"), active_record(), request, settings.limits())
    metrics.add_metric(name="InputTokens", unit="Count", value=response["usage"]["inputTokens"])
    metrics.add_metric(name="OutputTokens", unit="Count", value=response["usage"]["outputTokens"])
    if settings.debug_logging:
        logger.debug("Generated", extra={"request": asdict(request), "output": response["output"]})
    return response


# What every route may answer before it runs: a body too large, not JSON, or nested too deep (`api.refusal`).
REFUSALS = {
    400: "the body is nested deeper than 32 levels of arrays/objects, or is not UTF-8 text",
    413: "the body is larger than the environment's `api.maxBodyBytes`",
    415: "a body sent with a Content-Type other than application/json (or `*+json`)",
}
INTERNAL_ERROR = "internal error; quote the request id when reporting it"


@dataclass
class Route:
    """One operation: what it does, the function that answers it, how its body is parsed, and every error status
    the function answers on it (the OpenAPI document lists exactly these; a test checks them against the handler)."""

    method: str
    path: str
    summary: str
    function: Callable[[Any], Mapping[str, Any]]
    response: type[Any]
    errors: Mapping[int, str] = field(default_factory=dict)
    request: type[Any] | None = None
    parse: Callable[[str | bytes], Any] | None = None
    retry_after: frozenset[int] = frozenset()  # statuses that may carry `Retry-After`


OPERATIONS = (
    Route(
        "POST",
        "/v1/generate",
        "Generate with the promoted model (its training system prompt, the caller's turns)",
        generate_route,
        GenerateResponse,
        {
            **REFUSALS,
            400: "malformed JSON, a missing, unknown or invalid field (the message names it), input over "
            "`api.maxInputChars`, `maxTokens` over the limit, a `context` missing or not allowed, or Bedrock's "
            "ValidationException; also the nesting and base64 checks made before parsing",
            429: "Bedrock throttled the call (`Retry-After`)",
            503: "no model is promoted yet, or the promoted model is not ready (`Retry-After`)",
            500: INTERNAL_ERROR,
        },
        GenerateRequest,
        parse_generate_request,
        frozenset({429, 503}),
    ),
    Route(
        "GET",
        "/v1/model",
        "The active-model record",
        model,
        ModelResponse,
        {**REFUSALS, 503: "no model is promoted yet", 500: INTERNAL_ERROR},
    ),
    Route(
        "GET",
        "/v1/health",
        "Liveness, and whether a model is promoted",
        health,
        HealthResponse,
        {**REFUSALS, 500: INTERNAL_ERROR},
    ),
)
TABLE: dict[tuple[str, str], Route] = {(route.path, route.method): route for route in OPERATIONS}
# Every route and its methods: anything else is a 404 or a 405 before routing (`api.refusal`), never a 500.
ROUTES: dict[str, frozenset[str]] = {
    path: frozenset(method for (other, method) in TABLE if other == path) for path, _ in TABLE
}

JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The API Gateway proxy response."""
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def error_response(error: ApiError, request_id: str | None) -> dict[str, Any]:
    return json_response(error.status, {"message": error.message, "requestId": request_id}, error.headers)


def _body(event: Mapping[str, Any]) -> str | bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body


def resolve(event: Mapping[str, Any], request_id: str | None) -> dict[str, Any]:
    """The response to one API Gateway proxy event: refused, answered, or the error it raised mapped to its status."""
    refused = refusal(dict(event), ROUTES)
    if refused is not None:
        return error_response(refused, request_id)
    route = TABLE[(str(event.get("path")), str(event.get("httpMethod")).upper())]
    try:
        request = None
        if route.parse is not None:
            try:
                request = route.parse(_body(event))
            except ValidationError as error:
                raise BadRequest(validation_message(error.errors())) from None
        return json_response(200, route.function(request))
    except ApiError as error:
        return error_response(error, request_id)
    except Exception:
        logger.exception("Unhandled error")
        return json_response(500, {"message": INTERNAL_ERROR, "requestId": request_id})
