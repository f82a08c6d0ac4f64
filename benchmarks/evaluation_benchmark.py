"""Evaluation at an account quota the pipeline does not know, against today's fixed pacing, in one run.

    .venv/bin/python benchmarks/evaluation_benchmark.py [--quotas 300,1200,6000] [--minutes 8]

The local simulator answers ConverseStream with the seed's latency (380 ms to the first token, 183 output tokens/s)
and enforces an account quota the pipeline is not told: requests per minute and tokens per minute (the token quota
is set loose enough that requests bind), metered over a sliding 60-second window, ThrottlingException beyond it.
For each quota, `--minutes` x quota rows are evaluated three ways, each in a fresh simulator:

- adaptive: the pipeline's workers (`plan_evaluation`'s sizing without a ceiling: 10 workers x 10 slots), each with
  its own `AdaptiveRate` starting from its share of 60 requests/minute;
- fixed, too low: today's `Pacer`, configured at half the quota;
- fixed, too high: today's `Pacer`, configured at twice the quota.

Time is SIMULATED: every thread (the workers, the simulator's streams, retries' backoff) sleeps on one virtual clock
that jumps to the next wake-up when every thread is asleep, so minutes of quota run in seconds on two cores and the
figures are deterministic up to thread interleaving. Figures: achieved requests/minute as a share of the quota-bound
rate (the quota), requests throttled (share of all attempts), rows lost or failed.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

from botocore.exceptions import ClientError

from nova_pipeline.evaluation.adaptive import START_REQUESTS_PER_MINUTE, AdaptiveRate
from nova_pipeline.evaluation.runner import Pacer, RateControl, Target, concurrency_for, evaluate_batch
from nova_pipeline.evaluation.stages import DEFAULT_WORKERS, SLOTS_PER_WORKER
from nova_pipeline.local.simulated_model import CustomizedModel, Example, tokens
from nova_pipeline.local.simulator import (
    BedrockSimulator,
    SimulatedError,
    SimulatorSettings,
    _Deployment,
    _Model,
)

DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/benchmark"
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/benchmark"


class VirtualClock:
    """Simulated time shared by registered threads: `sleep` parks the caller; when every registered thread is
    parked, time jumps to the earliest wake-up."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()
        self._running = 0
        self._sleepers: list[tuple[float, int, threading.Event]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def register(self) -> None:
        with self._lock:
            self._running += 1

    def unregister(self) -> None:
        with self._lock:
            self._running -= 1
            self._advance()

    def sleep(self, seconds: float) -> None:
        wake = threading.Event()
        with self._lock:
            heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), wake))
            self._running -= 1
            self._advance()
        wake.wait()

    def _advance(self) -> None:
        if self._running > 0 or not self._sleepers:
            return
        self.now = max(self.now, self._sleepers[0][0])
        while self._sleepers and self._sleepers[0][0] <= self.now:
            self._running += 1
            heapq.heappop(self._sleepers)[2].set()


class SimulatedRuntime:
    """bedrock-runtime's converse_stream, answered by the simulator (errors raised as botocore ClientError)."""

    def __init__(self, simulator: BedrockSimulator) -> None:
        self.simulator = simulator
        self.throttled = 0

    def converse_stream(self, **params: Any) -> dict[str, Any]:
        try:
            return self.simulator.handle("bedrock-runtime", "ConverseStream", params)
        except SimulatedError as error:
            if error.code == "ThrottlingException":
                self.throttled += 1
            raise ClientError({"Error": {"Code": error.code, "Message": error.message}}, "ConverseStream") from None


def simulator(rpm: int, clock: VirtualClock) -> BedrockSimulator:
    settings = SimulatorSettings(
        ttft_ms=380, output_tokens_per_second=183, requests_per_minute=rpm, tokens_per_minute=rpm * 100
    )
    sim = BedrockSimulator(settings, clock=clock.clock, sleep=clock.sleep)
    examples = [
        Example("Classify.", f"ticket {i} about billing", "billing", frozenset(tokens(f"ticket {i} billing")))
        for i in range(50)
    ]
    sim.models[MODEL] = _Model(MODEL, "benchmark", 0.0, CustomizedModel(examples), "benchmark")
    sim.deployments[DEPLOYMENT] = _Deployment(DEPLOYMENT, "benchmark", MODEL, -1e9, None)
    return sim


def rows(count: int) -> list[dict[str, Any]]:
    return [{"id": str(i), "prompt": f"ticket {i} about billing", "reference": "billing"} for i in range(count)]


def run(
    quota: int, count: int, workers: int, slots: int, control: Callable[[VirtualClock], RateControl]
) -> dict[str, Any]:
    """`count` rows through `workers` map workers of `slots` threads each (one rate control per worker)."""
    clock = VirtualClock()
    sim = simulator(quota, clock)
    runtime = SimulatedRuntime(sim)
    target = Target(DEPLOYMENT, "Classify.", 64, 0.0, 0.9)
    work = rows(count)
    # Each worker's slots take its rows from one queue, as `evaluate_rows`' thread pool does.
    shards = [iter(enumerate(work[w::workers])) for w in range(workers)]
    controls = [control(clock) for _ in range(workers)]
    results: list[Any] = []
    lock = threading.Lock()

    def thread(worker: int, slot: int) -> None:
        try:
            while True:
                with lock:
                    index, row = next(shards[worker], (-1, {}))
                if index < 0:
                    break
                predicted, _ = evaluate_batch(
                    runtime,
                    [row],
                    candidate=target,
                    baseline=None,
                    pacer=controls[worker],
                    seed=index * workers + worker,
                    sleep=clock.sleep,
                )
                with lock:
                    results.extend(predicted)
        finally:
            clock.unregister()

    threads = [threading.Thread(target=thread, args=(w, s)) for w in range(workers) for s in range(slots)]
    for _ in threads:
        clock.register()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    minutes = clock.now / 60
    attempts = sim.count("bedrock-runtime", "ConverseStream")
    return {
        "rpm": len(results) / minutes,
        "minutes": minutes,
        "throttled": runtime.throttled / attempts,
        "throttles": runtime.throttled,
        "lost": count - len(results),
        "failed": sum(1 for row in results if row.error),
        "wall": time.perf_counter() - started,
    }


def report(name: str, quota: int, figures: dict[str, Any]) -> None:
    print(
        f"  {name:<28} {figures['rpm']:7.0f} req/min = {figures['rpm'] / quota:6.1%} of the quota-bound rate"
        f" | throttled {figures['throttled']:5.2%} ({figures['throttles']} attempts)"
        f" | lost {figures['lost']}, failed {figures['failed']}"
        f" | {figures['minutes']:.1f} simulated min in {figures['wall']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotas", default="300,1200,6000")
    parser.add_argument("--minutes", type=float, default=8.0, help="rows = minutes x quota")
    args = parser.parse_args()
    print("simulated model: 380 ms TTFT, 183 output tokens/s; quota unknown to the pipeline (SIMULATED clock)")
    for quota in (int(q) for q in args.quotas.split(",")):
        count = int(args.minutes * quota)
        print(f"quota {quota:,} requests/minute (and {quota * 100:,} tokens/minute), {count:,} rows")
        adaptive = run(
            quota,
            count,
            DEFAULT_WORKERS,
            SLOTS_PER_WORKER,
            lambda c: AdaptiveRate(START_REQUESTS_PER_MINUTE / DEFAULT_WORKERS, clock=c.clock, sleep=c.sleep),
        )
        report("adaptive (no configuration)", quota, adaptive)
        for label, configured in (("too low", quota // 2), ("too high", quota * 2)):
            workers = concurrency_for(configured)
            figures = run(
                quota,
                count,
                workers,
                1,
                lambda c, w=workers, r=configured: Pacer(r / w, clock=c.clock, sleep=c.sleep),
            )
            report(f"fixed at {configured:,}/min ({label})", quota, figures)


if __name__ == "__main__":
    main()
