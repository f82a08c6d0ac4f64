"""Multi-stage runs: each stage's outcome, the choice of the stage to promote, and the progression table of the
report (baseline -> stage 1 -> stage 2: primary metric, per-class F1, format errors, verbose answers, request errors,
training time and training cost).

Kept apart from `report.py` (the single-stage layout) so that the two evolve separately: `render_html` adds the
section this module renders when `report["stages"]` is present.
"""

from __future__ import annotations

import html
from typing import Any

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.run_state import JobState, StageCostEstimate, StageOutcome
from nova_pipeline.evaluation.cost import PriceTable


def format_errors(metrics: dict[str, Any]) -> float | None:
    """The share of answers in the wrong format: no valid label (classification) or unparseable SQL."""
    for key in ("noValidLabelRate", "unparseableRate"):
        if metrics.get(key) is not None:
            return float(metrics[key])
    return None


# A stage outcome lives in the state across the loop: with many classes (a 1,420-category task) only the most
# frequent ones are kept there, so three stages stay far below the 256 KiB state limit; each stage's own report
# keeps every class.
MAX_CLASSES_IN_STATE = 50


def verbose_answers(metrics: dict[str, Any]) -> float | None:
    """Classification: the share of answers that are right only once the label is extracted from prose (accuracy
    minus exact label match: the seed case's 52.2% against 13%)."""
    exact, accuracy = metrics.get("exactLabelMatch"), metrics.get("accuracy")
    return None if exact is None or accuracy is None else round(max(0.0, float(accuracy) - float(exact)), 4)


def per_class_f1(metrics: dict[str, Any], limit: int | None = None) -> dict[str, float]:
    """F1 per class, for at most `limit` classes (those with the most test rows)."""
    classes = sorted((metrics.get("perClass") or {}).items(), key=lambda item: (-item[1].get("support", 0), item[0]))
    return {label: round(float(v["f1"]), 4) for label, v in classes[:limit]}


def training_cost(
    job: JobState | None, run: ExecutionInput, estimate: StageCostEstimate | None, table: PriceTable
) -> tuple[float | None, str]:
    """A stage's training cost and how it was found: SageMaker bills instance-seconds, so a finished training job's
    `BillableTimeInSeconds` x its instances x the hourly price is what it cost; Bedrock bills training tokens x
    epochs (Bedrock pricing), which is the estimate CheckBudget made from the prepared records before the run."""
    if job is not None and job.platform == "sagemaker" and job.billable_seconds is not None:
        settings = run.sagemaker
        instance, count = settings.instance_type or "", settings.instance_count or 1
        price = table.instance_hour(instance)
        if price is not None:
            cost = job.billable_seconds / 3600 * count * price
            return round(cost, 2), f"billed {job.billable_seconds:g} s x {count} x {instance} at ${price:g}/h"
    if estimate is not None and estimate.training_usd is not None:
        return estimate.training_usd, f"estimated before the run: {estimate.training_basis}"
    return None, "not priced: " + (estimate.training_basis if estimate else "no estimate was made")


def stage_outcome(
    *,
    index: int,
    method: str,
    job: JobState | None,
    model_arn: str,
    deployment_arn: str,
    deployment_name: str,
    report: dict[str, Any],
    report_uri: str,
    cost: tuple[float | None, str] = (None, "not priced"),
) -> StageOutcome:
    candidate = report["candidate"]
    return StageOutcome(
        index=index,
        method=method,
        job_arn=job.job_arn if job else None,
        model_arn=model_arn,
        deployment_arn=deployment_arn,
        deployment_name=deployment_name,
        verdict=report["gate"]["verdict"],
        failed=list(report["gate"]["failed"]),
        primary=candidate["primary"],
        per_class=per_class_f1(candidate, MAX_CLASSES_IN_STATE),
        format_errors=format_errors(candidate),
        verbose_answers=verbose_answers(candidate),
        error_rate=candidate["errorRate"],
        training_seconds=job.training_seconds if job else None,
        training_cost_usd=cost[0],
        training_cost_basis=cost[1],
        report_uri=report_uri,
    )


def choose(stages: list[StageOutcome]) -> StageOutcome:
    """The stage the gate acts on: the best primary metric among the stages that passed, else the best overall
    (which the gate then rejects with its own reasons). Ties go to the earlier stage (less training)."""
    passed = [s for s in stages if s.verdict == "promoted"] or stages
    return max(passed, key=lambda s: (s.primary if s.primary is not None else -1.0, -s.index))


def progression(
    stages: list[StageOutcome], baseline: dict[str, Any] | None, chosen: StageOutcome | None, measured_cost: Any
) -> dict[str, Any]:
    """The `stages` section of report.json: one row for the baseline, one per stage evaluated so far."""
    rows: list[dict[str, Any]] = []
    if baseline is not None:
        rows.append(
            {
                "stage": "baseline",
                "method": None,
                "primary": baseline["primary"],
                "perClassF1": per_class_f1(baseline, MAX_CLASSES_IN_STATE),
                "formatErrors": format_errors(baseline),
                "verboseAnswers": verbose_answers(baseline),
                "errorRate": baseline["errorRate"],
                "trainingSeconds": None,
                "trainingCostUsd": None,
                "verdict": None,
            }
        )
    for stage in stages:
        rows.append(
            {
                "stage": f"stage {stage.index + 1}",
                "method": stage.method,
                "primary": stage.primary,
                "perClassF1": stage.per_class,
                "formatErrors": stage.format_errors,
                "verboseAnswers": stage.verbose_answers,
                "errorRate": stage.error_rate,
                "trainingSeconds": stage.training_seconds,
                "trainingCostUsd": stage.training_cost_usd,
                "trainingCostBasis": stage.training_cost_basis,
                "verdict": stage.verdict,
                "failed": stage.failed,
                "modelArn": stage.model_arn,
                "reportUri": stage.report_uri,
            }
        )
    return {
        "rows": rows,
        "chosenStage": chosen.index + 1 if chosen is not None else None,
        "measuredCostPer1kRequests": measured_cost,
    }


def _number(value: Any, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cost(row: dict[str, Any]) -> str:
    """The cost cell, with how the figure was found as its tooltip (billed seconds, or the estimate)."""
    basis = html.escape(row.get("trainingCostBasis") or "", quote=True)
    return f'<span title="{basis}">{_number(row.get("trainingCostUsd"), 2)}</span>'


def render_progression(section: dict[str, Any] | None) -> str:
    """The HTML of the progression table ('' for a single-stage report)."""
    if not section:
        return ""
    labels = sorted({label for row in section["rows"] for label in row.get("perClassF1", {})})
    head = "".join(
        f"<th>{html.escape(name)}</th>"
        for name in [
            "stage",
            "method",
            "primary",
            *[f"F1 {label}" for label in labels],
            "format errors",
            "right but verbose",
            "request errors",
            "training time (s)",
            "training cost (USD)",
            "verdict",
        ]
    )
    body = ""
    chosen = section.get("chosenStage")
    for row in section["rows"]:
        marker = " ★ chosen" if chosen is not None and row["stage"] == f"stage {chosen}" else ""
        cells = [
            html.escape(row["stage"] + marker),
            html.escape(row.get("method") or "—"),
            _number(row.get("primary")),
            *[_number(row.get("perClassF1", {}).get(label)) for label in labels],
            _number(row.get("formatErrors")),
            _number(row.get("verboseAnswers")),
            _number(row.get("errorRate")),
            _number(row.get("trainingSeconds"), 0),
            _cost(row),
            html.escape(row.get("verdict") or "—"),
        ]
        body += "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
    current = section["rows"][-1]["stage"] if section["rows"] else ""
    caption = (
        f"<p>Chosen: stage {chosen}, the best stage that passed the gate (or the best one when none passed): the "
        f"run promotes or rejects it. The verdict and the other sections of this page are {html.escape(current)}'s "
        "own.</p>"
        if chosen is not None
        else ""
    )
    return f'<h2>Stages</h2>{caption}<table class="stages"><tr>{head}</tr>{body}</table>'
