"""`nova-pipeline`: the command line of the Nova customization pipeline.

Every subcommand uses the same domain package as the Lambdas, so a check passed here passes in AWS too. Each
subcommand lives in `nova_pipeline/cli/commands/<name>.py` and registers itself with `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

from nova_pipeline.cli import commands

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nova-pipeline",
        description="Customize, evaluate, promote and serve Amazon Nova models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  nova-pipeline validate-input examples/sft-text-to-sql-nova-micro.json",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not module_info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{module_info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
