"""A warm `run-local` reuses the synthesized app when none of its inputs changed, and synthesizes again when one did."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_pipeline.local import twin
from nova_pipeline.local.twin import SynthesizedApp


def test_the_synthesis_is_reused_until_an_input_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[str] = []

    def synthesize(environment: str, outdir: Path) -> SynthesizedApp:
        calls.append(environment)
        return SynthesizedApp({"stack": {"Resources": {}}}, {"asset.json": "{}"})

    monkeypatch.setattr(twin, "synthesize", synthesize)
    monkeypatch.setattr(twin, "SYNTH_CACHE", tmp_path / "cache")
    monkeypatch.setattr(twin, "synthesis_key", lambda environment: key[0])
    key = ["aaa"]

    first = twin.cached_synthesis("dev")
    again = twin.cached_synthesis("dev")
    key[0] = "bbb"  # an input of the app changed
    changed = twin.cached_synthesis("dev")

    assert calls == ["dev", "dev"]
    assert first == again == changed
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["dev-bbb.json"]


def test_the_key_follows_the_app_sources_and_the_environment() -> None:
    assert twin.synthesis_key("dev") == twin.synthesis_key("dev")
    assert twin.synthesis_key("dev") != twin.synthesis_key("prod")
    assert "stepfunctions" in twin.SYNTH_INPUTS and "stacks" in twin.SYNTH_INPUTS and "cdk.json" in twin.SYNTH_INPUTS
