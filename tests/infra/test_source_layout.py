"""Stacks compose constructs; no stack or construct file grows past a screenful or two."""

from __future__ import annotations

from pathlib import Path

import pytest

STACKS = Path(__file__).resolve().parents[2] / "stacks"
MAX_LINES = 200
FILES = sorted([*STACKS.glob("*_stack.py"), *(STACKS / "constructs").glob("*.py")])


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(STACKS)))
def test_stack_and_construct_files_stay_short(path: Path) -> None:
    lines = len(path.read_text().splitlines())

    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split a construct out"


def test_the_layout_check_sees_the_stacks_and_constructs() -> None:
    names = {path.name for path in FILES}

    assert {"pipeline_stack.py", "inference_api_stack.py", "storage_stack.py", "pipeline_function.py"} <= names
