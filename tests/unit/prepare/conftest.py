"""Helpers: an execution input for the engine and a run of `prepare` into a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.contract.execution_input import ExecutionInput, parse_execution_input
from nova_pipeline.prepare.engine import PrepareResult, prepare
from nova_pipeline.prepare.sources import OutputLocation, list_sources


def run_config(**overrides: Any) -> ExecutionInput:
    document: dict[str, Any] = {"dataset": {"uri": "unused"}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return parse_execution_input(document)


def run_prepare(source: Path, output: Path, **overrides: Any) -> PrepareResult:
    return prepare(list_sources(str(source)), run_config(**overrides), OutputLocation(str(output)))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def qa_rows(count: int, *, prefix: str = "q") -> list[dict[str, str]]:
    return [
        {"question": f"{prefix} question number {i} about topic {i % 7}", "answer": f"answer {i}"} for i in range(count)
    ]


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Any:
    def write(name: str, rows: list[dict[str, Any]]) -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        return path

    return write
