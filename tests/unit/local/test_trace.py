"""The summary `run-local` prints after a run."""

from __future__ import annotations

from nova_pipeline.local.twin import ExecutionResult, format_trace


def test_a_simulated_baseline_is_called_a_stand_in() -> None:
    evaluation = {
        "verdict": "promoted",
        "primaryMetric": "executionAccuracy",
        "candidate": 0.95,
        "baseline": 0.0,
        "simulated": True,
        "failed": [],
    }
    result = ExecutionResult("run", "arn", "SUCCEEDED", {"evaluation": evaluation}, None, None, 4.0, [], [])

    lines = format_trace(result).splitlines()

    assert (
        "verdict: promoted (executionAccuracy candidate 0.950, baseline 0.000, a simulated stand-in: see the "
        "report's Baseline section)"
    ) in lines
