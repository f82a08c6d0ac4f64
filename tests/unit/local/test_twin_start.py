"""What keeps a warm `run-local` short: moto's Batch and EC2 models are not imported for a run that uses neither,
and the program skips the shutdown collection (both measured in docs/benchmarks.md, not asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nova_pipeline import cli

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import sys
from nova_pipeline.local.twin import defer_moto_batch
defer_moto_batch()
import moto.stepfunctions.parser.models  # the interpreter imports moto.batch.utils
print(sorted(m for m in ("moto.batch.models", "moto.ec2") if m in sys.modules))
from moto.backends import get_backend
from moto.batch import models
print(type(get_backend("batch")).__name__, models.batch_backends is get_backend("batch"))
"""


def test_the_step_functions_interpreter_starts_without_the_batch_and_ec2_models() -> None:
    env = {"PYTHONPATH": f"{ROOT / 'lambdas'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)

    assert done.stdout.splitlines() == ["[]", "BackendDict True"]  # deferred, and still there when asked for


def test_only_the_program_skips_the_shutdown_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(cli.gc, "freeze", lambda: frozen.append(True))

    assert cli.main(["input-reference"]) == 0
    assert frozen == []  # called from Python (tests): nothing frozen
    monkeypatch.setattr(sys, "argv", ["nova-pipeline", "input-reference"])
    assert cli.main() == 0
    assert frozen == [True]


def test_a_synthesis_is_announced_with_its_reason_and_a_cache_hit_is_silent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from nova_pipeline.local import twin

    monkeypatch.setattr(twin, "SYNTH_CACHE", tmp_path)
    monkeypatch.setattr(twin, "synthesis_key", lambda environment: "new")

    assert twin.synthesis_progress("dev") == "synthesizing the dev app (first run; 10-60 s, once) ..."
    (tmp_path / "dev-old.json").write_text("{}")
    assert twin.synthesis_progress("dev") == (
        "synthesizing the dev app (its sources changed since the last run; 10-60 s, once) ..."
    )
    (tmp_path / "dev-new.json").write_text("{}")
    assert twin.synthesis_progress("dev") is None
