"""`nova-pipeline cost --input F`: the training and evaluation estimate CheckBudget makes, before a run.

The data is prepared locally exactly as PrepareData prepares it (into a temporary folder), and the estimate comes
from its manifest, so the figure equals the one the cost guard computes in AWS for the same data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, read_json
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.estimate import DataSize, estimate_cost, format_estimate


def _dataset(args: argparse.Namespace, uri: str) -> str | None:
    """`--data`, else the input's `dataset.uri` when it is an s3:// URI or a local path (relative to the input)."""
    if args.data:
        return str(args.data)
    if uri.startswith("s3://"):
        return uri
    local = Path(args.input).resolve().parent / uri
    return str(local) if local.exists() else None


def run_cost(args: argparse.Namespace) -> int:
    from nova_pipeline.prepare.engine import InvalidDataset, prepare
    from nova_pipeline.prepare.sources import OutputLocation, SourceError, list_sources

    try:
        run = parse_execution_input(read_json(args.input))
    except InputProblemsError as error:
        print(f"error: {args.input}: {error}", file=sys.stderr)
        return EXIT_INVALID
    data = _dataset(args, run.dataset.uri)
    if data is None:
        print(
            f"error: {args.input}: dataset.uri {run.dataset.uri!r} is a key of the environment's data bucket; give "
            "--data with a local copy or its s3:// URI",
            file=sys.stderr,
        )
        return EXIT_INVALID
    s3 = None
    if data.startswith("s3://"):
        import boto3

        s3 = boto3.client("s3")
    with tempfile.TemporaryDirectory(prefix="nova-cost-") as folder:
        try:
            result = prepare(list_sources(data, s3), run, OutputLocation(folder, s3), s3=s3)
        except (SourceError, InvalidDataset) as error:
            print(f"error: {data}: {error}", file=sys.stderr)
            return EXIT_INVALID
    estimate = estimate_cost(run, DataSize.from_manifest(result.manifest), load_prices(args.prices))
    if args.json:
        print(json.dumps(estimate.dump(), indent=2))
    else:
        print(format_estimate(estimate.dump()))
        throughput = run.deployment.provisioned_throughput
        if throughput is not None:  # billed by the hour from its creation, on top of the run's estimate
            print(f"  {throughput.cost_line()}")
    return EXIT_OK if estimate.within_budget else EXIT_INVALID
