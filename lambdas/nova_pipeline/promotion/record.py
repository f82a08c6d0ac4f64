"""The active-model record: what the inference API serves, written on promotion, read (cached) by the API.

Stored as a SecureString SSM parameter (`/nova-customization/<env>/active-model`, encrypted with the environment's
key); SSM keeps every version, so a rollback re-puts the previous version's value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nova_pipeline.core.layout import active_model_parameter_name

__all__ = ["ActiveModelRecord", "MetricsSummary", "ServedInferenceConfig", "active_model_parameter_name"]


class ServedInferenceConfig(BaseModel):
    """Default inference settings of the served model (the ones used at evaluation)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    max_tokens: Annotated[int, Field(ge=1, le=10_000)] = 512
    temperature: Annotated[float, Field(ge=0, le=1)] = 0.0
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.9


class MetricsSummary(BaseModel):
    """The evaluation figures that justified the promotion."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    primary_metric: str
    candidate: float
    baseline: float | None = None
    previous: float | None = None
    simulated: bool = False


class ActiveModelRecord(BaseModel):
    """Everything the inference API needs to serve the promoted model exactly as it was trained and evaluated."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    deployment_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:custom-model-deployment/")]
    """On-demand deployment invoked with Converse (`modelId`)."""
    custom_model_arn: str
    """The customized model behind the deployment."""
    base_model: str
    """Short name of the base model (nova-micro, ...)."""
    system_prompt: str | None = None
    """The system prompt used in training; always sent at inference (the model learned it as its trigger)."""
    inference_config: ServedInferenceConfig = ServedInferenceConfig()
    """Default inference settings."""
    metrics: MetricsSummary | None = None
    """Evaluation summary."""
    execution_arn: str | None = None
    """The pipeline execution that produced and promoted the model."""
    report_uri: str | None = None
    """`s3://` URI of the evaluation report."""
    promoted_at: datetime
    """When the record was written."""
    previous_version: int | None = None
    """SSM parameter version of the record this one replaced (rollback target)."""
    version: int | None = None
    """SSM parameter version of this record (the API reports it)."""
