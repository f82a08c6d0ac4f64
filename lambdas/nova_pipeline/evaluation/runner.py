"""Running the test split against a model: batches, pacing to the account's quota, ConverseStream with TTFT.

The Evaluate stage fans batches out with a Distributed Map. Every worker paces its requests with a rate control:
`adaptive.AdaptiveRate` (the default: it discovers the account's quota from ThrottlingException, capped by an
optional configured ceiling) or the fixed `Pacer`. Throttled requests are retried with exponential backoff and full
jitter; the rate control hears of every throttle and every success.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from nova_pipeline.contract.run_state import GuardrailRef
from nova_pipeline.core.errors import THROTTLING_CODES, TRANSIENT_CODES, error_code
from nova_pipeline.evaluation.predictions import PredictionRow

MAX_MAP_CONCURRENCY = 40
RETRYABLE = THROTTLING_CODES | TRANSIENT_CODES
MAX_ATTEMPTS = 8


def concurrency_for(requests_per_minute: int, seconds_per_request: float = 1.0) -> int:
    """Workers needed to use the budget when one worker sends a request every `seconds_per_request`."""
    return max(1, min(MAX_MAP_CONCURRENCY, math.ceil(requests_per_minute * seconds_per_request / 60)))


def batches(rows: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(rows[i : i + size]) for i in range(0, len(rows), size)]


class RateControl(Protocol):
    """Paces request starts and hears their outcome (`Pacer`, `adaptive.AdaptiveRate`)."""

    def wait(self) -> None: ...
    def succeeded(self) -> None: ...
    def throttled(self) -> None: ...


class Pacer:
    """At most `per_minute` request starts per minute from this worker (evenly spaced); outcomes do not change it."""

    def __init__(
        self,
        per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            if now < self._next:
                self.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval

    def succeeded(self) -> None:
        """A fixed pace ignores outcomes."""

    def throttled(self) -> None:
        """A fixed pace ignores outcomes."""


@dataclass(frozen=True)
class Target:
    model_id: str
    system: str | None
    max_tokens: int
    temperature: float
    top_p: float
    guardrail: GuardrailRef | None = None
    """The environment's guardrail: applied to candidate and baseline alike, so their answers compare."""


def _request(target: Target, prompt: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "modelId": target.model_id,
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": target.max_tokens, "temperature": target.temperature, "topP": target.top_p},
    }
    if target.system:
        request["system"] = [{"text": target.system}]
    if target.guardrail is not None:
        request["guardrailConfig"] = target.guardrail.converse_config(stream=True)
    return request


def converse_row(
    runtime: Any,
    target: Target,
    row: dict[str, Any],
    *,
    pacer: RateControl,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = MAX_ATTEMPTS,
) -> PredictionRow:
    """One row through ConverseStream: text, time to first token, total latency, tokens; errors recorded."""
    from botocore.exceptions import ClientError

    base = {
        "id": row.get("id"),
        "prompt": row.get("prompt"),
        "reference": row.get("reference", ""),
        "label": row.get("label"),
        "context": row.get("context"),
        "kind": row.get("kind"),
        "choices": row.get("choices"),
    }
    request = _request(target, str(row.get("prompt", "")))
    for attempt in range(attempts):
        pacer.wait()
        started = time.perf_counter()
        try:
            response = runtime.converse_stream(**request)
            text, first, usage, stop = [], None, {}, None
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    delta = event["contentBlockDelta"]["delta"].get("text", "")
                    if delta and first is None:
                        first = time.perf_counter()
                    text.append(delta)
                elif "messageStop" in event:
                    stop = event["messageStop"].get("stopReason")
                elif "metadata" in event:
                    usage = event["metadata"].get("usage", {})
            ended = time.perf_counter()
            pacer.succeeded()
            output_tokens = int(usage.get("outputTokens", 0))
            generation = max(ended - (first or ended), 1e-6)
            return PredictionRow.model_validate(
                {
                    **base,
                    "prediction": "".join(text),
                    "ttftMs": round(((first or ended) - started) * 1000, 3),
                    "latencyMs": round((ended - started) * 1000, 3),
                    "inputTokens": int(usage.get("inputTokens", 0)),
                    "outputTokens": output_tokens,
                    "outputTokensPerSecond": round(output_tokens / generation, 3) if output_tokens else None,
                    "stopReason": stop,
                }
            )
        except ClientError as error:
            code = error_code(error) or "Unknown"
            if code in THROTTLING_CODES:
                pacer.throttled()
            if code not in RETRYABLE or attempt == attempts - 1:
                return PredictionRow.model_validate({**base, "prediction": "", "error": f"{code}: {error}"})
            sleep(rng.uniform(0, min(20.0, 0.5 * 2**attempt)))
    raise AssertionError("unreachable")


def judge_with(runtime: Any, judge_model: str, pacer: RateControl) -> Callable[[str], tuple[str, int, int]]:
    """The judge's converse(prompt) -> (text, input tokens, output tokens), paced like every other request."""

    def converse(prompt: str) -> tuple[str, int, int]:
        pacer.wait()
        response = runtime.converse(
            modelId=judge_model,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": 300, "temperature": 0.0},
        )
        pacer.succeeded()
        usage = response.get("usage", {})
        text = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
        return text, int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))

    return converse


def evaluate_batch(
    runtime: Any,
    rows: Sequence[dict[str, Any]],
    *,
    candidate: Target,
    baseline: Target | None,
    pacer: RateControl,
    seed: int = 0,
    sleep: Callable[[float], None] = time.sleep,
    judge_model: str | None = None,
) -> tuple[list[PredictionRow], list[PredictionRow]]:
    from nova_pipeline.evaluation.judge import judge

    rng = random.Random(seed)  # noqa: S311 - retry jitter, not a secret
    candidate_rows, baseline_rows = [], []
    for row in rows:
        predicted = converse_row(runtime, candidate, row, pacer=pacer, rng=rng, sleep=sleep)
        if judge_model and predicted.error is None:
            verdict = judge(
                judge_with(runtime, judge_model, pacer),
                prompt=str(row.get("prompt", "")),
                reference=predicted.reference,
                prediction=predicted.prediction,
            )
            predicted = predicted.model_copy(
                update={
                    "judge_score": verdict.score,
                    "judge_input_tokens": verdict.input_tokens,
                    "judge_output_tokens": verdict.output_tokens,
                }
            )
        candidate_rows.append(predicted)
        if baseline is not None:
            baseline_rows.append(converse_row(runtime, baseline, row, pacer=pacer, rng=rng, sleep=sleep))
    return candidate_rows, baseline_rows


def evaluate_rows(
    rows: Sequence[dict[str, Any]],
    *,
    slots: int,
    evaluate: Callable[[dict[str, Any]], tuple[list[PredictionRow], list[PredictionRow]]],
) -> tuple[list[PredictionRow], list[PredictionRow]]:
    """`evaluate(row)` for every row with up to `slots` rows in flight (the rate control paces the starts);
    results in row order."""
    if slots <= 1 or len(rows) <= 1:
        results = [evaluate(row) for row in rows]
    else:
        with ThreadPoolExecutor(max_workers=min(slots, len(rows))) as pool:
            results = list(pool.map(evaluate, rows))
    return [r for c, _ in results for r in c], [r for _, b in results for r in b]
