"""Lambda settings: the environment variables every pipeline function receives, parsed once at cold start."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class FunctionSettings(BaseModel):
    """What the `PipelineFunction` construct puts into a function's environment."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    environment: str = Field(alias="NOVA_ENVIRONMENT", min_length=1)
    default_base_model: str = Field(alias="NOVA_DEFAULT_BASE_MODEL", default="nova-micro")
    data_bucket: str | None = Field(alias="NOVA_DATA_BUCKET", default=None)
    artifacts_bucket: str | None = Field(alias="NOVA_ARTIFACTS_BUCKET", default=None)
    kms_key_arn: str | None = Field(alias="NOVA_KMS_KEY_ARN", default=None)
    bedrock_role_arn: str | None = Field(alias="NOVA_BEDROCK_ROLE_ARN", default=None)
    sagemaker_role_arn: str | None = Field(alias="NOVA_SAGEMAKER_ROLE_ARN", default=None)
    grader_function_arn: str | None = Field(alias="NOVA_GRADER_FUNCTION_ARN", default=None)
    topic_arn: str | None = Field(alias="NOVA_TOPIC_ARN", default=None)
    poll_interval_seconds: int = Field(alias="NOVA_POLL_INTERVAL_SECONDS", default=60, ge=1)
    region: str = Field(alias="AWS_REGION", default="us-east-1")
    fanout_bytes: int = Field(alias="NOVA_FANOUT_BYTES", default=2 * 1024**3, ge=1)
    fanout_objects: int = Field(alias="NOVA_FANOUT_OBJECTS", default=16, ge=1)
    evaluation_rpm: int = Field(alias="NOVA_EVALUATION_RPM", default=200, ge=1)
    gate_defaults: dict[str, float | None] = Field(alias="NOVA_GATE_DEFAULTS", default_factory=dict)
    delete_rejected: bool = Field(alias="NOVA_DELETE_REJECTED", default=True)
    simulated: bool = Field(alias="NOVA_SIMULATED", default=False)

    def require(self, name: str) -> str:
        """A setting this function cannot work without; a missing one is a deployment error, said plainly."""
        value = getattr(self, name)
        if not value:
            alias = type(self).model_fields[name].alias
            raise RuntimeError(f"{alias} is not set in this function's environment (stack wiring error)")
        return str(value)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FunctionSettings:
        values: dict[str, object] = dict(os.environ if environ is None else environ)
        if isinstance(values.get("NOVA_GATE_DEFAULTS"), str):
            values["NOVA_GATE_DEFAULTS"] = json.loads(str(values["NOVA_GATE_DEFAULTS"]))
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def function_settings() -> FunctionSettings:
    """The settings of this container (parsed on first use, then cached)."""
    return FunctionSettings.from_environment()
