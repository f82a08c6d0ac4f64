"""`nova-pipeline plan`: every AWS request an execution would make, with the role that makes it, before a paid run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, read_json
from nova_pipeline.evaluation.estimate import format_estimate

# Requests that create, start, change or delete something: shown with their whole body.
MUTATING = ("Create", "Start", "Put", "Publish", "Delete", "Stop", "Invoke", "Converse", "Upload", "Complete")


def _role(principal: str) -> str:
    return principal.rsplit("/", 1)[-1]


def _body(params: dict[str, Any]) -> str:
    return json.dumps(params, indent=2, sort_keys=True, default=str)


def plan(args: argparse.Namespace) -> int:
    """Dry-run the execution offline (simulated AWS, IAM enforced) and list every request with its principal."""
    from nova_pipeline.local.twin import OfflineTwin, TwinOptions

    execution_input = read_json(args.input)
    print(f"synthesizing the {args.env} environment and dry-running the execution offline ...", file=sys.stderr)
    with OfflineTwin(TwinOptions(environment=args.env, approval="approve")) as twin:
        twin.upload_example_data()
        execution_input = twin.upload_local_dataset(execution_input, Path(args.input).resolve().parent)
        result = twin.run(execution_input, name=args.name)
        assert twin.authorizer is not None
        requests = list(twin.authorizer.requests)
    lines = [f"execution {result.name} (simulated): {result.status}; {len(requests)} AWS requests", ""]
    hourly = hourly_cost(execution_input)
    if hourly:  # billed per hour from its creation until it is deleted: shown first
        lines[1:1] = [hourly, ""]
    for number, request in enumerate(requests, 1):
        call = f"{request.service}:{request.operation}"
        lines.append(f"{number:>4}. {call:<45} as {_role(request.principal)}")
        if args.all_bodies or request.operation.startswith(MUTATING):
            lines += ["        " + line for line in _body(request.params).splitlines()]
    estimate = (result.output or {}).get("estimate")
    if estimate:
        lines += ["", format_estimate(estimate)]
    if result.status != "SUCCEEDED":
        lines += ["", f"error: {result.error}", f"cause: {result.cause}"]
    reason = ((result.output or {}).get("evaluation") or {}).get("reason")
    if reason:  # e.g. a full-rank run: imported, not deployed
        lines += ["", f"note: {reason}"]
    print("\n".join(lines))
    if args.output_json:
        document = [
            {"principal": r.principal, "service": r.service, "operation": r.operation, "params": r.params}
            for r in requests
        ]
        with open(args.output_json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, default=str)
    return EXIT_OK if result.status == "SUCCEEDED" else EXIT_INVALID


def hourly_cost(document: Any) -> str | None:
    """The hourly cost of the Provisioned Throughput the input asks for (None without one or for an invalid input,
    which the run itself reports)."""
    from nova_pipeline.contract.execution_input import parse_execution_input
    from nova_pipeline.core.problems import InputProblemsError

    try:
        throughput = parse_execution_input(document).deployment.provisioned_throughput
    except InputProblemsError:
        return None
    return throughput.cost_line() if throughput is not None else None


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "plan",
        help_text="list every AWS request an execution would make, with the role that makes it (offline dry run)",
        description=plan.__doc__,
        example="nova-pipeline plan --input examples/sft-text-to-sql-nova-micro.json --env prod",
    )
    parser.add_argument("--input", required=True, help="execution input JSON file")
    parser.add_argument("--env", default="dev", help="environment of cdk.json to synthesize (default dev)")
    parser.add_argument("--name", help="execution name (default: local-<time>-<random>)")
    parser.add_argument("--all-bodies", action="store_true", help="print the body of every request, reads too")
    parser.add_argument("--output-json", metavar="FILE", help="also write every request as JSON to FILE")
    parser.set_defaults(handler=plan)
