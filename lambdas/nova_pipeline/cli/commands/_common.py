"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_INVALID = 2


def read_json(path: str) -> Any:
    """Read a JSON file or exit with a message naming the file, line and column."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SystemExit(f"error: cannot read {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"error: {path} line {error.lineno} column {error.colno}: invalid JSON: {error.msg}") from None


def add_command(
    subparsers: Any, name: str, *, help_text: str, description: str | None, example: str
) -> argparse.ArgumentParser:
    """A subcommand parser whose --help ends with an example."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"example:\n  {example}",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected failure")
    return parser


def environment_block(environment: str) -> dict[str, Any]:
    """The block of an environment in cdk.json (the repository's, found from the working directory up)."""
    from pathlib import Path as _Path

    for folder in (_Path.cwd(), *_Path.cwd().parents, _Path(__file__).resolve().parents[4]):
        config = folder / "cdk.json"
        if config.is_file():
            environments = json.loads(config.read_text(encoding="utf-8"))["context"].get("nova:environments", {})
            if environment not in environments:
                allowed = ", ".join(sorted(environments))
                raise SystemExit(f"error: unknown environment {environment!r} in {config}; allowed: {allowed}")
            block: dict[str, Any] = environments[environment]
            return block
    raise SystemExit("error: no cdk.json found here or above; pass --region")


def environment_region(environment: str) -> str:
    """The region of an environment of cdk.json."""
    return str(environment_block(environment).get("region", "us-east-1"))


def aws_session(args: argparse.Namespace) -> Any:
    """A boto3 session for `--profile`, in `--region` or else the region of `--env` in cdk.json."""
    import boto3

    region = getattr(args, "region", None) or environment_region(args.env)
    return boto3.Session(profile_name=getattr(args, "profile", None), region_name=region)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of zero or more (a count of queries or tokens)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value
