"""Handler test helpers: a Lambda context and the function environment the construct sets."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def function_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NOVA_ENVIRONMENT", "test")
    monkeypatch.setenv("NOVA_DEFAULT_BASE_MODEL", "nova-lite")
    monkeypatch.setenv("NOVA_GATE_DEFAULTS", "{}")
    monkeypatch.setenv("NOVA_APPROVAL", '{"required": false, "timeoutSeconds": 259200}')
    monkeypatch.setenv("NOVA_GUARDRAIL_ID", "")
    yield


def load_handler(function_dir: str) -> ModuleType:
    """Import `lambdas/<function_dir>/handler.py` as Lambda does (each function has its own `handler` module)."""
    name = f"handler_{function_dir}"
    spec = importlib.util.spec_from_file_location(name, LAMBDAS / function_dir / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class HandlerModule:
    """A handler module loaded on first use under the current environment, as a cold start would load it.

    Handlers parse their settings at import, so a test that changes the environment gets a fresh cold start; within
    one environment the same module (and its exception classes) is reused.
    """

    def __init__(self, function_dir: str) -> None:
        self.function_dir = function_dir
        self._loaded: dict[frozenset[tuple[str, str]], ModuleType] = {}

    def __getattr__(self, name: str) -> object:
        environment = frozenset((k, v) for k, v in os.environ.items() if k.startswith("NOVA_"))
        if environment not in self._loaded:
            self._loaded[environment] = load_handler(self.function_dir)
        return getattr(self._loaded[environment], name)
