"""The evaluation report: `report.json` (the record) and a self-contained `report.html` (inline SVG charts, no
external assets, every user-provided string escaped).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from typing import Any

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.evaluation.progression import render_progression

SCHEMA_VERSION = "2"
MAX_LISTED = 10  # rejection reasons listed in the data summary
COMPARED = (
    "exactMatch",
    "normalizedExactMatch",
    "tokenF1",
    "rouge1",
    "rougeL",
    "bleu",
    "accuracy",
    "macroF1",
    "executionAccuracy",
    "normalizedSqlMatch",
)


# What the offline twin's simulated base model does (`local/simulated_model.BaseModel`), by task: the report says
# why a simulated baseline scores as it does (often exactly 0), so nobody reads it as Nova's score.
SIMULATED_BASELINE = {
    "text-to-sql": (
        "The offline twin's simulated base model answers every question with `SELECT * FROM <first table>` "
        "wrapped in prose. That query returns the expected rows only when the question asks for a whole table, "
        "so its execution accuracy is usually exactly 0."
    ),
    "classification": (
        "The offline twin's simulated base model answers with the label of the system prompt's list that shares "
        "the most words with the input, inside a verbose sentence; a label the system prompt does not list is "
        "never answered."
    ),
    "generation": (
        "The offline twin's simulated base model repeats the prompt after a fixed preamble, so only the words it "
        "shares with the reference score."
    ),
}
SIMULATED_PROMOTED = (
    "The promoted deployment is itself a simulated model of the offline twin (it answers with the answer of the most "
    "similar training prompt)."
)
STAND_IN = (
    "It is a stand-in that lets the comparison, the gate and this report run offline; it says nothing about how "
    "the real model would score. Run in AWS to measure the real baseline."
)


def baseline_description(
    info: dict[str, Any] | None,
    *,
    task: TaskType,
    candidate_rows: Sequence[PredictionRow],
    baseline_rows: Sequence[PredictionRow] | None,
    simulated: bool,
) -> dict[str, Any]:
    """What the baseline is: kind, model, how it was prompted, whether it answered the candidate's rows, and (in the
    offline twin) that it is a simulated stand-in and why it scores as it does."""
    info = dict(info or {})
    if not baseline_rows:
        return {"kind": "none", "model": None, "note": info.get("note") or "no baseline was evaluated"}
    kind = info.get("kind", "file")
    same = len(baseline_rows) == len(candidate_rows) and all(
        (b.id, b.reference) == (c.id, c.reference) for b, c in zip(baseline_rows, candidate_rows, strict=True)
    )
    if not same and all(r.id is not None for r in [*candidate_rows, *baseline_rows]):
        same = sorted((r.id or "", r.reference) for r in baseline_rows) == sorted(
            (r.id or "", r.reference) for r in candidate_rows
        )
    description: dict[str, Any] = {
        "kind": kind,
        "model": info.get("model"),
        "prompting": info.get("prompting"),
        "rows": len(baseline_rows),
        "sameRows": same,
        "simulated": simulated,
        "standIn": None,
    }
    if simulated:
        behaviour = SIMULATED_PROMOTED if kind == "promoted" else SIMULATED_BASELINE[task.value]
        description["standIn"] = f"{behaviour} {STAND_IN}"
    return description


def data_summary(manifest: dict[str, Any], manifest_uri: str | None = None) -> dict[str, Any]:
    """What preparation read, kept and dropped (and why), from its manifest.json."""
    records = manifest.get("records", {})
    problems = manifest.get("problems", {})
    return {
        "manifest": manifest_uri,
        "recordsRead": records.get("read"),
        "accepted": records.get("accepted"),
        "rejected": records.get("rejected", 0),
        "rejectedReasons": list(problems.get("first", []))[:MAX_LISTED],
        "duplicatesRemoved": records.get("duplicatesDropped", 0),
        "cappedFromTrain": records.get("cappedFromTrain", 0),
        "cappedFromValidation": records.get("cappedFromValidation", 0),
        "fixesApplied": dict(manifest.get("fixes", {})),
        "splits": {name: output.get("records") for name, output in manifest.get("outputs", {}).items()},
        "labelVariants": list(manifest.get("labelVariants", [])),
    }


def build_report(
    *,
    run: dict[str, Any],
    task: str,
    candidate: dict[str, Any],
    baseline: dict[str, Any] | None,
    promoted_primary: float | None,
    gate: dict[str, Any],
    cost: dict[str, Any],
    evaluation_cost: dict[str, Any],
    baseline_info: dict[str, Any] | None = None,
    measured_cost: dict[str, Any] | None = None,
    loss_curves: dict[str, list[tuple[float, float]]] | None = None,
    training: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    simulated: bool = False,
    latencies_ms: Sequence[float] = (),
    guardrail: dict[str, Any] | None = None,
    general: dict[str, Any] | None = None,
    estimate: dict[str, Any] | None = None,
    data_mixing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's record. `cost` is the projection from assumed traffic; `measuredCost` comes from this
    evaluation's own token counts; `estimate` is the cost guard's estimate made before the paid job (CheckBudget)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "run": run,
        "task": task,
        "simulated": simulated,
        "simulatedNote": "Numbers come from the offline twin's SIMULATED models, not from Amazon Nova."
        if simulated
        else None,
        "primaryMetric": candidate["primaryMetric"],
        "candidate": candidate,
        "baseline": baseline,
        "baselineInfo": baseline_info,
        "promotedPrimary": promoted_primary,
        "gate": gate,
        "measuredCost": measured_cost,
        # The cost guard's training and evaluation estimate before the job (None: not estimated, e.g. offline CLI).
        "estimate": estimate,
        "cost": cost,
        "evaluationCost": evaluation_cost,
        "training": training,
        "lossCurves": {name: [list(point) for point in points] for name, points in (loss_curves or {}).items()},
        "data": data,
        "latencyHistogramMs": list(latencies_ms),
        # The environment's guardrail and the share of answers it intervened on (None: no guardrail applied).
        "guardrail": guardrail,
        # The forgetting guard: candidate and base model on the general-capability set (None: not evaluated).
        "general": general,
        # Nova Forge data mixing of the training job (None: not mixed): customer share and the Nova weights.
        "dataMixing": data_mixing,
    }


def parse_loss_csv(text: str, column_hint: str) -> list[tuple[float, float]]:
    """(step, loss) from a Bedrock metrics CSV; columns found by name (step*, *loss*), tolerant of extra columns."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        return []
    step = next((f for f in reader.fieldnames if f.strip().lower().startswith("step")), None)
    loss = next((f for f in reader.fieldnames if column_hint in f.lower() and "loss" in f.lower()), None) or next(
        (f for f in reader.fieldnames if "loss" in f.lower()), None
    )
    if step is None or loss is None:
        return []
    points = []
    for row in reader:
        try:
            points.append((float(row[step]), float(row[loss])))
        except (TypeError, ValueError):
            continue
    return points


# ----------------------------------------------------------------------------------------------- SVG
CANDIDATE_COLOUR, BASELINE_COLOUR = "#2563eb", "#9ca3af"


def _legend(x: float, y: float, entries: Sequence[tuple[str, str]]) -> str:
    """A legend: a colour swatch and its meaning per series."""
    parts = [f'<g class="legend" transform="translate({x},{y})">']
    for i, (colour, name) in enumerate(entries):
        parts.append(
            f'<rect x="0" y="{i * 16}" width="12" height="10" fill="{colour}"/>'
            f'<text x="18" y="{i * 16 + 9}" font-size="11">{html.escape(name)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _bars(candidate: dict[str, Any], baseline: dict[str, Any] | None, baseline_name: str | None) -> str:
    names = [n for n in COMPARED if isinstance(candidate.get(n), int | float)]
    if not names:
        return ""
    entries = [(CANDIDATE_COLOUR, "candidate")]
    if baseline:
        entries.append((BASELINE_COLOUR, f"baseline ({baseline_name})" if baseline_name else "baseline"))
    width, row, top, left, scale = 560, 26, 20 + 16 * len(entries), 170, 300
    height = top + row * len(names) + 34
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="candidate and baseline per metric">']
    parts.append(_legend(left, 6, entries))
    for i, name in enumerate(names):
        y = top + i * row
        c = float(candidate[name])
        parts.append(f'<text x="0" y="{y + 12}" font-size="12">{html.escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{c * scale:.1f}" height="10" fill="{CANDIDATE_COLOUR}"/>')
        parts.append(f'<text x="{left + 5 + c * scale:.1f}" y="{y + 9}" font-size="10">{c:.3f}</text>')
        if baseline and isinstance(baseline.get(name), int | float):
            b = float(baseline[name])
            parts.append(
                f'<rect x="{left}" y="{y + 11}" width="{b * scale:.1f}" height="10" fill="{BASELINE_COLOUR}"/>'
            )
            parts.append(f'<text x="{left + 5 + b * scale:.1f}" y="{y + 20}" font-size="10">{b:.3f}</text>')
    axis = top + row * len(names) + 2
    parts.append(f'<line x1="{left}" y1="{axis}" x2="{left + scale}" y2="{axis}" stroke="#6b7280"/>')
    for tick in (0.0, 0.5, 1.0):
        x = left + tick * scale
        parts.append(
            f'<line x1="{x}" y1="{axis}" x2="{x}" y2="{axis + 4}" stroke="#6b7280"/>'
            f'<text x="{x - 6}" y="{axis + 15}" font-size="10">{tick:g}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{left + scale / 2 - 20}" y="{axis + 29}" font-size="11">score (0–1)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _confusion(matrix: dict[str, Any] | None) -> str:
    if not matrix:
        return ""
    labels, columns, counts = matrix["labels"], matrix["predicted"], matrix["counts"]
    peak = max((max(row) for row in counts if row), default=1) or 1
    cell, left, top = 44, 150, 44
    width, height = left + cell * len(columns) + 10, top + cell * len(labels) + 10
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="confusion matrix: actual by predicted">']
    parts.append(
        f'<text class="axis-label" x="{left + cell * len(columns) / 2 - 40}" y="12" font-size="12" '
        'font-weight="bold">predicted →</text>'
    )
    parts.append(
        f'<text class="axis-label" x="12" y="{top + cell * len(labels) / 2 + 20}" font-size="12" font-weight="bold" '
        f'transform="rotate(-90 12 {top + cell * len(labels) / 2 + 20})">actual →</text>'
    )
    for j, name in enumerate(columns):
        parts.append(
            f'<text x="{left + j * cell + 2}" y="{top - 6}" font-size="9"><title>{html.escape(name)}</title>'
            f"{html.escape(name[:9])}</text>"
        )
    for i, name in enumerate(labels):
        y = top + i * cell
        parts.append(
            f'<text x="22" y="{y + cell / 2}" font-size="10"><title>{html.escape(name)}</title>'
            f"{html.escape(name[:20])}</text>"
        )
        for j, value in enumerate(counts[i]):
            shade = int(235 - 180 * value / peak)
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgb({shade},{shade},255)"/><text x="{left + j * cell + 12}" y="{y + cell / 2 + 4}" '
                f'font-size="11">{value}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(values: Sequence[float], bins: int = 12) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    peak = max(counts) or 1
    width, height = 560, 175
    bar = (width - 40) / bins
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="latency histogram">']
    for i, count in enumerate(counts):
        h = (height - 55) * count / peak
        parts.append(
            f'<rect x="{30 + i * bar:.1f}" y="{height - 40 - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}"'
            ' fill="#059669"/>'
        )
    parts.append(
        f'<text x="30" y="{height - 25}" font-size="10">{low:.0f} ms</text>'
        f'<text x="{width - 80}" y="{height - 25}" font-size="10">{high:.0f} ms</text>'
        f'<text class="axis-label" x="{width / 2 - 60}" y="{height - 6}" font-size="11">total latency (ms)</text>'
        f'<text class="axis-label" x="0" y="12" font-size="11">requests (peak {peak})</text></svg>'
    )
    return "".join(parts)


def _curves(curves: dict[str, list[list[float]]]) -> str:
    points = [p for series in curves.values() for p in series]
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    width, height = 560, 215
    colours = ["#dc2626", "#7c3aed"]
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="loss curves">']
    for k, (_name, series) in enumerate(sorted(curves.items())):
        coords = " ".join(
            f"{40 + (x - x0) / ((x1 - x0) or 1) * (width - 60):.1f},"
            f"{height - 45 - (y - y0) / ((y1 - y0) or 1) * (height - 65):.1f}"
            for x, y in series
        )
        parts.append(f'<polyline fill="none" stroke="{colours[k % 2]}" stroke-width="2" points="{coords}"/>')
    parts.append(_legend(width - 150, 8, [(colours[k % 2], f"{name} loss") for k, name in enumerate(sorted(curves))]))
    parts.append(
        f'<text x="4" y="24" font-size="10">{y1:.2f}</text><text x="4" y="{height - 45}" font-size="10">'
        f'{y0:.2f}</text><text x="40" y="{height - 30}" font-size="10">{x0:g}</text>'
        f'<text x="{width - 50}" y="{height - 30}" font-size="10">{x1:g}</text>'
        f'<text class="axis-label" x="{width / 2 - 10}" y="{height - 12}" font-size="11">step</text>'
        '<text class="axis-label" x="4" y="10" font-size="11">loss</text></svg>'
    )
    return "".join(parts)


# ----------------------------------------------------------------------------------------------- HTML
def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _money(value: Any, places: int = 6) -> str:
    return "—" if value is None else f"${value:.{places}f}"


def _baseline_section(info: dict[str, Any] | None) -> str:
    if not info:
        return "<p>not recorded</p>"
    if info.get("kind") == "none":
        return f"<p>No baseline: {html.escape(str(info.get('note')))}.</p>"
    same = "yes, the same test rows as the candidate" if info.get("sameRows") else "NO: not the candidate's rows"
    rows = [
        ("baseline", str(info.get("kind"))),
        ("model", str(info.get("model") or "not recorded")),
        ("prompted with", str(info.get("prompting") or "not recorded")),
        ("rows answered", f"{info.get('rows')} ({same})"),
    ]
    note = ""
    if info.get("standIn"):
        note = f'<p class="standin"><b>Simulated stand-in.</b> {html.escape(str(info["standIn"]))}</p>'
    return _table(rows) + note


def _per_class(candidate: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    per_class = candidate.get("perClass")
    if not per_class:
        return ""
    other = (baseline or {}).get("perClass", {})
    header = ["label", "precision", "recall", "F1", "support"] + (["baseline F1"] if other else [])
    rows = []
    for label, scores in per_class.items():
        row = [label, f"{scores['precision']:.3f}", f"{scores['recall']:.3f}", f"{scores['f1']:.3f}"]
        row.append(str(scores["support"]))
        if other:
            row.append(f"{other[label]['f1']:.3f}" if label in other else "—")
        rows.append(row)
    return "<h2>Per class (candidate)</h2>" + _grid(header, rows, "per-class")


def _wrong(candidate: dict[str, Any]) -> str:
    wrong = candidate.get("wrongAnswers")
    if not wrong:
        return ""
    if not wrong["total"]:
        return "<h2>Wrong answers (candidate)</h2><p>none</p>"
    shown = wrong["sample"]
    rows = [
        [
            str(item.get("id") or ""),
            item.get("input") or "—",
            item.get("expected") or "",
            (item.get("got") or "")
            + (f" → graded as {item['graded']}" if item.get("graded") else "")
            + (f" (error: {item['error']})" if item.get("error") else ""),
        ]
        for item in shown
    ]
    return (
        f"<h2>Wrong answers (candidate)</h2><p>{wrong['total']} wrong; the first {len(shown)} in test-split order "
        f"(texts cut to an excerpt):</p>" + _grid(["id", "input", "expected", "got"], rows, "wrong")
    )


def _data(data: dict[str, Any] | None) -> str:
    if not data:
        return "<h2>Data</h2><p>no preparation manifest was given</p>"
    fixes = ", ".join(f"{k} {v}" for k, v in data.get("fixesApplied", {}).items() if v) or "none"
    splits = ", ".join(f"{k} {v}" for k, v in data.get("splits", {}).items()) or "—"
    rows = [
        ("records read", str(data.get("recordsRead"))),
        ("accepted", str(data.get("accepted"))),
        ("rejected", str(data.get("rejected"))),
        ("duplicates removed", str(data.get("duplicatesRemoved"))),
        ("capped (train / validation)", f"{data.get('cappedFromTrain')} / {data.get('cappedFromValidation')}"),
        ("fixes applied", fixes),
        ("splits", splits),
    ]
    if data.get("manifest"):
        rows.append(("manifest", str(data["manifest"])))
    reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in data.get("rejectedReasons", []))
    variants = "".join(f"<li>{html.escape(item['warning'])}</li>" for item in data.get("labelVariants", []))
    return (
        '<h2>Data</h2><div class="data-summary">'
        + _table(rows)
        + (f"<p>Rejected, first reasons:</p><ul class='rejected'>{reasons}</ul>" if reasons else "")
        + (f"<p class='ko'>Label variants:</p><ul class='label-variants'>{variants}</ul>" if variants else "")
        + "</div>"
    )


def _training(training: dict[str, Any] | None, curves: dict[str, list[list[float]]]) -> str:
    line = ""
    if training and training.get("finalTrainingLoss") is not None:
        line = (
            f"<p class='final-loss'>Final training loss {training['finalTrainingLoss']:.4f} "
            f"({html.escape(str(training.get('source')))})"
            + (
                f"; the loss curve's last point differs: {training['curveLastPoint']:.4f}"
                if training.get("curveLastPoint") is not None
                else ""
            )
            + ".</p>"
        )
    return line + (_curves(curves) or "<p>no loss curves found</p>")


def _cost(report: dict[str, Any]) -> str:
    measured, projected = report.get("measuredCost") or {}, report["cost"]
    evaluation = report["evaluationCost"]
    measured_rows = [
        (
            "answered requests",
            f"{measured.get('answeredRequests')} ({measured.get('requestsWithTokenCounts')} with token counts)",
        ),
        (
            "tokens per request (in / out)",
            f"{measured.get('inputTokensPerRequest')} / {measured.get('outputTokensPerRequest')}",
        ),
        ("cost per 1,000 requests", _money(measured.get("costPer1kRequests"))),
        ("this evaluation's token cost", "; ".join(f"{k} {_money(v)}" for k, v in evaluation.items())),
        ("prices", f"{measured.get('priceTable')} from {measured.get('priceSource')}"),
    ]
    assumptions = [
        ("queries / month", f"{projected.get('queriesPerMonth', 0):,}"),
        (
            "tokens per query (in / out)",
            f"{projected.get('inputTokensPerQuery')} / {projected.get('outputTokensPerQuery')}",
        ),
        ("traffic from", str(projected.get("trafficSource", "not recorded"))),
        ("prices", f"{projected.get('priceTable')} from {projected.get('priceSource', 'not recorded')}"),
    ]
    projected_rows = [
        ("inference / month", _money(projected.get("inferenceCost"), 4)),
        ("custom model storage / month", _money(projected.get("storageCost"), 2)),
        ("total / month", _money(projected.get("totalMonthly"), 4)),
        ("cost per 1,000 requests at the assumed tokens", _money(projected.get("costPer1kRequests"))),
    ]
    return (
        _estimate(report.get("estimate"))
        + f"<h2>Cost measured in this evaluation ({html.escape(str(measured.get('model')))})</h2>"
        "<p>From the candidate's own token counts on the test rows.</p>"
        f'<div class="measured">{_table(measured_rows)}</div>'
        "<h2>Projected monthly cost (an estimate, not a measurement)</h2>"
        "<p>Assumed traffic times list prices plus the custom model's storage; change the assumptions with "
        "<code>evaluation.traffic</code> (or <code>--queries-per-month</code>, <code>--input-tokens</code>, "
        "<code>--output-tokens</code>).</p>"
        f'<div class="projected"><p>Assumptions:</p>{_table(assumptions)}<p>Projection:</p>{_table(projected_rows)}'
        "</div>"
    )


def _estimate(estimate: dict[str, Any] | None) -> str:
    """The cost guard's section: what the run was estimated to cost before its first paid job, and the budget."""
    if not estimate:
        return ""
    training, evaluation = estimate.get("trainingUsd"), estimate.get("evaluationUsd")
    rows = [
        ("training", f"{_money(training, 2)} ({estimate.get('trainingBasis')})"),
        *(
            (f"stage {stage['index'] + 1} ({stage['method']})", f"{_money(stage.get('trainingUsd'), 2)}")
            for stage in estimate.get("stages", [])
        ),
        ("evaluation", f"{_money(evaluation, 4)} ({estimate.get('evaluationBasis')})"),
        ("prices", str(estimate.get("priceTable"))),
    ]
    budget = estimate.get("maxTrainingUsd")
    rows.append(("budget.maxTrainingUsd", "none" if budget is None else _money(budget, 2)))
    return (
        "<h2>Cost estimated before the run (cost guard)</h2>"
        "<p>CheckBudget's estimate from the prepared data, made before the first paid job; compare the evaluation "
        "figure with the measured cost below.</p>" + _table(rows)
    )


def _general(general: dict[str, Any] | None) -> str:
    """The forgetting guard's section: the general set answered by candidate and base model."""
    if not general:
        return ""
    base, mine = general.get("base"), general["candidate"]
    rows = [
        ("set", str(general.get("set"))),
        ("questions", str(mine["rows"])),
        ("candidate accuracy", f"{mine['accuracy']:.4f} (no valid choice: {mine['noChoiceRate']:.1%})"),
    ]
    if base:
        rows.append((f"base model accuracy ({general.get('baseModel')})", f"{base['accuracy']:.4f}"))
        rows.append(("drop from the base model", f"{general['regression']:+.4f}"))
    return (
        "<h2>General capability (forgetting guard)</h2>"
        "<p>Multiple-choice questions outside the task, asked of the candidate and of the base model without the "
        "task's prompt, scored by the letter each answer picks. A drop means the customization cost general "
        "capability (gate: <code>maxGeneralRegression</code>).</p>" + _table(rows)
    )


def _sagemaker_evaluation(section: dict[str, Any] | None) -> str:
    """SageMaker's Nova evaluation recipes on the checkpoint: one row per task, reported and not gated."""
    if not section:
        return ""
    rows = []
    for job in section["jobs"]:
        metrics = job.get("metrics") or {}
        shown = ", ".join(f"{name} {value:.4f}" for name, value in sorted(metrics.items())) or "-"
        note = job.get("failureMessage") or ("SIMULATED" if job.get("simulated") else "")
        rows.append([str(job["task"]), str(job["status"]), shown, str(note), str(job["jobName"])])
    return (
        "<h2>SageMaker evaluation recipes (not gated)</h2>"
        f"<p>Nova evaluation recipes run as SageMaker training jobs on the checkpoint "
        f"<code>{html.escape(section['modelPath'])}</code>; their metrics are shown, not used by the gate.</p>"
        + _grid(["task", "status", "metrics", "note", "job"], rows)
    )


def data_mixing_line(mix: dict[str, Any] | None) -> str:
    """One line: the training job's data mix (empty when the run mixed nothing in)."""
    if not mix:
        return ""
    weights = ", ".join(f"{name} {percent:g}%" for name, percent in sorted(mix.get("novaDataPercent", {}).items()))
    customer = mix["customerDataPercent"]
    return (
        f"<p>Nova Forge data mixing: {customer:g}% of each training batch from your data, {100 - customer:g}% from "
        f"Amazon-curated Nova data ({html.escape(weights or 'the recipe default weights')}); SageMaker serverless "
        "training job.</p>"
    )


def render_html(report: dict[str, Any]) -> str:
    gate = report["gate"]
    verdict = gate["verdict"]
    colour = {"promoted": "#059669", "rejected": "#dc2626"}.get(verdict, "#374151")
    candidate, baseline = report["candidate"], report.get("baseline")
    info = report.get("baselineInfo") or {}
    banner = ""
    if report.get("simulated"):
        banner = (
            '<div class="sim">SIMULATED — these numbers come from the offline twin\'s simulated models, not '
            "from Amazon Nova.</div>"
        )
    if verdict == "no gate":
        headline = "No gate: no verdict (no thresholds were given)"
        reasons = ""
    else:
        headline = f"Verdict: {verdict}"
        reasons = (
            "<ul>"
            + (
                "".join(
                    f"<li class='{'ok' if r['passed'] else 'ko'}'>{'✔' if r['passed'] else '✘'} "
                    f"{html.escape(r['detail'])}</li>"
                    for r in gate["reasons"]
                )
                or "<li>no thresholds configured</li>"
            )
            + "</ul>"
        )
    latency = candidate.get("latency", {})
    run_rows = [(str(k), str(v)) for k, v in report["run"].items()]
    latency_rows = [(k, "—" if v is None else f"{v:,.1f}") for k, v in latency.items()]
    primary = report["primaryMetric"]
    summary = f"{primary}: candidate {candidate['primary']:.4f}"
    if baseline:
        summary += f", baseline {baseline['primary']:.4f}"
        if info.get("standIn"):
            summary += " (simulated stand-in, see below)"
    if report.get("promotedPrimary") is not None:
        summary += f", promoted {report['promotedPrimary']:.4f}"
    if report.get("guardrail"):
        rates = report["guardrail"]
        summary += f"; the guardrail intervened on {rates['candidate']:.1%} of the candidate's answers"
        if rates.get("baseline") is not None:
            summary += f" ({rates['baseline']:.1%} of the baseline's)"
    if "executionFallbackRows" in candidate:  # rows whose reference is empty on every test database
        summary += f"; {candidate['executionFallbackRows']} of {candidate['rows']} rows graded by canonical SQL"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nova evaluation report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:900px;color:#111}}
h1{{font-size:1.4rem}} h2{{font-size:1.1rem;margin-top:2rem}} table{{border-collapse:collapse}}
th,td{{border:1px solid #ddd;padding:4px 8px;text-align:left;font-size:.9rem;vertical-align:top}}
table.wrong td{{max-width:260px;overflow-wrap:anywhere}}
.verdict{{font-size:1.3rem;font-weight:700;color:{colour}}} .ok{{color:#065f46}} .ko{{color:#991b1b}}
.sim{{background:#fef3c7;border:2px solid #d97706;padding:.6rem;font-weight:700;margin-bottom:1rem}}
.standin{{background:#fef3c7;padding:.5rem}} .projected{{border-left:4px solid #d97706;padding-left:.6rem}}
svg{{max-width:100%;height:auto;background:#fafafa}}
</style></head><body>
{banner}
<h1>Nova customization — evaluation report</h1>
<p class="verdict">{html.escape(headline)}</p>
<p>{html.escape(summary)}</p>
{reasons}
{render_progression(report.get("stages"))}
<h2>Baseline</h2>{_baseline_section(report.get("baselineInfo"))}
<h2>Run</h2>{_table(run_rows)}{data_mixing_line(report.get("dataMixing"))}
<h2>Candidate vs baseline</h2>{_bars(candidate, baseline, info.get("model"))}
{_per_class(candidate, baseline)}
<h2>Confusion matrix (candidate)</h2>{_confusion(candidate.get("confusionMatrix")) or "<p>not classification</p>"}
{_wrong(candidate)}
{_general(report.get("general"))}
{_sagemaker_evaluation(report.get("sagemakerEvaluation"))}
{_data(report.get("data"))}
<h2>Latency (candidate)</h2>{_table(latency_rows)}{_histogram(report.get("latencyHistogramMs", []))}
<h2>Training and validation loss</h2>{_training(report.get("training"), report.get("lossCurves", {}))}
{_cost(report)}
</body></html>
"""
