"""Lambda settings: the environment variables every pipeline function receives, parsed once at cold start."""

from __future__ import annotations

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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FunctionSettings:
        return cls.model_validate(dict(os.environ if environ is None else environ))


@lru_cache(maxsize=1)
def function_settings() -> FunctionSettings:
    """The settings of this container (parsed on first use, then cached)."""
    return FunctionSettings.from_environment()
