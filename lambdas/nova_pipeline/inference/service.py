"""Serve the promoted model: its training system prompt always (a caller never changes the system block: a caller's
`context` goes to the user turn, delimited), caller settings within bounds, errors mapped."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from nova_pipeline.contract.prompt_layout import fixed_system, placeholders, with_context
from nova_pipeline.core.errors import error_code
from nova_pipeline.inference.models import GenerateRequest, GenerateResponse, ServedRecord


class ApiError(Exception):
    """An error with the HTTP status and message a caller sees."""

    status = 500

    def __init__(self, message: str, *, retry_after: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after
        self.headers = dict(headers or {})
        if retry_after:
            self.headers["Retry-After"] = str(retry_after)


class BadRequest(ApiError):  # noqa: N818 - named after the HTTP status
    status = 400


class PayloadTooLarge(ApiError):  # noqa: N818
    status = 413


class UnsupportedMediaType(ApiError):  # noqa: N818
    status = 415


class NotFound(ApiError):  # noqa: N818
    status = 404


class MethodNotAllowed(ApiError):  # noqa: N818
    status = 405


class NoModelPromoted(ApiError):  # noqa: N818
    status = 503


class Throttled(ApiError):  # noqa: N818
    status = 429


class ModelUnavailable(ApiError):  # noqa: N818
    status = 503


@dataclass
class Limits:
    """The environment's bounds on a request (`api.*` in cdk.json)."""

    max_input_chars: int
    max_output_tokens: int = 4096
    allow_context: bool = True
    guardrail: tuple[str, str] | None = None
    """The environment's guardrail (identifier, version), applied to every call."""


def system_prompt(record: ServedRecord) -> str | None:
    """The promoted training prompt, never anything a caller sent: a `{context}`-style placeholder points at the
    delimited context of the user turn, exactly as in the prepared training records."""
    return None if record.system_prompt is None else fixed_system(record.system_prompt)


def _check_context(record: ServedRecord, context: str | None, limits: Limits) -> None:
    if context is not None and not limits.allow_context:
        raise BadRequest("context: this environment does not accept a context")
    names = placeholders(record.system_prompt or "")
    if names and context is None:
        raise BadRequest(
            f"context: required: the promoted model's system prompt has {{{names[0]}}} "
            "(e.g. the CREATE TABLE statements)"
        )


def converse_request(record: ServedRecord, request: GenerateRequest, limits: Limits) -> dict[str, Any]:
    if request.text_length() > limits.max_input_chars:
        raise BadRequest(f"input: {request.text_length():,} characters exceeds the limit of {limits.max_input_chars:,}")
    overrides = request.inference_config
    defaults = record.inference_config
    max_tokens = overrides.max_tokens if overrides and overrides.max_tokens else defaults.max_tokens
    if max_tokens > limits.max_output_tokens:
        raise BadRequest(f"inferenceConfig.maxTokens: {max_tokens} exceeds the limit of {limits.max_output_tokens}")
    config: dict[str, Any] = {
        "maxTokens": max_tokens,
        "temperature": overrides.temperature
        if overrides and overrides.temperature is not None
        else defaults.temperature,
        "topP": overrides.top_p if overrides and overrides.top_p is not None else defaults.top_p,
    }
    if overrides and overrides.stop_sequences:
        config["stopSequences"] = overrides.stop_sequences
    _check_context(record, request.context, limits)
    turns: list[tuple[str, str]] = (
        [("user", request.input or "")]
        if request.input is not None
        else [(turn.role, turn.text) for turn in request.messages or []]
    )
    if request.context is not None:  # the last user turn: the question the context belongs to
        role, text = turns[-1]
        turns[-1] = (role, with_context(text, request.context))
    converse: dict[str, Any] = {
        "modelId": record.deployment_arn,
        "messages": [{"role": role, "content": [{"text": text}]} for role, text in turns],
        "inferenceConfig": config,
    }
    system = system_prompt(record)
    if system:
        converse["system"] = [{"text": system}]
    if limits.guardrail is not None:
        identifier, version = limits.guardrail
        converse["guardrailConfig"] = {"guardrailIdentifier": identifier, "guardrailVersion": version}
    return converse


RETRY_AFTER_SECONDS = 2


def generate(runtime: Any, record: ServedRecord, request: GenerateRequest, limits: Limits) -> GenerateResponse:
    from botocore.exceptions import ClientError

    converse = converse_request(record, request, limits)
    started = time.perf_counter()
    try:
        response = runtime.converse(**converse)
    except ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        if code in ("ThrottlingException", "TooManyRequestsException"):
            raise Throttled(
                "the model is receiving too many requests; retry later", retry_after=RETRY_AFTER_SECONDS
            ) from None
        if code == "ValidationException":
            raise BadRequest(f"the model rejected the request: {message}") from None
        if code in ("ModelNotReadyException", "ServiceUnavailableException", "ResourceNotFoundException"):
            raise ModelUnavailable(
                "the promoted model is not ready or unavailable; retry later", retry_after=RETRY_AFTER_SECONDS * 5
            ) from None
        raise
    usage = response.get("usage", {})
    content = response["output"]["message"]["content"]
    text = "".join(block.get("text", "") for block in content)
    return {
        "output": text,
        "stopReason": response.get("stopReason", "end_turn"),
        "usage": {
            "inputTokens": usage.get("inputTokens", 0),
            "outputTokens": usage.get("outputTokens", 0),
            "totalTokens": usage.get("totalTokens", 0),
        },
        "latencyMs": int(response.get("metrics", {}).get("latencyMs", (time.perf_counter() - started) * 1000)),
        "model": {
            "deploymentArn": record.deployment_arn,
            "version": record.version,
            "promotedAt": record.promoted_at.isoformat(),
        },
    }
