"""The state document the customization state machine passes from state to state, as pydantic models.

`$` holds: `execution` (name, ARN, start time), `input` (the resolved execution input), `data` (PrepareData's
output), `job`, `model`, `deployment`, and on failure `error`. Each handler parses the parts it needs; unknown keys
are ignored so that adding a state never breaks the others.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.execution_input import ExecutionInput


class _State(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ExecutionRef(_State):
    name: str
    arn: str
    started_at: str | None = None


class PreparedSplit(_State):
    uri: str
    records: int


class PreparedData(_State):
    manifest_uri: str
    prefix: str
    train: PreparedSplit
    validation: PreparedSplit | None = None
    test: PreparedSplit | None = None


class JobState(_State):
    """A Bedrock customization job or a SageMaker training job."""

    platform: str
    job_arn: str
    job_name: str
    status: str = "InProgress"
    done: bool = False
    succeeded: bool = False
    failure_message: str | None = None
    output_model_arn: str | None = None
    output_uri: str | None = None
    started_by_this_execution: bool = True
    wait_seconds: Annotated[int, Field(ge=1)] = 60
    training_loss: float | None = None


class ModelState(_State):
    model_arn: str
    model_name: str | None = None
    status: str = "Active"
    done: bool = True
    succeeded: bool = True
    failure_message: str | None = None
    wait_seconds: Annotated[int, Field(ge=1)] = 60


class DeploymentState(_State):
    deployment_arn: str
    deployment_name: str
    model_arn: str
    status: str = "Creating"
    done: bool = False
    succeeded: bool = False
    failure_message: str | None = None
    wait_seconds: Annotated[int, Field(ge=1)] = 60


class ErrorInfo(_State):
    """What a Catch puts at `$.error`."""

    error: str = Field(alias="Error", default="States.Unknown")
    cause: str | None = Field(alias="Cause", default=None)


class RunState(_State):
    """The whole state document; every part but `execution` is optional (it depends on how far the run got)."""

    execution: ExecutionRef
    input: ExecutionInput | None = None
    data: PreparedData | None = None
    job: JobState | None = None
    model: ModelState | None = None
    deployment: DeploymentState | None = None
    evaluation: dict[str, Any] | None = None
    promotion: dict[str, Any] | None = None
    error: ErrorInfo | None = None
