"""Lambda settings: one pydantic model per function, parsed from its environment once, when its handler is imported.

Each handler module does `SETTINGS = load_settings(<Model>)` at import, so a variable the stack forgot fails the
cold start with its name instead of failing at first use. The stacks pass each function exactly the variables its
model declares (`variables()`); a test compares the two on the synthesized template.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator


class SettingsError(RuntimeError):
    """A function's environment lacks a variable or holds an invalid one: a deployment (stack wiring) error."""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# The environment's quality gate (snake_case threshold names, None = not checked), JSON in the environment.
GateDefaults = Annotated[dict[str, float | None], BeforeValidator(_json)]


class FunctionSettings(BaseModel):
    """What every pipeline function reads: its environment's name; Lambda itself sets AWS_REGION."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    environment: str = Field(alias="NOVA_ENVIRONMENT", min_length=1)
    region: str = Field(alias="AWS_REGION", default="us-east-1")
    # Set only by the offline twin: reports and outputs say the model was simulated.
    simulated: bool = Field(alias="NOVA_SIMULATED", default=False)

    @classmethod
    def variables(cls) -> frozenset[str]:
        """The NOVA_* variables the stack must pass to a function with these settings (those without a default)."""
        return frozenset(
            str(field.alias)
            for field in cls.model_fields.values()
            if field.is_required() and str(field.alias).startswith("NOVA_")
        )


# The environment's approval policy, `{"required": bool, "timeoutSeconds": int}` as JSON in the environment.
ApprovalDefaults = Annotated[dict[str, Any], BeforeValidator(_json)]


class ValidateInputSettings(FunctionSettings):
    default_base_model: str = Field(alias="NOVA_DEFAULT_BASE_MODEL", min_length=1)
    # An input's `gate` may only tighten these: refused here, before anything costs money.
    gate_defaults: GateDefaults = Field(alias="NOVA_GATE_DEFAULTS")
    # An input may require an approval or shorten its wait, never waive it (`contract.execution_input`).
    approval_defaults: ApprovalDefaults = Field(alias="NOVA_APPROVAL")
    # The environment's guardrail id (empty: none): a gate on the intervention rate needs one.
    guardrail_id: str = Field(alias="NOVA_GUARDRAIL_ID")


class RequestApprovalSettings(FunctionSettings):
    data_bucket: str = Field(alias="NOVA_DATA_BUCKET", min_length=3)
    topic_arn: str = Field(alias="NOVA_TOPIC_ARN", min_length=20)


class StartFromUploadSettings(FunctionSettings):
    state_machine_arn: str = Field(alias="NOVA_STATE_MACHINE_ARN", min_length=20)
    trigger_prefix: str = Field(alias="NOVA_TRIGGER_PREFIX", min_length=1)


class DataSettings(FunctionSettings):
    data_bucket: str = Field(alias="NOVA_DATA_BUCKET", min_length=3)


class PlanDataSettings(DataSettings):
    # Above either threshold the dataset is prepared by the PrepareShards Distributed Map (tuning knobs, not wiring).
    fanout_bytes: int = Field(alias="NOVA_FANOUT_BYTES", default=2 * 1024**3, ge=1)
    fanout_objects: int = Field(alias="NOVA_FANOUT_OBJECTS", default=16, ge=1)


class PollSettings(FunctionSettings):
    poll_interval_seconds: int = Field(alias="NOVA_POLL_INTERVAL_SECONDS", ge=1)


class BedrockJobSettings(PollSettings):
    bedrock_role_arn: str = Field(alias="NOVA_BEDROCK_ROLE_ARN", min_length=20)
    artifacts_bucket: str = Field(alias="NOVA_ARTIFACTS_BUCKET", min_length=3)
    kms_key_arn: str = Field(alias="NOVA_KMS_KEY_ARN", min_length=20)
    grader_function_arn: str = Field(alias="NOVA_GRADER_FUNCTION_ARN", min_length=20)
    # Multi-stage runs: a stage's own training file goes under the run's prepared/ prefix.
    data_bucket: str = Field(alias="NOVA_DATA_BUCKET", min_length=3)


class TrainingJobSettings(PollSettings):
    sagemaker_role_arn: str = Field(alias="NOVA_SAGEMAKER_ROLE_ARN", min_length=20)
    artifacts_bucket: str = Field(alias="NOVA_ARTIFACTS_BUCKET", min_length=3)
    kms_key_arn: str = Field(alias="NOVA_KMS_KEY_ARN", min_length=20)
    # SageMaker RFT: the reward function the job invokes. Optional so that SFT-only stacks need not pass it; an RFT
    # job without it fails at StartTrainingJob naming the variable.
    grader_function_arn: str = Field(alias="NOVA_GRADER_FUNCTION_ARN", min_length=20)
    data_bucket: str = Field(alias="NOVA_DATA_BUCKET", min_length=3)
    # The environment's SageMaker managed MLflow server or app (empty: no experiment tracking).
    mlflow_tracking_arn: str | None = Field(alias="NOVA_MLFLOW_TRACKING_ARN")

    @field_validator("mlflow_tracking_arn", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class SageMakerEvaluationSettings(PollSettings):
    """StartSageMakerEvaluation: the evaluation jobs' role, recipes and outputs, and the data bucket (gen_qa)."""

    sagemaker_role_arn: str = Field(alias="NOVA_SAGEMAKER_ROLE_ARN", min_length=20)
    artifacts_bucket: str = Field(alias="NOVA_ARTIFACTS_BUCKET", min_length=3)
    data_bucket: str = Field(alias="NOVA_DATA_BUCKET", min_length=3)
    kms_key_arn: str = Field(alias="NOVA_KMS_KEY_ARN", min_length=20)


class ImportModelSettings(PollSettings):
    bedrock_role_arn: str = Field(alias="NOVA_BEDROCK_ROLE_ARN", min_length=20)
    kms_key_arn: str = Field(alias="NOVA_KMS_KEY_ARN", min_length=20)


class PreflightSettings(FunctionSettings):
    grader_function_arn: str = Field(alias="NOVA_GRADER_FUNCTION_ARN", min_length=20)


class PlanEvaluationSettings(DataSettings):
    # Optional ceiling (empty: evaluation adapts to the account's quota with no ceiling).
    evaluation_rpm: int | None = Field(alias="NOVA_EVALUATION_RPM", ge=1)
    # The environment's guardrail (both empty: none), applied to the candidate's and the baseline's requests.
    guardrail_id: str | None = Field(alias="NOVA_GUARDRAIL_ID")
    guardrail_version: str | None = Field(alias="NOVA_GUARDRAIL_VERSION")
    # The map's safe starting rate (a tuning knob; the offline twin, whose simulated quota it knows, starts higher).
    evaluation_start_rpm: float = Field(default=60.0, alias="NOVA_EVALUATION_START_RPM", gt=0)

    @field_validator("evaluation_rpm", "guardrail_id", "guardrail_version", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class AggregateSettings(DataSettings):
    gate_defaults: GateDefaults = Field(alias="NOVA_GATE_DEFAULTS")
    # The environment's SageMaker managed MLflow server or app (empty: no experiment tracking) and its artifact
    # store (empty: the reports are not uploaded as run artifacts, the run's tags name their S3 locations).
    mlflow_tracking_arn: str | None = Field(alias="NOVA_MLFLOW_TRACKING_ARN")
    mlflow_artifact_store_uri: str | None = Field(alias="NOVA_MLFLOW_ARTIFACT_STORE_URI")

    @field_validator("mlflow_tracking_arn", "mlflow_artifact_store_uri", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class PromoteSettings(FunctionSettings):
    kms_key_arn: str = Field(alias="NOVA_KMS_KEY_ARN", min_length=20)


class RejectSettings(FunctionSettings):
    delete_rejected: bool = Field(alias="NOVA_DELETE_REJECTED")


class CleanupSettings(FunctionSettings):
    topic_arn: str = Field(alias="NOVA_TOPIC_ARN", min_length=20)


class GcSettings(FunctionSettings):
    """The scheduled clean-up: what it keeps (`cdk.json` `lifecycle`)."""

    retention_days: int = Field(alias="NOVA_GC_RETENTION_DAYS", ge=0)
    keep_versions: int = Field(alias="NOVA_GC_KEEP_VERSIONS", ge=0)
    # Provisioned Throughput younger than this is kept (its run may still evaluate through it); see promotion/gc.py.
    provisioned_grace_hours: float = Field(alias="NOVA_GC_PT_GRACE_HOURS", default=6.0, ge=0)


S = TypeVar("S", bound=FunctionSettings)


def load_settings(model: type[S], environ: Mapping[str, str] | None = None) -> S:
    """The function's settings from its environment, or `SettingsError` naming every missing or invalid variable."""
    values = dict(os.environ if environ is None else environ)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            name = ".".join(str(part) for part in detail["loc"])
            problems.append(f"{name} is not set" if detail["type"] == "missing" else f"{name}: {detail['msg']}")
        raise SettingsError(f"{model.__name__}: {'; '.join(problems)} (stack wiring error)") from None
