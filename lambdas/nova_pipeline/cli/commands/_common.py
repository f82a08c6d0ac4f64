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
    return parser
