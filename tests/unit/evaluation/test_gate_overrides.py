"""The environment's gate is a floor: an execution input may make it stricter, never looser."""

from __future__ import annotations

import pytest

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.evaluation.gate import GateLoosened, Thresholds

PROD = {
    "min_primary_metric": 0.5,
    "min_gain_over_baseline": 0.02,
    "max_ttft_p90_ms": 1500.0,
    "max_cost_per_1k_requests_usd": 0.5,
    "max_error_rate": 0.02,
}
LOOSER = {"min_primary_metric": 0.0, "min_gain_over_baseline": -1.0, "max_error_rate": 1.0}


def test_the_issue_override_is_refused_naming_every_loosened_threshold() -> None:
    # Given prod's gate, when an execution tries to lower it, then it is refused with the reason
    with pytest.raises(GateLoosened) as caught:
        Thresholds.merged(PROD, LOOSER)

    message = str(caught.value)
    assert "gate.minPrimaryMetric 0 is looser than this environment's 0.5" in message
    assert "gate.minGainOverBaseline -1 is looser than this environment's 0.02" in message
    assert "gate.maxErrorRate 1 is looser than this environment's 0.02" in message
    assert "an execution may only make the environment's gate stricter" in message


def test_stricter_and_equal_overrides_are_applied() -> None:
    thresholds = Thresholds.merged(
        PROD,
        {"min_primary_metric": 0.8, "max_error_rate": 0.02, "max_ttft_p90_ms": 900, "min_gain_over_baseline": None},
    )

    assert (thresholds.min_primary_metric, thresholds.max_error_rate, thresholds.max_ttft_p90_ms) == (0.8, 0.02, 900)
    assert thresholds.min_gain_over_baseline == 0.02


def test_a_threshold_the_environment_does_not_check_can_be_set_to_anything() -> None:
    dev = {**PROD, "min_primary_metric": None, "max_ttft_p90_ms": None}

    thresholds = Thresholds.merged(dev, {"min_primary_metric": 0.0, "max_ttft_p90_ms": 10_000})

    assert (thresholds.min_primary_metric, thresholds.max_ttft_p90_ms) == (0.0, 10_000)


def test_validate_input_refuses_a_loosening_gate_before_anything_is_spent() -> None:
    document = {"dataset": {"uri": "raw/a.csv"}, "gate": {"minPrimaryMetric": 0, "maxErrorRate": 1}}

    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input(document, gate_defaults=PROD)

    assert [(p.path, p.message) for p in caught.value.problems] == [
        (
            "$.gate.minPrimaryMetric",
            "0 is looser than this environment's 0.5: an execution may only make the environment's gate stricter "
            "(a higher minimum, a lower maximum)",
        ),
        (
            "$.gate.maxErrorRate",
            "1 is looser than this environment's 0.02: an execution may only make the environment's gate stricter "
            "(a higher minimum, a lower maximum)",
        ),
    ]
