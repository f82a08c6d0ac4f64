"""`nova-pipeline evaluate` (metrics, gate and report from a predictions file) and `nova-pipeline cost`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, non_negative_int, read_json
from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.evaluation.cost import load_prices, monthly_cost
from nova_pipeline.evaluation.gate import Thresholds
from nova_pipeline.evaluation.predictions import read_predictions
from nova_pipeline.evaluation.report import data_summary, render_html
from nova_pipeline.evaluation.service import evaluation_report

EXIT_REJECTED = 1
REPO_ROOT = Path(__file__).resolve().parents[4]
# Reports go under the checkout's git-ignored .build/, next to the offline twin's, unless --output-dir says where.
REPORTS_DIR = REPO_ROOT / ".build" / "evaluation-reports"
DEFAULT_TRAFFIC = {"queries_per_month": 22_000, "input_tokens": 800, "output_tokens": 60}

GATE_KEYS = {
    "minPrimaryMetric": "min_primary_metric",
    "minGainOverBaseline": "min_gain_over_baseline",
    "maxTtftP90Ms": "max_ttft_p90_ms",
    "maxCostPer1kRequestsUsd": "max_cost_per_1k_requests_usd",
    "maxErrorRate": "max_error_rate",
}


def _traffic(args: argparse.Namespace) -> tuple[dict[str, int], str]:
    """The traffic flags with their defaults filled in, and where they came from (printed next to the projection)."""
    given = [name for name in DEFAULT_TRAFFIC if getattr(args, name) is not None]
    values = {name: getattr(args, name) if name in given else default for name, default in DEFAULT_TRAFFIC.items()}
    source = (
        "the command-line flags"
        if given
        else "the default traffic (--queries-per-month 22000 --input-tokens 800 --output-tokens 60)"
    )
    return values, source


def evaluate(args: argparse.Namespace) -> int:
    """Compute the task's metrics (and the comparison and gate when given) and write report.json + report.html.

    Exit codes: 0 evaluated (promoted, or no gate given), 1 rejected by the gate, 2 bad input."""
    try:
        candidate = read_predictions(args.predictions)
        baseline = read_predictions(args.baseline) if args.baseline else None
    except InputProblemsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    manifest = read_json(args.manifest) if args.manifest else None
    if manifest is not None and not isinstance(manifest, dict):
        print(f"error: {args.manifest}: not a prepare manifest (expected a JSON object)", file=sys.stderr)
        return EXIT_INVALID
    traffic, traffic_source = _traffic(args)
    gate: dict[str, Any] = read_json(args.gate_json) if args.gate_json else {}
    unknown = sorted(set(gate) - set(GATE_KEYS))
    if unknown:
        print(
            f"error: {args.gate_json}: unknown gate keys {', '.join(unknown)}; known: {', '.join(GATE_KEYS)}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    report = evaluation_report(
        candidate_rows=candidate,
        baseline_rows=baseline,
        task=TaskType(args.task),
        model=args.model,
        prices=load_prices(args.prices),
        thresholds=Thresholds(**{GATE_KEYS[k]: v for k, v in gate.items()}),
        traffic={
            "queriesPerMonth": traffic["queries_per_month"],
            "inputTokens": traffic["input_tokens"],
            "outputTokens": traffic["output_tokens"],
        },
        labels=args.labels.split(",") if args.labels else None,
        run={"predictions": str(args.predictions), "baseline": str(args.baseline) if args.baseline else None},
        baseline_info={
            "kind": "file",
            "model": None,
            "prompting": f"as recorded in {args.baseline} (this command does not know the model or the prompt)",
            "note": "no --baseline predictions were given",
        },
        traffic_source=traffic_source,
        data_summary=data_summary(manifest, args.manifest) if manifest is not None else None,
        gated=bool(gate),
    )
    output = Path(args.output_dir) if args.output_dir else REPORTS_DIR / Path(args.predictions).stem
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (output / "report.html").write_text(render_html(report), encoding="utf-8")
    verdict = report["gate"]["verdict"]
    code = EXIT_REJECTED if verdict == "rejected" else EXIT_OK
    if args.json:
        print(json.dumps(report, indent=2))
        print(f"report: {output / 'report.html'}", file=sys.stderr)
        return code
    metrics = report["candidate"]
    line = f"{metrics['primaryMetric']}: {metrics['primary']:.4f}"
    if report["baseline"]:
        line += f" (baseline {report['baseline']['primary']:.4f})"
    print(f"{len(candidate)} predictions, task {args.task}; {line}")
    for key in (
        "exactMatch",
        "normalizedExactMatch",
        "tokenF1",
        "rougeL",
        "bleu",
        "noValidLabelRate",
        "unparseableRate",
        "errorRate",
    ):
        if key in metrics:
            print(f"  {key:<22} {metrics[key]:.4f}")
    if verdict == "no gate":
        print("gate: none given, no verdict (pass --gate-json FILE to judge the candidate)")
    else:
        print(f"verdict: {verdict}")
        for reason in report["gate"]["reasons"]:
            print(f"  {'ok  ' if reason['passed'] else 'FAIL'} {reason['detail']}")
    print(f"report: {output / 'report.html'} (and report.json)")
    return code


def cost(args: argparse.Namespace) -> int:
    """Projected monthly cost of serving a customized model on demand (tokens plus model storage); with --input, the
    training and evaluation estimate of an execution input (the cost guard's, from the prepared data)."""
    if args.input:
        from nova_pipeline.cli.commands._run_cost import run_cost

        return run_cost(args)
    if not args.model:
        print("error: give --model (serving cost) or --input (a run's training and evaluation cost)", file=sys.stderr)
        return EXIT_INVALID
    traffic, _ = _traffic(args)
    breakdown = monthly_cost(
        load_prices(args.prices),
        args.model,
        queries_per_month=traffic["queries_per_month"],
        input_tokens=traffic["input_tokens"],
        output_tokens=traffic["output_tokens"],
    )
    if args.json:
        print(json.dumps(breakdown, indent=2))
        return EXIT_OK
    print(
        f"{args.model}, {traffic['queries_per_month']:,} queries/month x ({traffic['input_tokens']} in + "
        f"{traffic['output_tokens']} out) tokens, prices {breakdown['priceTable']}"
    )
    print(f"  input tokens    ${breakdown['inputCost']:.3f}")
    print(f"  output tokens   ${breakdown['outputCost']:.3f}")
    print(f"  inference       ${breakdown['inferenceCost']:.2f}/month")
    print(f"  model storage   ${breakdown['storageCost']:.2f}/month")
    print(
        f"  total           ${breakdown['totalMonthly']:.2f}/month  (${breakdown['costPer1kRequests']:.4f} per "
        "1,000 requests)"
    )
    return EXIT_OK


def _traffic_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries-per-month", type=non_negative_int, help="default 22000")
    parser.add_argument("--input-tokens", type=non_negative_int, help="average per request, default 800")
    parser.add_argument("--output-tokens", type=non_negative_int, help="average per request, default 60")
    parser.add_argument("--prices", metavar="FILE", help="price table JSON (default: the shipped table)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "evaluate",
        help_text="metrics, gate verdict and report from a predictions file",
        description=evaluate.__doc__,
        example="nova-pipeline evaluate --predictions examples/predictions/classification.jsonl --task classification",
    )
    parser.add_argument("--predictions", required=True, help="candidate predictions JSONL")
    parser.add_argument("--task", required=True, choices=[t.value for t in TaskType])
    parser.add_argument("--baseline", help="baseline predictions JSONL (same rows)")
    parser.add_argument("--labels", help="classification labels, comma-separated (default: those seen)")
    parser.add_argument("--model", default="nova-micro", choices=sorted(load_prices().models))
    parser.add_argument("--gate-json", metavar="FILE", help='thresholds, e.g. {"minPrimaryMetric": 0.8}')
    parser.add_argument("--manifest", metavar="FILE", help="prepare's manifest.json: the report's data summary")
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="where report.json/.html go (default: .build/evaluation-reports/<predictions file name>/ in the checkout)",
    )
    _traffic_flags(parser)
    parser.set_defaults(handler=evaluate)

    parser = add_command(
        subparsers,
        "cost",
        help_text="projected monthly cost of a customized model on demand",
        description=cost.__doc__,
        example="nova-pipeline cost --model nova-micro --queries-per-month 22000 --input-tokens 800 "
        "--output-tokens 60\n  nova-pipeline cost --input examples/sft-text-to-sql-nova-micro.json "
        "--data examples/data/text-to-sql",
    )
    parser.add_argument("--model", choices=sorted(load_prices().models))
    parser.add_argument("--input", metavar="FILE", help="an execution input: estimate its training and evaluation")
    parser.add_argument(
        "--data",
        metavar="PATH_OR_S3",
        help="with --input: the dataset (default: dataset.uri when it is local or s3://)",
    )
    _traffic_flags(parser)
    parser.set_defaults(handler=cost)
