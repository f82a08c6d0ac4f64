"""RFT offline: the simulated job calls the deployed grader Lambda the way Bedrock does, so a grader that reads the
wrong sample shape fails the run here instead of training on empty references in AWS."""

from __future__ import annotations

import types
from typing import Any

from nova_pipeline.grading.rewards import grade, grader_for
from tests.workflow.conftest import example

RFT_EXAMPLE = "rft-text-to-sql-nova-2-lite.json"


def grader_function(twin: Any) -> Any:
    [function] = {id(f): f for f in twin.dispatcher.functions.values() if "RftGrader" in f.name}.values()
    return function


def replace_grader(twin: Any, handler: Any) -> None:
    """Deploy another grader under the RftGrader function (the state machine and the job still name its ARN)."""
    module = types.ModuleType("injected_grader")
    module.lambda_handler = handler  # type: ignore[attr-defined]
    grader_function(twin).module = module


def job_batches(twin: Any) -> list[list[dict[str, Any]]]:
    """Grader invocations made by the simulated job (the pre-flight check's samples end in -reference / -empty)."""
    batches = [event for name, event in twin.dispatcher.invocations if "RftGrader" in name]
    return [batch for batch in batches if not str(batch[0]["id"]).endswith(("-reference", "-empty"))]


def metadata_only_grader(samples: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
    """The grader as it was: the record's fields read from `metadata` only, which Bedrock does not send."""
    results = []
    for sample in samples:
        metadata = sample.get("metadata") or {}
        answer = sample["messages"][-1]["content"]
        score = grade(grader_for(metadata), answer, metadata.get("reference_answer", ""), metadata)
        results.append({"id": sample["id"], "aggregate_reward_score": score, "metrics_list": []})
    return results


def test_the_rft_example_job_grades_rollouts_with_the_deployed_grader(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example(RFT_EXAMPLE))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        batches = job_batches(twin)
        assert batches and all(len(batch) <= 16 for batch in batches)
        sample = batches[0][0]
        assert sample["reference_answer"] and sample["grader"] == "sql-execution" and "metadata" not in sample
        assert sample["messages"][-1]["role"] == "assistant"
        [job] = twin.simulator.jobs.values()
        assert job.status == "Completed" and job.rewards["trained"] > job.rewards["base"]


def test_a_grader_reading_only_metadata_fails_the_simulated_rft_job(offline_twin: Any) -> None:
    with offline_twin() as twin:
        replace_grader(twin, metadata_only_grader)

        result = twin.run(example(RFT_EXAMPLE))

        # Its answers have the right format, so the pre-flight check passes and the job starts ...
        assert "StartBedrockJob" in [entry.state for entry in result.trace]
        assert job_batches(twin)
        # ... and the job fails: the grader gave nothing to answers identical to the reference.
        assert (result.status, result.error) == ("FAILED", "CustomizationJobFailed")
        assert "scored 0 for all" in result.cause and "reference_answer" in result.cause
        [job] = twin.simulator.jobs.values()
        assert job.status == "Failed" and twin.simulator.deployments == {}


def test_a_grader_that_crashes_on_the_documented_shape_is_stopped_before_the_job(offline_twin: Any) -> None:
    def strict_metadata_grader(samples: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
        return [{"id": s["id"], "aggregate_reward_score": float(bool(s["metadata"]))} for s in samples]

    with offline_twin() as twin:
        replace_grader(twin, strict_metadata_grader)

        result = twin.run(example(RFT_EXAMPLE))

        assert (result.status, result.error) == ("FAILED", "GraderPreflightFailed")
        assert "'metadata'" in result.cause
        assert twin.simulator.jobs == {}
