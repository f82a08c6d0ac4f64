"""The evaluation report: `report.json` (the record) and a self-contained `report.html` (inline SVG charts, no
external assets, every user-provided string escaped).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from typing import Any

from nova_pipeline.evaluation.progression import render_progression

SCHEMA_VERSION = "1"
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
    loss_curves: dict[str, list[tuple[float, float]]] | None = None,
    simulated: bool = False,
    latencies_ms: Sequence[float] = (),
) -> dict[str, Any]:
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
        "promotedPrimary": promoted_primary,
        "gate": gate,
        "cost": cost,
        "evaluationCost": evaluation_cost,
        "lossCurves": {name: [list(point) for point in points] for name, points in (loss_curves or {}).items()},
        "latencyHistogramMs": list(latencies_ms),
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
def _bars(candidate: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    names = [n for n in COMPARED if isinstance(candidate.get(n), int | float)]
    if not names:
        return ""
    width, row = 560, 26
    height = row * len(names) + 30
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="metrics">']
    for i, name in enumerate(names):
        y = 10 + i * row
        c = float(candidate[name])
        parts.append(f'<text x="0" y="{y + 12}" font-size="12">{html.escape(name)}</text>')
        parts.append(f'<rect x="170" y="{y}" width="{c * 300:.1f}" height="10" fill="#2563eb"/>')
        parts.append(f'<text x="{175 + c * 300:.1f}" y="{y + 9}" font-size="10">{c:.3f}</text>')
        if baseline and isinstance(baseline.get(name), int | float):
            b = float(baseline[name])
            parts.append(f'<rect x="170" y="{y + 11}" width="{b * 300:.1f}" height="10" fill="#9ca3af"/>')
            parts.append(f'<text x="{175 + b * 300:.1f}" y="{y + 20}" font-size="10">{b:.3f}</text>')
    parts.append(
        f'<text x="170" y="{height - 4}" font-size="11"><tspan fill="#2563eb">■ candidate</tspan> '
        '<tspan fill="#6b7280">■ baseline</tspan></text></svg>'
    )
    return "".join(parts)


def _confusion(matrix: dict[str, Any] | None) -> str:
    if not matrix:
        return ""
    labels, columns, counts = matrix["labels"], matrix["predicted"], matrix["counts"]
    peak = max((max(row) for row in counts if row), default=1) or 1
    cell = 44
    width, height = 130 + cell * len(columns), 40 + cell * len(labels)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="confusion matrix">']
    for j, name in enumerate(columns):
        parts.append(f'<text x="{130 + j * cell + 4}" y="14" font-size="9">{html.escape(name[:9])}</text>')
    for i, name in enumerate(labels):
        y = 24 + i * cell
        parts.append(f'<text x="0" y="{y + cell / 2}" font-size="10">{html.escape(name[:18])}</text>')
        for j, value in enumerate(counts[i]):
            shade = int(235 - 180 * value / peak)
            parts.append(
                f'<rect x="{130 + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgb({shade},{shade},255)"/><text x="{130 + j * cell + 12}" y="{y + cell / 2 + 4}" '
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
    width, height = 560, 160
    bar = (width - 40) / bins
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="latency histogram">']
    for i, count in enumerate(counts):
        h = (height - 40) * count / peak
        parts.append(
            f'<rect x="{30 + i * bar:.1f}" y="{height - 25 - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}"'
            ' fill="#059669"/>'
        )
    parts.append(
        f'<text x="30" y="{height - 8}" font-size="10">{low:.0f} ms</text>'
        f'<text x="{width - 80}" y="{height - 8}" font-size="10">{high:.0f} ms</text></svg>'
    )
    return "".join(parts)


def _curves(curves: dict[str, list[list[float]]]) -> str:
    points = [p for series in curves.values() for p in series]
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    width, height = 560, 200
    colours = ["#dc2626", "#7c3aed"]
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="loss curves">']
    for k, (name, series) in enumerate(sorted(curves.items())):
        coords = " ".join(
            f"{40 + (x - x0) / ((x1 - x0) or 1) * (width - 60):.1f},"
            f"{height - 30 - (y - y0) / ((y1 - y0) or 1) * (height - 50):.1f}"
            for x, y in series
        )
        parts.append(f'<polyline fill="none" stroke="{colours[k % 2]}" stroke-width="2" points="{coords}"/>')
        parts.append(
            f'<text x="{width - 150}" y="{16 + k * 14}" font-size="11" fill="{colours[k % 2]}">'
            f"{html.escape(name)}</text>"
        )
    parts.append(
        f'<text x="4" y="14" font-size="10">{y1:.2f}</text><text x="4" y="{height - 30}" font-size="10">'
        f"{y0:.2f}</text></svg>"
    )
    return "".join(parts)


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def render_html(report: dict[str, Any]) -> str:
    gate = report["gate"]
    verdict = gate["verdict"]
    colour = "#059669" if verdict == "promoted" else "#dc2626"
    candidate, baseline = report["candidate"], report.get("baseline")
    banner = ""
    if report.get("simulated"):
        banner = (
            '<div class="sim">SIMULATED — these numbers come from the offline twin\'s simulated models, not '
            "from Amazon Nova.</div>"
        )
    reasons = (
        "".join(
            f"<li class='{'ok' if r['passed'] else 'ko'}'>{'✔' if r['passed'] else '✘'} {html.escape(r['detail'])}</li>"
            for r in gate["reasons"]
        )
        or "<li>no thresholds configured</li>"
    )
    cost = report["cost"]
    latency = candidate.get("latency", {})
    run_rows = [(str(k), str(v)) for k, v in report["run"].items()]
    cost_rows = [
        ("model", str(cost.get("model"))),
        ("price table", str(cost.get("priceTable"))),
        ("queries / month", f"{cost.get('queriesPerMonth', 0):,}"),
        ("tokens per query (in / out)", f"{cost.get('inputTokensPerQuery')} / {cost.get('outputTokensPerQuery')}"),
        ("inference / month", f"${cost.get('inferenceCost', 0):.4f}"),
        ("custom model storage / month", f"${cost.get('storageCost', 0):.2f}"),
        ("total / month", f"${cost.get('totalMonthly', 0):.4f}"),
        ("cost per 1,000 requests", f"${cost.get('costPer1kRequests', 0):.6f}"),
        ("this evaluation's token cost", f"${report['evaluationCost'].get('total', 0):.6f}"),
    ]
    latency_rows = [(k, "—" if v is None else f"{v:,.1f}") for k, v in latency.items()]
    primary = report["primaryMetric"]
    summary = f"{primary}: candidate {candidate['primary']:.4f}"
    if baseline:
        summary += f", baseline {baseline['primary']:.4f}"
    if report.get("promotedPrimary") is not None:
        summary += f", promoted {report['promotedPrimary']:.4f}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nova evaluation report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:900px;color:#111}}
h1{{font-size:1.4rem}} h2{{font-size:1.1rem;margin-top:2rem}} table{{border-collapse:collapse}}
th,td{{border:1px solid #ddd;padding:4px 8px;text-align:left;font-size:.9rem}}
.verdict{{font-size:1.3rem;font-weight:700;color:{colour}}} .ok{{color:#065f46}} .ko{{color:#991b1b}}
.sim{{background:#fef3c7;border:2px solid #d97706;padding:.6rem;font-weight:700;margin-bottom:1rem}}
svg{{max-width:100%;height:auto;background:#fafafa}}
</style></head><body>
{banner}
<h1>Nova customization — evaluation report</h1>
<p class="verdict">Verdict: {html.escape(verdict)}</p>
<p>{html.escape(summary)}</p>
<ul>{reasons}</ul>
{render_progression(report.get("stages"))}
<h2>Run</h2>{_table(run_rows)}
<h2>Candidate vs baseline</h2>{_bars(candidate, baseline)}
<h2>Confusion matrix (candidate)</h2>{_confusion(candidate.get("confusionMatrix")) or "<p>not classification</p>"}
<h2>Latency (candidate)</h2>{_table(latency_rows)}{_histogram(report.get("latencyHistogramMs", []))}
<h2>Training and validation loss</h2>{_curves(report.get("lossCurves", {})) or "<p>no loss curves found</p>"}
<h2>Cost</h2>{_table(cost_rows)}
</body></html>
"""
