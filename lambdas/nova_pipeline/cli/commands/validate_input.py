"""`nova-pipeline validate-input FILE`: check an execution input exactly as the ValidateInput state does."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, read_json
from nova_pipeline.contract.catalog import CUSTOMIZABLE_MODELS
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.reference import execution_input_reference
from nova_pipeline.core.problems import InputProblemsError


def validate_input(args: argparse.Namespace) -> int:
    """Check an execution input file exactly as the ValidateInput state does."""
    document = read_json(args.file)
    try:
        parsed = parse_execution_input(document, default_base_model=args.default_base_model)
    except InputProblemsError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.print_resolved:
        print(json.dumps(parsed.model_dump(mode="json", by_alias=True), indent=2))
    else:
        print(
            f"{args.file}: valid ({parsed.method.value} of {parsed.base_model} on {parsed.platform.value}, "
            f"task {parsed.task.value})"
        )
        throughput = parsed.deployment.provisioned_throughput
        if throughput is not None:
            print(throughput.cost_line())
    return EXIT_OK


def input_reference(_args: argparse.Namespace) -> int:
    """Print the execution input reference (Markdown), generated from the pydantic model."""
    print(execution_input_reference(), end="")
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "validate-input",
        help_text="check an execution input file (as the ValidateInput state does)",
        description=validate_input.__doc__,
        example="nova-pipeline validate-input examples/sft-text-to-sql-nova-micro.json --print-resolved",
    )
    parser.add_argument("file", help="execution input JSON file")
    parser.add_argument(
        "--default-base-model",
        default="nova-micro",
        choices=CUSTOMIZABLE_MODELS,
        help="base model assumed when the input names none (the environment's default in AWS)",
    )
    parser.add_argument("--print-resolved", action="store_true", help="print the input with every default filled in")
    parser.set_defaults(handler=validate_input)

    parser = add_command(
        subparsers,
        "input-reference",
        help_text="print the execution input reference as Markdown",
        description=input_reference.__doc__,
        example="nova-pipeline input-reference > docs/execution-input.md",
    )
    parser.set_defaults(handler=input_reference)
