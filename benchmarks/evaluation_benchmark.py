"""Evaluation throughput against a requests-per-minute quota, and the speed-up over the sequential notebook loop.

    .venv/bin/python benchmarks/evaluation_benchmark.py [--rows 2000] [--rpm 1200] [--sequential-sample 60]

The local simulator answers ConverseStream with the seed's latency (380 ms to the first token, 183 output tokens/s)
and enforces a quota of `--rpm` requests per minute (ThrottlingException beyond it). The pipeline's runner
(`nova_pipeline.evaluation.runner`) evaluates `--rows` rows the way the Evaluate stage does: `concurrency_for(rpm)`
workers (the Distributed Map's concurrency), each pacing itself to its share of the quota, retrying throttles with
backoff. The sequential loop of the seed notebooks (one request after the other, no pacing) is measured on a sample
in the same run and its rate extrapolated. Figures: achieved requests/minute as a share of the quota, lost requests,
throttles retried, speed-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

from botocore.exceptions import ClientError

from nova_pipeline.evaluation.runner import Pacer, Target, batches, concurrency_for, evaluate_batch
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


def simulator(rpm: int | None) -> BedrockSimulator:
    sim = BedrockSimulator(SimulatorSettings(ttft_ms=380, output_tokens_per_second=183, requests_per_minute=rpm))
    examples = [
        Example("Classify.", f"ticket {i} about billing", "billing", frozenset(tokens(f"ticket {i} billing")))
        for i in range(50)
    ]
    sim.models[MODEL] = _Model(MODEL, "benchmark", 0.0, CustomizedModel(examples), "benchmark")
    sim.deployments[DEPLOYMENT] = _Deployment(DEPLOYMENT, "benchmark", MODEL, -1e9, None)
    return sim


def rows(count: int) -> list[dict[str, Any]]:
    return [{"id": str(i), "prompt": f"ticket {i} about billing", "reference": "billing"} for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rpm", type=int, default=1200)
    parser.add_argument("--sequential-sample", type=int, default=60)
    parser.add_argument("--batch-rows", type=int, default=10)
    args = parser.parse_args()
    target = Target(DEPLOYMENT, "Classify.", 64, 0.0, 0.9)

    # The sequential loop (no quota pressure at this rate): one request after the other.
    runtime = SimulatedRuntime(simulator(args.rpm))
    started = time.perf_counter()
    sequential, _ = evaluate_batch(
        runtime, rows(args.sequential_sample), candidate=target, baseline=None, pacer=Pacer(0)
    )
    sequential_rpm = len(sequential) / (time.perf_counter() - started) * 60

    # The pipeline's way: the map's workers, each paced to its share of the quota.
    runtime = SimulatedRuntime(simulator(args.rpm))
    work = batches(rows(args.rows), args.batch_rows)
    workers = min(concurrency_for(args.rpm), len(work))
    per_worker = args.rpm / workers
    started = time.perf_counter()

    def run(batch: list[dict[str, Any]], pacer: Pacer) -> list[Any]:
        predictions, _ = evaluate_batch(runtime, batch, candidate=target, baseline=None, pacer=pacer)
        return predictions

    pacers = [Pacer(per_worker) for _ in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, batch, pacers[i % workers]) for i, batch in enumerate(work)]
        results = [row for future in futures for row in future.result()]
    elapsed = time.perf_counter() - started
    achieved = len(results) / elapsed * 60
    lost = args.rows - len(results)
    failed = sum(1 for row in results if row.error)
    print(f"simulated model: 380 ms TTFT, 183 output tokens/s; quota {args.rpm:,} requests/minute (SIMULATED)")
    print(f"sequential loop : {sequential_rpm:8.0f} requests/minute (measured on {args.sequential_sample} rows)")
    print(
        f"pipeline        : {achieved:8.0f} requests/minute with {workers} workers x {per_worker:.0f}/min, "
        f"{args.rows:,} rows in {elapsed:.1f} s"
    )
    print(f"share of the quota-bound maximum: {achieved / args.rpm:.1%} (goal >= 90%)")
    print(f"speed-up over the sequential loop: {achieved / sequential_rpm:.1f}x")
    print(f"requests lost: {lost}; failed after retries: {failed}; throttles retried: {runtime.throttled}")


if __name__ == "__main__":
    main()
