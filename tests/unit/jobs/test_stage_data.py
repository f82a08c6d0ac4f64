"""A stage's training records: its slice of the prepared split, the previous stage's records, its own format."""

from __future__ import annotations

from typing import Any

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import StageOutcome
from nova_pipeline.evaluation.progression import choose, progression, render_progression
from nova_pipeline.jobs.stage_data import stage_records, stage_slices, to_conversation


def conversation(question: str, label: str) -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Classify: HQ, LQ_EDIT, LQ_CLOSE."}],
        "messages": [
            {"role": "user", "content": [{"text": question}]},
            {"role": "assistant", "content": [{"text": label}]},
        ],
    }


def run_with(stages: list[dict[str, Any]]) -> Any:
    return parse_execution_input(
        {
            "dataset": {"uri": "raw/q.jsonl"},
            "task": "classification",
            "baseModel": "nova-2-lite",
            "platform": "sagemaker",
            "split": {"train": 0.8, "validation": 0.0, "test": 0.2},
            "stages": stages,
        },
        region="us-east-1",
    )


RECORDS = [conversation(f"question {i}", ["HQ", "LQ_EDIT", "LQ_CLOSE"][i % 3]) for i in range(10)]


def test_shares_take_consecutive_slices_and_stages_without_one_take_everything() -> None:
    run = run_with([{"method": "sft", "dataShare": 0.7}, {"method": "rft", "dataShare": 0.3}])

    assert stage_slices(run.stages, 10) == [(0, 7), (7, 10)]
    assert stage_slices(run_with([{"method": "sft"}, {"method": "sft"}]).stages, 10) == [(0, 10), (0, 10)]


def test_an_rft_stage_gets_its_slice_plus_the_sft_records_as_prompts_with_reference_answers() -> None:
    run = run_with(
        [
            {"method": "sft", "dataShare": 0.7},
            {"method": "rft", "dataShare": 0.3, "includePreviousData": True, "rft": {"grader": "label"}},
        ]
    )

    records = stage_records(run, 1, RECORDS)

    assert len(records) == 3 + 7
    first = records[0]  # question 7, the RFT stage's own slice comes first
    assert first["messages"] == [
        {"role": "system", "content": "Classify: HQ, LQ_EDIT, LQ_CLOSE."},
        {"role": "user", "content": "question 7"},
    ]
    assert (first["reference_answer"], first["label"], first["grader"], first["task"]) == (
        "LQ_EDIT",
        "LQ_EDIT",
        "label",
        "classification",
    )
    assert first["labels"] == ["HQ", "LQ_CLOSE", "LQ_EDIT"]
    assert [r["messages"][1]["content"] for r in records[3:]] == [f"question {i}" for i in range(7)]
    assert len({r["id"] for r in records}) == 10


def test_a_share_of_the_previous_records_is_taken_from_its_start() -> None:
    run = run_with(
        [{"method": "sft", "dataShare": 0.6}, {"method": "sft", "dataShare": 0.4, "includePreviousData": 0.5}]
    )

    records = stage_records(run, 1, RECORDS)

    assert [r["messages"][0]["content"][0]["text"] for r in records] == [f"question {i}" for i in (6, 7, 8, 9, 0, 1, 2)]
    assert records[0] == RECORDS[6]  # same method: the records are kept as they are


def test_an_rft_record_becomes_a_conversation_answering_its_reference() -> None:
    record = {
        "id": "a",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
        "reference_answer": "HQ",
    }

    assert to_conversation(record) == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "S"}],
        "messages": [{"role": "user", "content": [{"text": "Q"}]}, {"role": "assistant", "content": [{"text": "HQ"}]}],
    }


def outcome(index: int, verdict: str, primary: float) -> StageOutcome:
    return StageOutcome(
        index=index,
        method="sft" if index == 0 else "rft",
        model_arn=f"arn:model/{index}",
        deployment_arn=f"arn:deployment/{index}",
        deployment_name=f"d{index}",
        verdict=verdict,
        primary=primary,
        per_class={"HQ": primary, "LQ_EDIT": 0.5},
        format_errors=0.0,
    )


def test_the_best_stage_that_passed_is_chosen_ties_going_to_the_earlier() -> None:
    assert choose([outcome(0, "promoted", 0.8), outcome(1, "rejected", 0.9)]).index == 0
    assert choose([outcome(0, "promoted", 0.8), outcome(1, "promoted", 0.9)]).index == 1
    assert choose([outcome(0, "promoted", 0.8), outcome(1, "promoted", 0.8)]).index == 0
    assert choose([outcome(0, "rejected", 0.7), outcome(1, "rejected", 0.6)]).index == 0


def test_the_progression_table_lists_baseline_and_stages_and_marks_the_chosen_one() -> None:
    stages = [outcome(0, "promoted", 0.8), outcome(1, "promoted", 0.9)]
    baseline = {
        "primary": 0.3,
        "accuracy": 0.3,
        "errorRate": 0.0,
        "noValidLabelRate": 0.4,
        "exactLabelMatch": 0.13,
        "perClass": {"HQ": {"f1": 0.2}},
    }

    section = progression(stages, baseline, stages[1], 0.01)
    page = render_progression(section)

    assert [row["stage"] for row in section["rows"]] == ["baseline", "stage 1", "stage 2"]
    assert section["rows"][0]["formatErrors"] == 0.4 and section["rows"][0]["verboseAnswers"] == 0.17
    assert section["chosenStage"] == 2
    assert "<th>right but verbose</th>" in page
    assert "<th>F1 HQ</th><th>F1 LQ_EDIT</th>" in page
    assert "<td>stage 2 ★ chosen</td><td>rft</td><td>0.9000</td>" in page
    assert render_progression(None) == ""


def test_three_stage_outcomes_with_many_classes_stay_a_small_part_of_the_256_kib_state() -> None:
    import json

    from nova_pipeline.contract.run_state import EvaluationResult
    from nova_pipeline.evaluation.progression import per_class_f1

    metrics = {"perClass": {f"class-{i:04d}-with-a-long-name": {"f1": 0.5, "support": i % 7} for i in range(1420)}}
    many = per_class_f1(metrics, 50)
    assert len(many) == 50 and all(name.endswith("-with-a-long-name") for name in many)
    assert {metrics["perClass"][name]["support"] for name in many} == {6}  # the most frequent classes
    stages = [outcome(i, "promoted", 0.8).model_copy(update={"per_class": many}) for i in range(3)]
    result = EvaluationResult(verdict="promoted", stages=stages, chosen=stages[2])

    assert len(json.dumps(result.dump())) < 32 * 1024
