"""The payloads of the tasks that do not take the whole run state: the preparation fan-out, the evaluation plan and
its map items, and the evaluation's result. Each handler parses its event into one of these (or `RunState`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.execution_input import ExecutionInput, InferenceConfig
from nova_pipeline.contract.run_state import RunState


class _Event(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class S3Item(BaseModel):
    """One object as a Distributed Map's S3 ItemReader passes it (`$$.Map.Item.Value`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str = Field(alias="Key", min_length=1)
    size: int = Field(alias="Size", default=0, ge=0)


class PrepareRequest(_Event):
    """PrepareData: the resolved input and the run id (the execution name) that scopes every output."""

    input: ExecutionInput
    run_id: str = Field(min_length=1)


class ShardRequest(PrepareRequest):
    """PrepareShard: one object of the dataset, as the PrepareShards map passes it."""

    item: S3Item = Field(alias="object")


class MergeRequest(PrepareRequest):
    """MergeShards: every shard summary of the map (a failed item is anything without a `shard` key)."""

    shards: list[Any]


class EvaluationPlan(_Event):
    """PlanEvaluation's output: where the batches are, how fast each map worker may call, and what to call."""

    bucket: str
    prefix: str
    batches_prefix: str
    rows: int = Field(ge=0)
    batches: int = Field(ge=0)
    max_concurrency: int = Field(ge=1)
    per_worker_requests_per_minute: float = Field(gt=0)
    requests_per_row: int = Field(ge=1)
    candidate: str
    baseline: str | None = None
    judge_model: str | None = None
    inference_config: InferenceConfig


class BatchRequest(_Event):
    """EvaluateBatch: the plan and one batch object listed by the EvaluateBatches map."""

    plan: EvaluationPlan
    item: S3Item = Field(alias="object")


class BatchResult(_Event):
    batch: str
    rows: int
    errors: int


class EvaluationResult(_Event):
    """AggregateEvaluation's output at `$.evaluation`: the verdict and where the report is."""

    verdict: str
    failed: list[str] = Field(default_factory=list)
    primary_metric: str | None = None
    candidate: float | None = None
    baseline: float | None = None
    error_rate: float | None = None
    monthly_cost: float | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
    report_url: str | None = None
    simulated: bool = False


class AggregateRequest(RunState):
    """AggregateEvaluation: the run state with PlanEvaluation's plan."""

    evaluation_plan: EvaluationPlan


class GatedState(RunState):
    """Promote / RejectCandidate: the run state with the evaluation's verdict."""

    evaluation: EvaluationResult  # type: ignore[assignment]
