"""RunState parses what the handlers return at every key the workflow writes, and ignores what it does not know."""

from __future__ import annotations

from typing import Any

from nova_pipeline.contract.run_state import DataPlan, RunState
from nova_pipeline.jobs.cleanup import CleanupReport

EXECUTION = {"name": "run-1", "arn": "arn:aws:states:us-east-1:123456789012:execution:m:run-1"}


def state(**keys: Any) -> RunState:
    return RunState.model_validate({"execution": EXECUTION, **keys})


def test_every_written_key_parses_from_its_handler_output() -> None:
    parsed = state(
        raw={"anything": "as given"},
        plan=DataPlan(mode="fanout", bucket="data", prefix="raw/set/", objects=3, bytes=1024).dump(),
        shards={"MapRunArn": "arn:map-run", "ResultWriterDetails": {"Bucket": "data", "Key": "x/manifest.json"}},
        graderPreflight={"samples": 16, "referenceMeanScore": 0.9, "ok": True},
        evaluationPlan={
            "bucket": "data",
            "prefix": "evaluation/run-1/",
            "batchesPrefix": "evaluation/run-1/batches/",
            "rows": 20,
            "batches": 2,
            "maxConcurrency": 2,
            "perWorkerRequestsPerMinute": 50.0,
            "requestsPerRow": 2,
            "candidate": "arn:deployment",
            "baseline": None,
            "judgeModel": None,
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.0, "topP": 0.9},
        },
        evaluationBatches={"MapRunArn": "arn:map-run", "ResultWriterDetails": {"Bucket": "data", "Key": "y.json"}},
        summary={"execution": EXECUTION["arn"], "durations": {"totalSeconds": 1.5}, "completedAt": "2025-01-01"},
        cleanup=CleanupReport("States.TaskFailed", "boom").dump(),
        cleanupError={"Error": "Lambda.Unknown", "Cause": "timeout"},
        somethingNew={"ignored": True},
    )

    assert parsed.plan is not None and parsed.plan.mode == "fanout"
    assert parsed.shards is not None and parsed.shards.result_writer_details.key == "x/manifest.json"
    assert parsed.grader_preflight is not None and parsed.grader_preflight.reference_mean_score == 0.9
    assert parsed.evaluation_plan is not None and parsed.evaluation_plan.inference_config.top_p == 0.9
    assert parsed.cleanup is not None and parsed.cleanup.cause == "boom"
    assert parsed.cleanup_error is not None and parsed.cleanup_error.error == "Lambda.Unknown"
    assert "somethingNew" not in parsed.dump()


def test_a_state_with_only_the_execution_parses() -> None:
    parsed = state()

    assert parsed.raw is None and parsed.summary is None and parsed.evaluation_batches is None
