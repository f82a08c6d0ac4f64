"""The question-quality example's data is what its generator writes (fixed seed), three balanced classes."""

from __future__ import annotations

import json
import runpy
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_questions_are_the_generators_output() -> None:
    generator = runpy.run_path(str(ROOT / "examples" / "generate_question_quality.py"))
    rows = generator["rows"]()
    committed = (ROOT / "examples" / "data" / "question-quality" / "questions.jsonl").read_text(encoding="utf-8")

    assert committed == "".join(json.dumps(row) + "\n" for row in rows)
    assert Counter(row["label"] for row in rows) == {"HQ": 200, "LQ_EDIT": 200, "LQ_CLOSE": 200}
