"""From predictions to a report: metrics for candidate and baseline, costs, the gate's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nova_pipeline.contract.catalog import MODELS, TaskType
from nova_pipeline.evaluation.cost import PriceTable, monthly_cost, token_cost
from nova_pipeline.evaluation.gate import Thresholds, decide
from nova_pipeline.evaluation.metrics import evaluate_rows
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.evaluation.report import baseline_description, build_report


def evaluation_report(
    *,
    candidate_rows: Sequence[PredictionRow],
    baseline_rows: Sequence[PredictionRow] | None,
    task: TaskType,
    model: str,
    prices: PriceTable,
    traffic: dict[str, int],
    thresholds: Thresholds,
    baseline_model: str | None = None,
    promoted_primary: float | None = None,
    labels: Sequence[str] | None = None,
    run: dict[str, Any] | None = None,
    loss_curves: dict[str, list[tuple[float, float]]] | None = None,
    simulated: bool = False,
    baseline_is_promoted: bool = False,
    judge_model: str | None = None,
    guardrail: dict[str, str] | None = None,
    general: dict[str, Any] | None = None,
    baseline_info: dict[str, Any] | None = None,
    traffic_source: str = "the default traffic",
    data_summary: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    gated: bool = True,
    estimate: dict[str, Any] | None = None,
    data_mixing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metrics of both models, costs and the verdict. With `baseline_is_promoted` the baseline rows come from the
    currently promoted deployment, so "not worse than the promoted model" is judged on the same rows.

    `estimate` is the cost guard's estimate before the job (shown next to the measured cost).
    `baseline_info` says what the baseline is (kind, model, how it was prompted); `traffic_source` where the projected
    cost's traffic comes from; `data_summary` is the prepare manifest's summary; `training` the job's final loss.
    Without `gated` no threshold was given: the report says "no gate" instead of a verdict."""
    candidate = evaluate_rows(candidate_rows, task, labels)
    baseline = evaluate_rows(baseline_rows, task, labels) if baseline_rows else None
    if baseline_is_promoted and baseline is not None:
        promoted_primary = baseline["primary"]
    cost = monthly_cost(
        prices,
        model,
        queries_per_month=traffic["queriesPerMonth"],
        input_tokens=traffic["inputTokens"],
        output_tokens=traffic["outputTokens"],
    )
    cost["basis"] = "projected"
    cost["trafficSource"] = traffic_source
    answered = [row for row in candidate_rows if row.error is None] or list(candidate_rows)
    measured_in = sum(r.input_tokens or 0 for r in answered) / max(1, len(answered))
    measured_out = sum(r.output_tokens or 0 for r in answered) / max(1, len(answered))
    measured_per_1k = token_cost(prices.of(model), measured_in * 1000, measured_out * 1000) if answered else None
    evaluation_cost = {
        "candidate": token_cost(prices.of(model), candidate["tokens"]["input"], candidate["tokens"]["output"])
    }
    if baseline is not None:
        evaluation_cost["baseline"] = token_cost(
            prices.of(baseline_model or model), baseline["tokens"]["input"], baseline["tokens"]["output"]
        )
    if "judge" in candidate and judge_model:
        judge_prices = next(
            (
                prices.of(name)
                for name, spec in MODELS.items()
                if judge_model in (spec.inference_profile_id, name) and name in prices.models
            ),
            None,
        )
        if judge_prices is not None:
            evaluation_cost["judge"] = token_cost(
                judge_prices, candidate["judge"]["inputTokens"], candidate["judge"]["outputTokens"]
            )
    evaluation_cost["total"] = sum(evaluation_cost.values())
    measured = {
        "basis": "measured",
        "model": model,
        "priceTable": prices.version,
        "priceSource": prices.source,
        "answeredRequests": sum(1 for row in candidate_rows if row.error is None),
        "requestsWithTokenCounts": sum(
            1 for r in answered if r.input_tokens is not None or r.output_tokens is not None
        ),
        "inputTokensPerRequest": round(measured_in, 1) if answered else None,
        "outputTokensPerRequest": round(measured_out, 1) if answered else None,
        "costPer1kRequests": round(measured_per_1k, 6) if measured_per_1k is not None else None,
        "evaluationTokenCost": round(evaluation_cost["total"], 6),
    }
    verdict = decide(
        metric=candidate["primaryMetric"],
        candidate=candidate["primary"],
        baseline=baseline["primary"] if baseline else None,
        promoted=promoted_primary,
        ttft_p90_ms=candidate["latency"]["ttftP90Ms"],
        cost_per_1k_requests=measured_per_1k,
        error_rate=candidate["errorRate"],
        thresholds=thresholds,
        rows=len(candidate_rows),
        # Measured only when a guardrail was applied (without one every answer "passes" trivially).
        guardrail_intervention_rate=candidate["guardrailInterventionRate"] if guardrail else None,
        general=(general["base"]["accuracy"], general["candidate"]["accuracy"])
        if general and general["base"]
        else None,
    )
    latencies = [r.latency_ms for r in answered if r.latency_ms is not None]
    gate = verdict.dump()
    if not gated:
        gate = {**gate, "verdict": "no gate"}
    return build_report(
        run={**(run or {}), "model": model},
        task=task.value,
        candidate=candidate,
        baseline=baseline,
        baseline_info=baseline_description(
            baseline_info,
            task=task,
            candidate_rows=candidate_rows,
            baseline_rows=baseline_rows,
            simulated=simulated,
        ),
        promoted_primary=promoted_primary,
        gate=gate,
        cost=cost,
        measured_cost=measured,
        evaluation_cost=evaluation_cost,
        loss_curves=loss_curves,
        training=training,
        data=data_summary,
        simulated=simulated,
        latencies_ms=latencies,
        guardrail={
            **guardrail,
            "candidate": candidate["guardrailInterventionRate"],
            "baseline": baseline["guardrailInterventionRate"] if baseline else None,
        }
        if guardrail
        else None,
        general=general,
        estimate=estimate,
        data_mixing=data_mixing,
    )
