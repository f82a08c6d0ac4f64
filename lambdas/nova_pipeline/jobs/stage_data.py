"""The training file of one stage of a multi-stage run, made from the run's prepared training split.

PrepareData writes the training split once, in the first stage's format. A later stage (or a stage with a
`dataShare`) trains on its own file under `prepared/<run>/stage-<n>/train.jsonl`: its slice of the split, plus, with
`includePreviousData`, the previous stage's records, each converted to the stage's method. RFT takes prompts with a
reference answer, not supervised conversations (Bedrock user guide, "Prepare data for Amazon Nova models": RFT
records are `messages` + `reference_answer`), so an SFT record mixed into an RFT stage becomes its prompt with the
SFT answer as the reference the grader scores against; an RFT record in an SFT stage becomes a conversation whose
assistant turn is the reference answer.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nova_pipeline.contract.catalog import Method
from nova_pipeline.contract.execution_input import ExecutionInput, StageInput
from nova_pipeline.contract.run_state import PreparedData, PreparedSplit, RunState
from nova_pipeline.core import layout
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.s3 import split_s3


def stage_slices(stages: list[StageInput], records: int) -> list[tuple[int, int]]:
    """(start, end) of each stage's records: stages with a `dataShare` take consecutive slices in stage order, the
    others the whole split."""
    slices: list[tuple[int, int]] = []
    start = 0
    for stage in stages:
        if stage.data_share is None:
            slices.append((0, records))
            continue
        end = min(records, start + round(stage.data_share * records))
        slices.append((start, end))
        start = end
    return slices


def stage_records(run: ExecutionInput, index: int, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stage `index`'s training records (first-stage format in, the stage's format out)."""
    slices = stage_slices(run.stages, len(records))
    start, end = slices[index]
    chosen = records[start:end]
    stage = run.stages[index]
    if index > 0 and stage.include_previous_data is not False:
        share = 1.0 if stage.include_previous_data is True else float(stage.include_previous_data)
        previous_start, previous_end = slices[index - 1]
        previous = records[previous_start:previous_end]
        chosen = chosen + previous[: round(share * len(previous))]
    source, target = run.stages[0].method, stage.method
    if source is target:
        return chosen
    if target is Method.RFT:
        labels = sorted({_answer(record) for record in chosen}) if run.task.value == "classification" else []
        return [to_rft(record, run.model_copy(update={"rft": stage.rft or run.rft}), labels) for record in chosen]
    return [to_conversation(record) for record in chosen]


def _answer(record: dict[str, Any]) -> str:
    if "reference_answer" in record:
        return str(record["reference_answer"])
    turns = [m for m in record.get("messages", []) if m.get("role") == "assistant"]
    return "".join(part.get("text", "") for part in turns[-1]["content"]) if turns else ""


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def to_rft(record: dict[str, Any], run: ExecutionInput, labels: list[str]) -> dict[str, Any]:
    """A bedrock-conversation SFT record as an RFT record (the prepared RFT layout: `prepare.finalize.rft`)."""
    system = "".join(part.get("text", "") for part in record.get("system", []))
    user = next(m for m in record["messages"] if m["role"] == "user")
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": _text(user["content"])})
    answer = _answer(record)
    converted: dict[str, Any] = {
        "id": hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16],
        "messages": messages,
        "reference_answer": answer,
        "task": run.task.value,
        "grader": run.rft.grader,
    }
    if run.rft.grader == "numeric":
        converted["numeric_tolerance"] = run.rft.numeric_tolerance
    if labels:
        converted["label"] = answer
        converted["labels"] = labels
    return converted


def to_conversation(record: dict[str, Any]) -> dict[str, Any]:
    """An RFT record as a bedrock-conversation SFT record whose assistant turn is the reference answer."""
    messages = record["messages"]
    system = "".join(_text(m["content"]) for m in messages if m["role"] == "system")
    user = "".join(_text(m["content"]) for m in messages if m["role"] == "user")
    converted: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    if system:
        converted["system"] = [{"text": system}]
    converted["messages"] = [
        {"role": "user", "content": [{"text": user}]},
        {"role": "assistant", "content": [{"text": str(record.get("reference_answer", ""))}]},
    ]
    return converted


def stage_training_data(state: RunState, *, s3: Any, data_bucket: str | None) -> PreparedData:
    """The prepared data stage `$.stage.index` trains on: the run's own for a one-stage run and for a first stage
    that takes the whole split, else the stage's file, written once under the run's prepared/ prefix."""
    run, data = state.input, state.data
    assert run is not None and data is not None, "a job starts after PrepareData"
    index = state.stage.index
    if not run.stages or (index == 0 and run.stages[0].data_share is None):
        return data
    assert data_bucket, "a multi-stage run needs the data bucket"
    bucket, key = split_s3(data.train.uri)
    with aws_call("s3", "GetObject"):
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    converted = stage_records(run, index, records)
    stage_key = f"{layout.prepared(state.execution.name)}stage-{index + 1}/train.jsonl"
    body = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in converted)
    with aws_call("s3", "PutObject"):
        s3.put_object(Bucket=data_bucket, Key=stage_key, Body=body.encode("utf-8"), ContentType="application/jsonl")
    train = PreparedSplit(uri=f"s3://{data_bucket}/{stage_key}", records=len(converted))
    return data.model_copy(update={"train": train})
