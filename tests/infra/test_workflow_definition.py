"""The Python-built workflow is the ASL file it replaces, state for state."""

from __future__ import annotations

import json
from pathlib import Path

from stepfunctions.workflow import definition

ASL_FILE = Path(__file__).resolve().parents[2] / "stepfunctions" / "customization.asl.json"


def test_definition_equals_the_asl_file() -> None:
    expected = json.loads(ASL_FILE.read_text())
    built = definition()

    assert set(built["States"]) == set(expected["States"])
    for name, state in expected["States"].items():
        assert built["States"][name] == state, name
    assert built == expected
    assert list(built["States"]) == list(expected["States"])  # same order too, so the synthesized JSON reads the same
