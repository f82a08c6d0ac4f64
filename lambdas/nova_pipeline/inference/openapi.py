"""The inference API's OpenAPI document (docs/openapi.json, `make openapi`), generated from what the handler runs.

Paths, methods and the error statuses of each operation come from the route table (`routes.OPERATIONS`) the handler
dispatches on; the request schema is the core schema the handler validates with, the response schemas are the
`TypedDict`s it returns (JSON schemas by pydantic, imported here only: this module is not on the request path).
API Gateway answers two statuses itself, on every operation: 403 (authentication) and 429 (stage throttling). The
two authentication schemes are alternatives: an environment uses one (`api.auth` in cdk.json, see
`stacks/constructs/inference_api.py`).
"""

from __future__ import annotations

from typing import Any

from nova_pipeline.inference.models import GENERATE_REQUEST_SCHEMA, ErrorResponse
from nova_pipeline.inference.routes import OPERATIONS, Route

TITLE, VERSION = "Nova inference API", "1.0.0"
REF = "#/components/schemas/{model}"
# Answered by API Gateway before the function runs, on every operation (its default gateway responses).
GATEWAY_ERRORS = {
    403: "API Gateway: missing or invalid SigV4 signature, no execute-api:Invoke permission, or a missing or "
    "unknown API key",
    429: "API Gateway: the stage's throttling (`api.throttleRateLimit` / `api.throttleBurstLimit`) or the API key's "
    "usage plan",
}
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html
SECURITY_SCHEMES = {
    "sigv4": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": "IAM (SigV4) — `api.auth: iam`, the default: sign with credentials allowed "
        "`execute-api:Invoke` on the API.",
    },
    "apiKey": {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
        "description": "API key of the stage's usage plan — `api.auth: api-key`.",
    },
}


def schema_name(route: Route) -> str:
    return str(route.response.__name__)


def _json(schema_ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=schema_ref)}}}


def _operation(route: Route) -> dict[str, Any]:
    errors = {**GATEWAY_ERRORS, **route.errors}
    if 429 in route.errors:
        errors[429] = f"{route.errors[429]}; or {GATEWAY_ERRORS[429]}"
    responses: dict[str, Any] = {"200": {"description": "OK", "content": _json(schema_name(route))}}
    for status in sorted(errors):
        response: dict[str, Any] = {"description": errors[status], "content": _json("ErrorResponse")}
        if status in route.retry_after:
            response["headers"] = {
                "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
            }
        responses[str(status)] = response
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.function.__name__,
        "responses": responses,
    }
    if route.request is not None:
        operation["requestBody"] = {"required": True, "content": _json(route.request.__name__)}
    return operation


def component_schemas() -> dict[str, Any]:
    from pydantic import TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema

    responses = {route.response for route in OPERATIONS} | {ErrorResponse}
    keyed = [(cls.__name__, "serialization", TypeAdapter(cls)) for cls in sorted(responses, key=lambda c: c.__name__)]
    _, definitions = TypeAdapter.json_schemas(keyed, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas["GenerateRequest"] = GenerateJsonSchema(by_alias=True, ref_template=REF).generate(
        GENERATE_REQUEST_SCHEMA, mode="validation"
    )
    return dict(sorted(schemas.items()))


def request_properties() -> list[str]:
    """The top-level fields of a generate request (the API Gateway model's description lists them)."""
    return sorted(component_schemas()["GenerateRequest"]["properties"])


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in OPERATIONS:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "The promoted Nova model of one environment. Any other path is a 404, any other "
            "method a 405 with `Allow` (both with an ErrorResponse body).",
        },
        "paths": paths,
        "components": {"schemas": component_schemas(), "securitySchemes": SECURITY_SCHEMES},
        "security": [{name: []} for name in SECURITY_SCHEMES],
    }
