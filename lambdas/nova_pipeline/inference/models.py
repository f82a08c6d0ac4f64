"""Request and response bodies of the inference API, on pydantic-core alone.

The request is validated by pydantic's own engine (`pydantic_core.SchemaValidator`: the same checks and messages as
a pydantic model) from a core schema declared here, next to the dataclasses it builds. Responses are `TypedDict`s
(typing only). Importing pydantic's model layer costs about 40 ms of cold start, more than the whole budget of the
inference function over a boto3-only handler (docs/benchmarks.md#inference-api), so nothing on the request path
imports it; the OpenAPI document (`nova_pipeline.inference.openapi`) derives its JSON schemas from these same
declarations with pydantic at build time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NotRequired

from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs
from typing_extensions import TypedDict  # pydantic (the OpenAPI document) needs it on Python < 3.12

MAX_STOP_SEQUENCES = 4
MAX_TURNS = 40


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def optional(schema: cs.CoreSchema) -> cs.CoreSchema:
    return cs.with_default_schema(cs.nullable_schema(schema), default=None)


def body_schema(cls: type[Any], fields: dict[str, cs.CoreSchema], *, extra: str = "forbid") -> cs.CoreSchema:
    """A dataclass parsed from a JSON object whose keys are the camelCase field names (snake_case accepted too).

    The dataclasses are not frozen: a frozen dataclass costs about 1 ms of import each (its generated
    `__setattr__`, `__delattr__` and `__hash__` are compiled at class creation); nothing mutates them."""
    return cs.dataclass_schema(
        cls,
        cs.dataclass_args_schema(
            cls.__name__,
            [
                cs.dataclass_field(name, schema, validation_alias=camel(name), serialization_alias=camel(name))
                for name, schema in fields.items()
            ],
            extra_behavior=extra,  # type: ignore[arg-type]
        ),
        list(fields),
        config=cs.CoreConfig(
            title=cls.__name__,
            validate_by_name=True,
            validate_by_alias=True,
            extra_fields_behavior=extra,  # type: ignore[typeddict-item]
        ),
    )


@dataclass
class Turn:
    """One turn of a conversation."""

    role: Literal["user", "assistant"]
    text: str


@dataclass
class InferenceOverrides:
    """Overrides of the promoted model's defaults, within the environment's bounds."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop_sequences: list[str] | None = None


@dataclass
class GenerateRequest:
    """Either `input` (one user turn) or `messages` (alternating turns ending with the user's)."""

    input: str | None = None
    messages: list[Turn] | None = None
    context: str | None = None
    inference_config: InferenceOverrides | None = None

    def text_length(self) -> int:
        turns = [self.input or ""] + [turn.text for turn in self.messages or []]
        return sum(len(text) for text in turns) + len(self.context or "")


def _one_of(request: GenerateRequest) -> GenerateRequest:
    if (request.input is None) == (request.messages is None):
        raise ValueError("give exactly one of input or messages")
    if request.messages is not None:
        for index, turn in enumerate(request.messages):
            expected = "user" if index % 2 == 0 else "assistant"
            if turn.role != expected:
                raise ValueError(f"messages[{index}].role is {turn.role!r}, expected {expected!r}")
        if request.messages[-1].role != "user":
            raise ValueError("the last of messages must be the user's")
    return request


TURN_SCHEMA = body_schema(Turn, {"role": cs.literal_schema(["user", "assistant"]), "text": cs.str_schema(min_length=1)})
OVERRIDES_SCHEMA = body_schema(
    InferenceOverrides,
    {
        "max_tokens": optional(cs.int_schema(ge=1, le=4096)),
        "temperature": optional(cs.float_schema(ge=0, le=1)),
        "top_p": optional(cs.float_schema(gt=0, le=1)),
        "stop_sequences": optional(
            cs.list_schema(cs.str_schema(min_length=1, max_length=100), max_length=MAX_STOP_SEQUENCES)
        ),
    },
)
GENERATE_REQUEST_SCHEMA = cs.no_info_after_validator_function(
    _one_of,
    body_schema(
        GenerateRequest,
        {
            "input": optional(cs.str_schema(min_length=1)),
            "messages": optional(cs.list_schema(TURN_SCHEMA, min_length=1, max_length=MAX_TURNS)),
            "context": optional(cs.str_schema(min_length=1)),
            "inference_config": optional(OVERRIDES_SCHEMA),
        },
    ),
)
_GENERATE_REQUEST = SchemaValidator(GENERATE_REQUEST_SCHEMA)


def parse_generate_request(body: str | bytes) -> GenerateRequest:
    """The request in a JSON body; `pydantic_core.ValidationError` names every field at fault."""
    request: GenerateRequest = _GENERATE_REQUEST.validate_json(body)
    return request


# [0-9], not \d: the Rust regex engine compiles the whole Unicode digit class for \d (milliseconds of cold start).
DEPLOYMENT_ARN = r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:custom-model-deployment/"


@dataclass
class ServedDefaults:
    """The promoted model's default inference settings (`ActiveModelRecord.inference_config`)."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 0.9


@dataclass
class ServedRecord:
    """What the API serves of the active-model record (`nova_pipeline.promotion.record.ActiveModelRecord`, written by
    promotion): read with the same rules; keys it does not serve are ignored, so that a field added to the record
    never stops the API."""

    deployment_arn: str
    custom_model_arn: str
    base_model: str
    promoted_at: datetime
    system_prompt: str | None = None
    inference_config: ServedDefaults = field(default_factory=ServedDefaults)
    metrics: dict[str, Any] | None = None
    report_uri: str | None = None
    version: int | None = None


_RECORD = SchemaValidator(
    body_schema(
        ServedRecord,
        {
            "deployment_arn": cs.str_schema(pattern=DEPLOYMENT_ARN),
            "custom_model_arn": cs.str_schema(),
            "base_model": cs.str_schema(),
            "promoted_at": cs.datetime_schema(),
            "system_prompt": optional(cs.str_schema()),
            "inference_config": cs.with_default_schema(
                body_schema(
                    ServedDefaults,
                    {
                        "max_tokens": cs.with_default_schema(cs.int_schema(ge=1, le=10_000), default=512),
                        "temperature": cs.with_default_schema(cs.float_schema(ge=0, le=1), default=0.0),
                        "top_p": cs.with_default_schema(cs.float_schema(gt=0, le=1), default=0.9),
                    },
                    extra="ignore",
                ),
                default_factory=ServedDefaults,
            ),
            "metrics": optional(cs.dict_schema(cs.str_schema(), cs.any_schema())),
            "report_uri": optional(cs.str_schema()),
            "version": optional(cs.int_schema()),
        },
        extra="ignore",
    )
)


def served_record(value: str | bytes) -> ServedRecord:
    """The active-model record in an SSM parameter's JSON value; `pydantic_core.ValidationError` if it is invalid."""
    record: ServedRecord = _RECORD.validate_json(value)
    return record


class Usage(TypedDict):
    inputTokens: int
    outputTokens: int
    totalTokens: int


class ServedModel(TypedDict):
    deploymentArn: str
    version: int | None
    promotedAt: str


class GenerateResponse(TypedDict):
    output: str
    stopReason: str
    usage: Usage
    latencyMs: int
    model: ServedModel


class ModelResponse(TypedDict):
    deploymentArn: str
    customModelArn: str
    baseModel: str
    version: int | None
    promotedAt: str
    systemPrompt: str | None
    inferenceConfig: dict[str, float | int]
    metrics: dict[str, object] | None
    reportUri: str | None


class HealthResponse(TypedDict):
    status: Literal["ok"]
    modelPromoted: bool


class ErrorResponse(TypedDict):
    """Every error the function answers; API Gateway's own errors (403, 429 of the stage) carry only `message`."""

    message: str
    requestId: NotRequired[str | None]
