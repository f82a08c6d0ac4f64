"""The payloads of the tasks that do not take the whole run state (the preparation fan-out, the evaluation map's
items) and the run states some tasks require more of. Each handler parses its event into one of these or `RunState`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.run_state import EvaluatedBatch, EvaluationPlan, EvaluationResult, MapResults, RunState

BatchResult = EvaluatedBatch


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
    """MergeShards: where the PrepareShards map wrote its shard summaries."""

    shards: MapResults


class BatchRequest(_Event):
    """EvaluateBatch: the plan and one batch object listed by the EvaluateBatches map."""

    plan: EvaluationPlan
    item: S3Item = Field(alias="object")


class AggregateRequest(RunState):
    """AggregateEvaluation: the run state with PlanEvaluation's plan."""

    evaluation_plan: EvaluationPlan


class GatedState(RunState):
    """Promote / RejectCandidate: the run state with the evaluation's verdict."""

    evaluation: EvaluationResult


class GcRequest(_Event):
    """GarbageCollect: the schedule's input (`{"dryRun": true}` reports without deleting)."""

    dry_run: bool = False
