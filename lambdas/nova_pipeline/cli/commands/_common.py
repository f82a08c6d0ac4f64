"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_INVALID = 2


MAX_INPUT_BYTES = 256 * 1024  # the largest execution input Step Functions accepts (StartExecution `input`)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _input_problem(message: str) -> SystemExit:
    """Exit 2 (an input problem) with `message` on stderr."""
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(EXIT_INVALID)


def read_json(path: str) -> Any:
    """Read a JSON file (an execution input, a configuration) or exit 2 with a message naming the file and line:
    unreadable, larger than an execution input can be, not UTF-8, invalid or too deeply nested JSON."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as error:
        raise _input_problem(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise _input_problem(
            f"{path}: larger than {MAX_INPUT_BYTES // 1024} KiB, the most Step Functions accepts as an execution input"
        )
    if data.startswith(_UTF16_BOMS):
        raise _input_problem(f"{path} line 1: UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _input_problem(f"{path} line {line}: not UTF-8 text ({error.reason}); save it as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _input_problem(f"{path} line {error.lineno} column {error.colno}: invalid JSON: {error.msg}") from None
    except RecursionError:
        raise _input_problem(
            f"{path} line {_deepest_line(text)}: invalid JSON: nested too deeply (more than about 1,000 levels)"
        ) from None


def _deepest_line(text: str, limit: int = 500) -> int:
    """The line where brackets outside strings first nest deeper than `limit` (1 when they never do)."""
    depth, inside, escaped, line = 0, False, False, 1
    for character in text:
        if character == "\n":
            line += 1
        elif inside:
            escaped, inside = (False, True) if escaped else (character == "\\", character != '"')
        elif character == '"':
            inside = True
        elif character in "[{":
            depth += 1
            if depth > limit:
                return line
        elif character in "]}":
            depth -= 1
    return 1


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
