"""The RFT grader reads samples in the shape Bedrock / SageMaker send, built from records `prepare --method rft` wrote.

The documented sample (Nova 2 user guide, "Implementing reward functions"): the training record's own fields at the
top level, `id` added by the service, and the generated answer appended to `messages` as the last assistant turn.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.grading.preflight import check_grader, preflight_samples
from nova_pipeline.grading.rewards import check_grader_output, score_samples
from tests.unit.prepare.conftest import read_jsonl, run_prepare

ROOT = Path(__file__).resolve().parents[3]
TEXT_TO_SQL = ROOT / "examples" / "data" / "text-to-sql" / "train.csv"
TICKETS = ROOT / "examples" / "data" / "support-tickets" / "tickets.jsonl"


@pytest.fixture(scope="module")
def sql_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """RFT training records of the shipped text-to-SQL example, as `prepare --method rft` writes them."""
    example = json.loads((ROOT / "examples" / "rft-text-to-sql-nova-2-lite.json").read_text())
    output = tmp_path_factory.mktemp("rft-sql")
    run_prepare(
        TEXT_TO_SQL,
        output,
        **{key: value for key, value in example.items() if key not in ("dataset", "runName")},
        dataset={"uri": "unused", "format": "csv", "columns": example["dataset"]["columns"]},
    )
    return read_jsonl(output / "train.jsonl")


@pytest.fixture(scope="module")
def ticket_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    output = tmp_path_factory.mktemp("rft-tickets")
    run_prepare(
        TICKETS,
        output,
        dataset={"uri": "unused", "columns": {"question": "text", "answer": "label", "label": "label"}},
        task="classification",
        baseModel="nova-2-lite",
        method="rft",
        rft={"grader": "label"},
        prompt={"system": "Classify the ticket: billing, bug, feature_request, account or other."},
        split={"train": 0.9, "validation": 0.0, "test": 0.1},
    )
    return read_jsonl(output / "train.jsonl")


def documented_sample(
    record: dict[str, Any], answer: Any, *, sample_id: str, role: str = "assistant"
) -> dict[str, Any]:
    """What the service sends for one rollout: the record as is, its own `id` replaced, the answer appended."""
    return {
        **copy.deepcopy(record),
        "id": sample_id,
        "messages": [*copy.deepcopy(record["messages"]), {"role": role, "content": answer}],
    }


def test_prepared_rft_records_carry_the_fields_the_grader_reads(sql_records: list[dict[str, Any]]) -> None:
    record = sql_records[0]

    assert {"messages", "reference_answer", "task", "grader", "context"} <= set(record)
    assert "metadata" not in record
    assert [m["role"] for m in record["messages"]] == ["system", "user"]


def test_the_documented_top_level_shape_is_graded_against_its_reference(sql_records: list[dict[str, Any]]) -> None:
    record = sql_records[0]
    right = documented_sample(record, record["reference_answer"], sample_id="s-right")
    wrong = documented_sample(record, "SELECT 1", sample_id="s-wrong")

    results = score_samples([right, wrong])

    assert results == [
        {
            "id": "s-right",
            "aggregate_reward_score": 1.0,
            "metrics_list": [
                {"name": "sql-execution", "value": 1.0, "type": "Reward"},
                {"name": "answer_chars", "value": float(len(record["reference_answer"])), "type": "Metric"},
                {"name": "sql_fallback", "value": 0.0, "type": "Metric"},
            ],
        },
        {
            "id": "s-wrong",
            "aggregate_reward_score": 0.0,
            "metrics_list": [
                {"name": "sql-execution", "value": 0.0, "type": "Reward"},
                {"name": "answer_chars", "value": 8.0, "type": "Metric"},
                {"name": "sql_fallback", "value": 0.0, "type": "Metric"},
            ],
        },
    ]
    assert check_grader_output([right, wrong], results) == []


def test_labels_task_and_grader_are_read_from_the_top_level(ticket_records: list[dict[str, Any]]) -> None:
    record = ticket_records[0]
    verbose = f"I would say this is **{record['reference_answer']}**, clearly."
    other = next(label for label in record["labels"] if label != record["reference_answer"])

    results = score_samples(
        [
            documented_sample(record, verbose, sample_id="a"),
            documented_sample(record, f"Probably {other}.", sample_id="b"),
        ]
    )

    assert [(r["metrics_list"][0]["name"], r["aggregate_reward_score"]) for r in results] == [
        ("label", 1.0),
        ("label", 0.0),
    ]


def test_nova_assistant_role_and_text_block_content_are_accepted(sql_records: list[dict[str, Any]]) -> None:
    record = sql_records[1]
    right = [{"type": "text", "text": record["reference_answer"]}]
    wrong = [{"type": "text", "text": "SELECT 1"}]

    results = score_samples(
        [
            documented_sample(record, right, sample_id="right", role="nova_assistant"),
            documented_sample(record, wrong, sample_id="wrong", role="nova_assistant"),
            documented_sample(record, record["reference_answer"], sample_id="string", role="nova_assistant"),
        ]
    )

    assert [r["aggregate_reward_score"] for r in results] == [1.0, 0.0, 1.0]


def test_the_older_metadata_wrapper_is_still_read_and_the_top_level_wins(sql_records: list[dict[str, Any]]) -> None:
    record = sql_records[0]
    fields = {key: value for key, value in record.items() if key not in ("id", "messages")}
    answer = {"role": "assistant", "content": record["reference_answer"]}
    wrapped = {"id": "w", "messages": [*record["messages"], answer], "metadata": fields}
    both = {
        **wrapped,
        "id": "both",
        "metadata": {**fields, "reference_answer": "SELECT 1"},
        "reference_answer": record["reference_answer"],
    }

    results = score_samples([wrapped, both])

    assert [r["aggregate_reward_score"] for r in results] == [1.0, 1.0]


def test_response_format_problems_are_named() -> None:
    samples = [{"id": "a"}, {"id": "b"}]
    output = [
        {"id": "a", "aggregate_reward_score": 0.5, "metrics_list": [{"name": "m", "value": "x", "type": "Score"}]},
        {"id": "a", "aggregate_reward_score": float("nan"), "metrics_list": "none"},
    ]

    assert check_grader_output(samples, output) == [
        "result 0 (a): metrics_list[0].value 'x' is not a number",
        "result 0 (a): metrics_list[0].type 'Score' is not 'Reward' or 'Metric'",
        "result 1 repeats id 'a'",
        "result 1 (a): aggregate_reward_score nan is not in [0, 1]",
        "result 1 (a): metrics_list is str, expected a list",
    ]


def test_preflight_sends_exactly_the_documented_shape(sql_records: list[dict[str, Any]]) -> None:
    record = sql_records[0]

    reference, empty = preflight_samples([record])

    assert reference == documented_sample(record, record["reference_answer"], sample_id=f"{record['id']}-reference")
    assert empty == documented_sample(record, "", sample_id=f"{record['id']}-empty")
    assert "metadata" not in reference


class _Body(io.BytesIO):
    pass


class _FakeS3:
    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.body = "".join(json.dumps(line) + "\n" for line in lines).encode()

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": _Body(self.body)}


class _InProcessLambda:
    """Invokes the real grader contract in-process, as Lambda would."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        event = json.loads(Payload)
        self.events.append(event)
        return {"StatusCode": 200, "Payload": _Body(json.dumps(score_samples(event)).encode())}


def test_preflight_scores_the_reference_answers_of_prepared_records_as_perfect(
    sql_records: list[dict[str, Any]],
) -> None:
    from nova_pipeline.contract.run_state import RunState

    state = RunState.model_validate(
        {
            "execution": {"name": "e", "arn": "arn:aws:states:us-east-1:123456789012:execution:m:e"},
            "data": {
                "manifestUri": "s3://b/prepared/e/manifest.json",
                "prefix": "s3://b/prepared/e/",
                "train": {"uri": "s3://b/prepared/e/train.jsonl", "records": len(sql_records)},
                "test": {"uri": "s3://b/prepared/e/test.jsonl", "records": 1},
            },
        }
    )
    grader = _InProcessLambda()

    result = check_grader(state, grader_arn="grader", s3=_FakeS3(sql_records), lambda_client=grader)

    assert result == {"samples": 16, "referenceMeanScore": 1.0, "ok": True}
    [event] = grader.events
    assert all("reference_answer" in sample and "metadata" not in sample for sample in event)
