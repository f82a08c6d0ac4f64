"""Adaptive request rate for one evaluation worker: find the account's quota instead of being told it.

Bedrock does not publish a custom deployment's quota and it differs by account, so evaluation discovers it. Each
worker of the EvaluateBatches map (a separate Lambda invocation: nothing is shared between them without new
infrastructure) runs an AIMD controller over its own request rate, sized as a fair share of the whole map:

- it starts from a safe rate (its share of `START_REQUESTS_PER_MINUTE`);
- until its first `ThrottlingException` it doubles its rate every `doubling_seconds` of successful requests (a
  quota metered over a one-minute window answers late, so the ramp is bounded rather than unbounded);
- it also never holds more than its rate's worth of requests in its own last `window_seconds`, the quota's
  metering window: a quota metered over a sliding minute frees slots at the pace they were taken a minute ago, so
  after a ramp a worker waits for its own old requests to leave the window as the service does;
- on a throttle it multiplies by `decrease` the lower of its rate and the rate the quota let through, the
  requests it had accepted over the last `window_seconds` (the quota's metering window: when the window is full,
  what it holds is the quota's share this worker got), once per `hold_seconds` (the requests already in flight were
  sent at the old rate and must not cut it again);
- after the first throttle it increases additively, `increase_share` of the rate it was throttled at per minute,
  so probing above the quota costs few throttles;
- it never exceeds `ceiling` (the configured requests per minute, divided among the workers) and never goes below
  `floor`.

The clock and sleep are injectable: the tests and the benchmark drive it with a simulated clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

START_REQUESTS_PER_MINUTE = 60.0
MIN_REQUESTS_TO_MEASURE = 10


class AdaptiveRate:
    """Paces one worker's request starts to a rate that adapts to throttling (additive increase, multiplicative
    decrease); `wait()` before each request, then `succeeded()` or `throttled()` with its outcome."""

    def __init__(
        self,
        start: float,
        *,
        ceiling: float | None = None,
        floor: float = 1.0,
        decrease: float = 0.95,
        doubling_seconds: float = 5.0,
        increase_share: float = 0.02,
        hold_seconds: float = 2.0,
        recheck_seconds: float = 1.0,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if start <= 0 or floor <= 0 or not 0 < decrease < 1:
            raise ValueError("start and floor must be positive and decrease between 0 and 1")
        self.ceiling = ceiling
        self.floor = floor
        self.decrease = decrease
        self.doubling_seconds = doubling_seconds
        self.increase_share = increase_share
        self.hold_seconds = hold_seconds
        self.recheck_seconds = recheck_seconds
        self.window_seconds = window_seconds
        self._accepted: deque[float] = deque()
        self._first: float | None = None  # when this worker's first request went out
        self.clock, self.sleep = clock, sleep
        self.rate = self._bounded(start)
        self.slow_start = True
        self.increase = 0.0  # requests/minute gained per minute once the first throttle ended the ramp
        self.throttles = 0
        self.cuts = 0
        self._last = float("-inf")
        self._limited = False
        self._updated: float | None = None
        self._hold_until = float("-inf")
        self._lock = threading.Lock()

    def _bounded(self, rate: float) -> float:
        if self.ceiling is not None:
            rate = min(rate, self.ceiling)
        return max(self.floor, rate)

    def wait(self) -> None:
        """Block until this worker may start its next request at the current rate (re-read after every sleep, so
        a cut or an increase applies to requests already waiting)."""
        while True:
            with self._lock:
                now = self.clock()
                interval = 60.0 / self.rate
                due = self._last + interval
                while self._accepted and now - self._accepted[0] >= self.window_seconds:
                    self._accepted.popleft()
                budget = self.rate * self.window_seconds / 60.0
                if len(self._accepted) >= budget:  # as the quota sees it: this worker's window is full
                    due = max(due, self._accepted[0] + self.window_seconds)
                if now >= due:
                    self._last = due if now - due < interval else now
                    self._accepted.append(now)
                    if self._first is None:
                        self._first = now
                    return
                self._limited = True  # the rate, not the work, sets the pace: growing it is meaningful
                delay = min(due - now, self.recheck_seconds)
            self.sleep(delay)

    def succeeded(self) -> None:
        """A request was accepted: grow the rate for the time elapsed since the last update, if the rate is what
        limited this worker (a worker with too little work does not inflate a rate it never used)."""
        with self._lock:
            now = self.clock()
            elapsed = 0.0 if self._updated is None else now - self._updated
            self._updated = now
            if not self._limited:
                return
            self._limited = False
            if self.slow_start:
                self.rate = self._bounded(self.rate * 2 ** (elapsed / self.doubling_seconds))
            else:
                self.rate = self._bounded(self.rate + self.increase * elapsed / 60.0)

    def throttled(self) -> None:
        """A request was refused with ThrottlingException: cut the rate (once per hold period)."""
        with self._lock:
            now = self.clock()
            self.throttles += 1
            if now < self._hold_until:
                return
            while self._accepted and now - self._accepted[0] >= self.window_seconds:
                self._accepted.popleft()
            let_through = len(self._accepted) * 60.0 / self.window_seconds
            # The window tells the quota's share once it holds a whole window or enough requests: a throttle on the
            # first calls (a deployment warming up) must not collapse the rate to the one or two requests sent.
            window_full = self._first is not None and now - self._first >= self.window_seconds
            trusted = window_full or len(self._accepted) >= MIN_REQUESTS_TO_MEASURE
            current = min(self.rate, let_through) if trusted and let_through > 0 else self.rate
            if self._accepted:
                self._accepted.pop()  # the refused request's start: the quota did not count it
            if self.slow_start:
                self.slow_start = False
                self.increase = self.increase_share * current
            self.rate = self._bounded(current * self.decrease)
            self.cuts += 1
            self._hold_until = now + self.hold_seconds
            self._updated = now


def fair_share(total: float | None, workers: int) -> float | None:
    """One worker's share of a map-wide rate (None stays None: no ceiling)."""
    return None if total is None else total / max(1, workers)
