"""What the inference handler reads once per container: its settings and the cached active-model record."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import Field, ValidationError

from nova_pipeline.core.clients import client
from nova_pipeline.core.settings import FunctionSettings
from nova_pipeline.inference.service import Limits, NoModelPromoted
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name

RECORD_TTL_SECONDS = 30


class ApiSettings(FunctionSettings):
    """The inference function's settings; the stack passes the environment's `api.*` limits (`variables()`), the
    defaults serve `serve-local`."""

    max_body_bytes: int = Field(alias="NOVA_API_MAX_BODY_BYTES", default=65_536)
    max_input_chars: int = Field(alias="NOVA_API_MAX_INPUT_CHARS", default=20_000)
    max_output_tokens: int = Field(alias="NOVA_API_MAX_OUTPUT_TOKENS", default=4096)
    allow_context: bool = Field(alias="NOVA_API_ALLOW_CONTEXT", default=True)
    debug_logging: bool = Field(alias="NOVA_API_DEBUG_LOGGING", default=False)

    @classmethod
    def variables(cls) -> frozenset[str]:
        return super().variables() | {"NOVA_API_MAX_BODY_BYTES", "NOVA_API_MAX_INPUT_CHARS", "NOVA_API_DEBUG_LOGGING"}

    def limits(self) -> Limits:
        return Limits(self.max_input_chars, self.max_output_tokens, self.allow_context)


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    import os

    return ApiSettings.model_validate(dict(os.environ))


@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=client("ssm"))


def active_record() -> ActiveModelRecord:
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
        return ActiveModelRecord.model_validate_json(value)
    except ValidationError:
        raise NoModelPromoted(f"the active-model record {name} is not valid; promote a model again") from None


def validation_message(errors: Sequence[dict[str, Any]]) -> str:
    """One message naming every field at fault: `input: String should have at least 1 character`."""
    parts = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        field = ".".join(location) or "body"
        if error.get("type") == "json_invalid":
            parts.append("body: malformed JSON")
            continue
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "is not a known field"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def body_too_large(event: dict[str, Any]) -> str | None:
    body = event.get("body") or ""
    size = len(body.encode("utf-8")) if isinstance(body, str) else len(body)
    limit = api_settings().max_body_bytes
    return f"body: {size:,} bytes exceeds the limit of {limit:,}" if size > limit else None
