"""What the inference handler reads once per container: its settings and the cached active-model record.

Both are parsed by pydantic-core (like the request, see `nova_pipeline.inference.models`): the function's request
path does without pydantic's model layer, which would cost more cold start than the whole budget.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from nova_pipeline.core.clients import client
from nova_pipeline.core.layout import active_model_parameter_name
from nova_pipeline.inference.models import ServedRecord, served_record
from nova_pipeline.inference.service import (
    ApiError,
    BadRequest,
    Limits,
    MethodNotAllowed,
    NoModelPromoted,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

RECORD_TTL_SECONDS = 30
# Deepest JSON nesting a request body may have: a generate request needs 4 levels (inferenceConfig.stopSequences).
MAX_JSON_DEPTH = 32


@dataclass
class ApiSettings:
    """The inference function's settings, from its environment; the stack passes the environment's `api.*` limits
    (`variables()`), the defaults serve `serve-local`."""

    environment: str
    region: str = "us-east-1"
    simulated: bool = False
    max_body_bytes: int = 65_536
    max_input_chars: int = 20_000
    max_output_tokens: int = 4096
    allow_context: bool = True
    debug_logging: bool = False
    # The environment's guardrail (both empty: none), applied to every Converse call.
    guardrail_id: str = ""
    guardrail_version: str = ""

    # The variable each field is read from (`NOVA_ENVIRONMENT`, `AWS_REGION`, `NOVA_SIMULATED` as every function's
    # `FunctionSettings`); those the stack passes are `variables()`.
    VARIABLES: ClassVar[dict[str, str]] = {
        "environment": "NOVA_ENVIRONMENT",
        "region": "AWS_REGION",
        "simulated": "NOVA_SIMULATED",
        "max_body_bytes": "NOVA_API_MAX_BODY_BYTES",
        "max_input_chars": "NOVA_API_MAX_INPUT_CHARS",
        "max_output_tokens": "NOVA_API_MAX_OUTPUT_TOKENS",
        "allow_context": "NOVA_API_ALLOW_CONTEXT",
        "debug_logging": "NOVA_API_DEBUG_LOGGING",
        "guardrail_id": "NOVA_GUARDRAIL_ID",
        "guardrail_version": "NOVA_GUARDRAIL_VERSION",
    }

    @classmethod
    def variables(cls) -> frozenset[str]:
        return frozenset(
            {
                "NOVA_ENVIRONMENT",
                "NOVA_API_MAX_BODY_BYTES",
                "NOVA_API_MAX_INPUT_CHARS",
                "NOVA_API_ALLOW_CONTEXT",
                "NOVA_API_DEBUG_LOGGING",
                "NOVA_GUARDRAIL_ID",
                "NOVA_GUARDRAIL_VERSION",
            }
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ApiSettings:
        """The settings in `environ` (the function's environment); `pydantic_core.ValidationError` names a bad one."""
        settings: ApiSettings = _SETTINGS.validate_python(dict(environ))
        return settings

    def limits(self) -> Limits:
        guardrail = (
            (self.guardrail_id, self.guardrail_version) if self.guardrail_id and self.guardrail_version else None
        )
        return Limits(self.max_input_chars, self.max_output_tokens, self.allow_context, guardrail)


_SETTINGS = SchemaValidator(
    cs.dataclass_schema(
        ApiSettings,
        cs.dataclass_args_schema(
            "ApiSettings",
            [
                cs.dataclass_field(name, schema, validation_alias=ApiSettings.VARIABLES[name])
                for name, schema in {
                    "environment": cs.str_schema(min_length=1),
                    "region": cs.with_default_schema(cs.str_schema(min_length=1), default="us-east-1"),
                    "simulated": cs.with_default_schema(cs.bool_schema(), default=False),
                    "max_body_bytes": cs.with_default_schema(cs.int_schema(ge=1), default=65_536),
                    "max_input_chars": cs.with_default_schema(cs.int_schema(ge=1), default=20_000),
                    "max_output_tokens": cs.with_default_schema(cs.int_schema(ge=1), default=4096),
                    "allow_context": cs.with_default_schema(cs.bool_schema(), default=True),
                    "debug_logging": cs.with_default_schema(cs.bool_schema(), default=False),
                    "guardrail_id": cs.with_default_schema(cs.str_schema(), default=""),
                    "guardrail_version": cs.with_default_schema(cs.str_schema(), default=""),
                }.items()
            ],
            extra_behavior="ignore",
        ),
        list(ApiSettings.VARIABLES),
    )
)


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    return ApiSettings.from_environment(os.environ)


@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=client("ssm"))


def active_record() -> ServedRecord:
    """The promoted model, cached for 30 s (a promotion takes effect within a minute, no redeploy)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    name = active_model_parameter_name(api_settings().environment)
    try:
        value = _provider().get(name, decrypt=True, max_age=RECORD_TTL_SECONDS)
    except GetParameterError:
        raise NoModelPromoted(
            f"no model is promoted in {api_settings().environment} yet: run the pipeline until a candidate passes "
            "the quality gate (or nova-pipeline promote)"
        ) from None
    try:
        return served_record(value)
    except ValidationError:
        raise NoModelPromoted(f"the active-model record {name} is not valid; promote a model again") from None


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One message naming every field at fault: `input: String should have at least 1 character`."""
    parts = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        field = ".".join(location) or "body"
        if error.get("type") == "json_invalid":
            parts.append("body: malformed JSON")
            continue
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "is not a known field"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def refusal(event: dict[str, Any], routes: Mapping[str, frozenset[str]]) -> ApiError | None:
    """What to answer, before routing and parsing, to a request the API cannot serve: an unknown route (404), a
    method the route does not have (405, with `Allow`), a body too large (413), not JSON (415) or nested too deep
    (400). None when the request may go on. Each is a 4xx: none of them is the server's fault."""
    return _route_refusal(event, routes) or _body_refusal(event)


def _route_refusal(event: dict[str, Any], routes: Mapping[str, frozenset[str]]) -> ApiError | None:
    path = str(event.get("path") or "/")
    method = str(event.get("httpMethod") or "").upper()
    allowed = routes.get(path)
    if allowed is None:
        return NotFound(f"no route {path}; the routes are {', '.join(sorted(routes))}")
    if method not in allowed:
        allow = ", ".join(sorted(allowed))
        return MethodNotAllowed(f"{method} is not allowed on {path}; allowed: {allow}", headers={"Allow": allow})
    return None


def _body_refusal(event: dict[str, Any]) -> ApiError | None:
    body = event.get("body") or ""
    size = len(body.encode("utf-8")) if isinstance(body, str) else len(body)
    limit = api_settings().max_body_bytes
    if size > limit:
        return PayloadTooLarge(f"body: {size:,} bytes exceeds the limit of {limit:,}")
    if not body:
        return None
    media_type = _content_type(event)
    if media_type is not None and not (media_type == "application/json" or media_type.endswith("+json")):
        return UnsupportedMediaType(f"Content-Type {media_type} is not supported; send application/json")
    text = body
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return BadRequest("body: not valid UTF-8 text (send JSON encoded as UTF-8)")
    if json_depth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        return BadRequest(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return None


def _content_type(event: dict[str, Any]) -> str | None:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if str(key).lower() == "content-type" and values:
            headers["content-type"] = values[-1]
    value = headers.get("content-type")
    return str(value).split(";", 1)[0].strip().lower() if value else None


def json_depth(text: str, stop_above: int) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), counted up to `stop_above + 1`."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        elif char in "]}":
            depth -= 1
    return deepest
