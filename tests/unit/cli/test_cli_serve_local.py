"""`serve-local` chooses the model a local run promoted; a run that promoted none is refused with the way out."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_pipeline.cli import main
from nova_pipeline.local import runs


def test_serve_local_refuses_a_run_that_promoted_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(runs, "RUNS_DIR", tmp_path)
    (tmp_path / "local-rejected").mkdir()

    assert main(["serve-local", "--run", "local-rejected", "--port", "0"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: run 'local-rejected' promoted no model ({tmp_path / 'local-rejected' / 'promoted-model.json'} is "
        "missing); runs that did: none",
        "hint: nova-pipeline run-local --input FILE promotes a model when it passes the gate",
    ]
