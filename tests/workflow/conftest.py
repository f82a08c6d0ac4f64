"""The synthesized app, once per session, and a helper to run one execution through the offline twin."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.local.simulator import SimulatorSettings
from nova_pipeline.local.twin import OfflineTwin, SynthesizedApp, TwinOptions, synthesize

ROOT = Path(__file__).resolve().parents[2]
FAST = {"job_seconds": 0.2, "deployment_seconds": 0.1}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesize("dev", tmp_path_factory.mktemp("twin-cdk-out"))


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "examples" / name).read_text())
    return document


TwinFactory = Callable[..., Any]


@pytest.fixture
def offline_twin(synthesized: SynthesizedApp) -> Callable[..., Any]:
    @contextmanager
    def make(
        fail_at: str | None = None, function_environment: dict[str, str] | None = None, **simulator: Any
    ) -> Iterator[OfflineTwin]:
        options = TwinOptions(
            fail_at=fail_at,
            simulator=SimulatorSettings(**{**FAST, **simulator}),
            function_environment=function_environment or {},
        )
        with OfflineTwin(options, synthesized) as twin:
            twin.upload_example_data()
            yield twin

    return make
