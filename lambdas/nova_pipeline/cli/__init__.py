"""`nova-pipeline`: the command line of the Nova customization pipeline.

Every subcommand uses the same domain package as the Lambdas, so a check passed here passes in AWS too. Each
subcommand lives in `nova_pipeline/cli/commands/<name>.py` and registers itself with `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

from nova_pipeline.cli import commands
from nova_pipeline.cli.errors import EXIT_FAILED, explain

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nova-pipeline",
        description="Customize, evaluate, promote and serve Amazon Nova models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  nova-pipeline validate-input examples/sft-text-to-sql-nova-micro.json",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected failure")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not module_info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{module_info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        if argv is None:
            # Run as the program (not called from Python), the process ends next: its objects need no collecting.
            # The shutdown collection over what the simulated AWS leaves (parsed state machine, moto backends) took
            # 4-5 s of every run-local on the 2-core build machine.
            gc.freeze()


def _run(args: argparse.Namespace) -> int:
    handler: Command = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if getattr(args, "debug", False):
            raise
        message, hint = explain(error)
        print(f"error: {message}", file=sys.stderr)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
