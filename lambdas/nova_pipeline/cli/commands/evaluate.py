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
from nova_pipeline.evaluation.report import render_html
from nova_pipeline.evaluation.service import evaluation_report

GATE_KEYS = {
    "minPrimaryMetric": "min_primary_metric",
    "minGainOverBaseline": "min_gain_over_baseline",
    "maxTtftP90Ms": "max_ttft_p90_ms",
    "maxCostPer1kRequestsUsd": "max_cost_per_1k_requests_usd",
    "maxErrorRate": "max_error_rate",
}


def evaluate(args: argparse.Namespace) -> int:
    """Compute the task's metrics (and the comparison and gate when given) and write report.json + report.html."""
    try:
        candidate = read_predictions(args.predictions)
        baseline = read_predictions(args.baseline) if args.baseline else None
    except InputProblemsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
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
            "queriesPerMonth": args.queries_per_month,
            "inputTokens": args.input_tokens,
            "outputTokens": args.output_tokens,
        },
        labels=args.labels.split(",") if args.labels else None,
        run={"predictions": str(args.predictions), "baseline": str(args.baseline) if args.baseline else None},
    )
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (output / "report.html").write_text(render_html(report), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
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
    print(f"verdict: {report['gate']['verdict']}")
    for reason in report["gate"]["reasons"]:
        print(f"  {'ok  ' if reason['passed'] else 'FAIL'} {reason['detail']}")
    print(f"report: {output / 'report.html'}")
    return EXIT_OK


def cost(args: argparse.Namespace) -> int:
    """Projected monthly cost of serving a customized model on demand (tokens plus model storage); with --input, the
    training and evaluation estimate of an execution input (the cost guard's, from the prepared data)."""
    if args.input:
        from nova_pipeline.cli.commands._run_cost import run_cost

        return run_cost(args)
    if not args.model:
        print("error: give --model (serving cost) or --input (a run's training and evaluation cost)", file=sys.stderr)
        return EXIT_INVALID
    breakdown = monthly_cost(
        load_prices(args.prices),
        args.model,
        queries_per_month=args.queries_per_month,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
    )
    if args.json:
        print(json.dumps(breakdown, indent=2))
        return EXIT_OK
    print(
        f"{args.model}, {args.queries_per_month:,} queries/month x ({args.input_tokens} in + "
        f"{args.output_tokens} out) tokens, prices {breakdown['priceTable']}"
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


def _traffic(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries-per-month", type=non_negative_int, default=22_000)
    parser.add_argument("--input-tokens", type=non_negative_int, default=800)
    parser.add_argument("--output-tokens", type=non_negative_int, default=60)
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
    parser.add_argument("--output-dir", default="evaluation-report", help="where report.json/.html go")
    _traffic(parser)
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
    _traffic(parser)
    parser.set_defaults(handler=cost)
