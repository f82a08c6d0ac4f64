"""The evaluation worker's adaptive rate (AIMD) and its use by the runner, on a simulated clock."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from nova_pipeline.evaluation.adaptive import AdaptiveRate, fair_share
from nova_pipeline.evaluation.runner import Target, evaluate_batch


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def controller(clock: FakeClock, start: float = 60.0, **options: Any) -> AdaptiveRate:
    return AdaptiveRate(start, clock=clock.clock, sleep=clock.sleep, **options)


def run_requests(rate: AdaptiveRate, clock: FakeClock, seconds: float) -> int:
    """Send requests as fast as the controller lets, all accepted, for `seconds` of simulated time."""
    sent, until = 0, clock.now + seconds
    while clock.now < until:
        rate.wait()
        rate.succeeded()
        sent += 1
    return sent


def test_paces_requests_at_the_starting_rate() -> None:
    # Given a controller starting at 60 requests per minute
    clock = FakeClock()
    rate = controller(clock)
    # When three requests are started
    for _ in range(3):
        rate.wait()
    # Then they are one second apart
    assert clock.now == pytest.approx(2.0)


def test_grows_while_accepted_and_never_exceeds_the_ceiling() -> None:
    # Given a controller with a ceiling of 300 requests per minute
    clock = FakeClock()
    rate = controller(clock, ceiling=300.0)
    # When every request is accepted for two minutes
    run_requests(rate, clock, 120)
    # Then the rate has grown to the ceiling and no further
    assert rate.rate == 300.0
    # And no minute held more than the ceiling's requests
    sent = run_requests(rate, clock, 60)
    assert sent <= 301


def test_backs_off_on_a_throttle_to_what_the_quota_let_through() -> None:
    # Given a controller that ramped up for 40 s (its window holds what the quota accepted)
    clock = FakeClock()
    rate = controller(clock)
    accepted = run_requests(rate, clock, 40)
    before = rate.rate
    # When a request is throttled
    rate.throttled()
    # Then the rate is cut below both its old rate and what was accepted over the last minute
    assert rate.rate < before
    assert rate.rate == pytest.approx(0.95 * (accepted - 1), rel=0.01)
    assert rate.slow_start is False and rate.cuts == 1


def test_throttles_within_the_hold_period_cut_once_and_later_ones_cut_again() -> None:
    # Given a controller just cut by a throttle
    clock = FakeClock()
    rate = controller(clock, start=600.0)
    run_requests(rate, clock, 30)
    rate.throttled()
    after_first = rate.rate
    # When more throttles arrive within the hold period (requests sent at the old rate)
    rate.throttled()
    rate.throttled()
    # Then the rate is unchanged
    assert rate.rate == after_first and rate.throttles == 3 and rate.cuts == 1
    # And a throttle after the hold period cuts again, multiplicatively
    clock.now += 3
    rate.throttled()
    assert rate.rate == pytest.approx(after_first * 0.95, rel=0.01) and rate.cuts == 2


def test_recovers_additively_after_a_throttle() -> None:
    # Given a controller cut by a throttle after its ramp
    clock = FakeClock()
    rate = controller(clock)
    run_requests(rate, clock, 30)
    rate.throttled()
    cut = rate.rate
    increase = rate.increase
    # When requests are accepted for two more minutes
    run_requests(rate, clock, 120)
    # Then the rate grew back linearly (about `increase` per minute), not exponentially
    assert rate.rate > cut
    assert rate.rate == pytest.approx(cut + 2 * increase, rel=0.15)


def test_never_goes_below_the_floor() -> None:
    clock = FakeClock()
    rate = controller(clock, start=2.0, floor=1.0, hold_seconds=0.0)
    for _ in range(20):
        clock.now += 1
        rate.throttled()
    assert rate.rate == 1.0


def test_does_not_grow_a_rate_the_worker_does_not_use() -> None:
    # Given a worker whose requests are slower than its rate (it never waits for the pacer)
    clock = FakeClock()
    rate = controller(clock, start=60.0)
    for _ in range(10):
        rate.wait()
        clock.now += 5  # each request takes 5 s
        rate.succeeded()
    # Then the rate did not grow
    assert rate.rate == 60.0


def test_a_full_window_makes_the_worker_wait_as_the_quota_would() -> None:
    # Given a worker that sent its whole budget in a burst (a rate far above its budget for the window)
    clock = FakeClock()
    rate = controller(clock, start=600.0, ceiling=600.0)
    for _ in range(600):
        rate.wait()
    assert clock.now < 60
    # When it is cut to 10 requests a minute and waits for its next request
    rate.throttled()
    rate.wait()
    # Then it waited until its window's requests left the window
    assert clock.now >= 60


def test_fair_share() -> None:
    assert fair_share(1200, 20) == 60
    assert fair_share(None, 20) is None


class ThrottlingRuntime:
    """converse_stream refusing the first `throttles` calls with ThrottlingException."""

    def __init__(self, throttles: int) -> None:
        self.throttles = throttles

    def converse_stream(self, **_: Any) -> dict[str, Any]:
        if self.throttles:
            self.throttles -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "ConverseStream")
        return {"stream": [{"contentBlockDelta": {"delta": {"text": "ok"}}}, {"metadata": {"usage": {}}}]}


def test_the_runner_reports_throttles_and_successes_to_the_controller() -> None:
    # Given a runtime that throttles the first two attempts
    clock = FakeClock()
    rate = controller(clock, start=600.0)
    # When a row is evaluated
    rows, _ = evaluate_batch(
        ThrottlingRuntime(2),
        [{"id": "1", "prompt": "p", "reference": "ok"}],
        candidate=Target("model", None, 10, 0.0, 0.9),
        baseline=None,
        pacer=rate,
        sleep=clock.sleep,
    )
    # Then the row succeeded after its retries and the controller heard both throttles
    assert rows[0].error is None and rows[0].prediction == "ok"
    assert rate.throttles == 2 and rate.cuts >= 1 and rate.rate < 600.0


def test_a_throttle_on_the_first_calls_does_not_collapse_the_rate() -> None:
    # Given a controller that has sent one request (a deployment warming up answers the first calls 429)
    clock = FakeClock()
    rate = controller(clock, start=600.0)
    run_requests(rate, clock, 0.1)
    before = rate.rate
    # When that request is throttled
    rate.throttled()
    # Then the rate is cut multiplicatively, not to the one request the window holds
    assert rate.rate == pytest.approx(0.95 * before, rel=0.01)
