"""Request and response bodies of the inference API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

MAX_STOP_SEQUENCES = 4


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Turn(_Body):
    role: Literal["user", "assistant"]
    text: Annotated[str, Field(min_length=1)]


class InferenceOverrides(_Body):
    """Overrides of the promoted model's defaults, within the environment's bounds."""

    max_tokens: Annotated[int | None, Field(ge=1, le=4096)] = None
    temperature: Annotated[float | None, Field(ge=0, le=1)] = None
    top_p: Annotated[float | None, Field(gt=0, le=1)] = None
    stop_sequences: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]] | None, Field(max_length=MAX_STOP_SEQUENCES)
    ] = None


class GenerateRequest(_Body):
    """Either `input` (one user turn) or `messages` (alternating turns ending with the user's)."""

    input: Annotated[str | None, Field(min_length=1)] = None
    messages: Annotated[list[Turn] | None, Field(min_length=1, max_length=40)] = None
    context: Annotated[str | None, Field(min_length=1)] = None
    inference_config: InferenceOverrides | None = None

    @model_validator(mode="after")
    def _one_of(self) -> GenerateRequest:
        if (self.input is None) == (self.messages is None):
            raise ValueError("give exactly one of input or messages")
        if self.messages is not None:
            for index, turn in enumerate(self.messages):
                expected = "user" if index % 2 == 0 else "assistant"
                if turn.role != expected:
                    raise ValueError(f"messages[{index}].role is {turn.role!r}, expected {expected!r}")
            if self.messages[-1].role != "user":
                raise ValueError("the last of messages must be the user's")
        return self

    def text_length(self) -> int:
        turns = [self.input or ""] + [turn.text for turn in self.messages or []]
        return sum(len(text) for text in turns) + len(self.context or "")


class Usage(_Body):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class ServedModel(_Body):
    deployment_arn: str
    version: int | None
    promoted_at: str


class GenerateResponse(_Body):
    output: str
    stop_reason: str
    usage: Usage
    latency_ms: int
    model: ServedModel


class ModelResponse(_Body):
    deployment_arn: str
    custom_model_arn: str
    base_model: str
    version: int | None
    promoted_at: str
    system_prompt: str | None
    inference_config: dict[str, float | int]
    metrics: dict[str, object] | None
    report_uri: str | None


class HealthResponse(_Body):
    status: Literal["ok"]
    model_promoted: bool
