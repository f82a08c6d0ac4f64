"""Class labels that differ only by case, whitespace or punctuation (issue 14, item 7): named with their counts in
the manifest and on the command line, or refused with `dataset.labelVariants: fail`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.cli import main
from nova_pipeline.prepare.engine import InvalidDataset
from nova_pipeline.prepare.labels import label_key, label_variants
from tests.unit.prepare.conftest import run_prepare

SYSTEM = "Classify the ticket into one of: bug, feature_request. Answer with the label only."
WARNING = (
    "labels 'feature_request' (20 examples), 'Feature_Request' (1 example) differ only by case, whitespace or "
    "punctuation and are counted as 2 separate classes ('Feature_Request' not in the system prompt); correct the "
    "labels in the data so each class has one spelling"
)


def tickets() -> list[dict[str, str]]:
    rows = [{"text": f"the app crashes on screen {i}", "label": "bug"} for i in range(20)]
    rows += [{"text": f"please add export format {i}", "label": "feature_request"} for i in range(20)]
    rows.append({"text": "please add a dark mode", "label": "Feature_Request"})
    return rows


def classification(**dataset: Any) -> dict[str, Any]:
    return {
        "task": "classification",
        "dataset": {"uri": "unused", "columns": {"question": "text", "answer": "label"}, **dataset},
        "prompt": {"system": SYSTEM},
    }


def test_spellings_of_one_label_share_a_key() -> None:
    assert {label_key(s) for s in ("Feature_Request", "feature request", " FEATURE-request ", "FeatureRequest")} == {
        "featurerequest"
    }
    assert label_key("bug") != label_key("bugs")


def test_variants_are_named_with_their_counts_most_frequent_first() -> None:
    found = label_variants({"bug": 20, "Feature_Request": 1, "feature_request": 20}, SYSTEM)

    assert found == [
        {
            "variants": {"feature_request": 20, "Feature_Request": 1},
            "notInSystemPrompt": ["Feature_Request"],
            "warning": WARNING,
        }
    ]
    assert label_variants({"bug": 3, "billing": 2}) == []


def test_prepare_lists_the_variants_in_the_manifest(write_jsonl: Any, tmp_path: Path) -> None:
    result = run_prepare(write_jsonl("tickets.jsonl", tickets()), tmp_path / "out", **classification())

    assert [item["warning"] for item in result.manifest["labelVariants"]] == [WARNING]
    assert result.manifest["labelVariants"][0]["variants"] == {"feature_request": 20, "Feature_Request": 1}
    assert (tmp_path / "out" / "manifest.json").exists()


def test_prepare_can_refuse_them(write_jsonl: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset) as raised:
        run_prepare(write_jsonl("tickets.jsonl", tickets()), tmp_path / "out", **classification(labelVariants="fail"))

    assert raised.value.problems == [WARNING]
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_other_tasks_are_not_checked(write_jsonl: Any, tmp_path: Path) -> None:
    rows = [{"question": row["text"], "answer": row["label"]} for row in tickets()]

    result = run_prepare(write_jsonl("qa.jsonl", rows), tmp_path / "out")

    assert result.manifest["labelVariants"] == []


def test_the_cli_warns_and_fails_on_request(
    write_jsonl: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = str(write_jsonl("tickets.jsonl", tickets()))
    flags = ["prepare", "--input", source, "--task", "classification", "--question-column", "text"]
    flags += ["--answer-column", "label", "--system-prompt", SYSTEM]

    assert main([*flags, "--output-dir", str(tmp_path / "warned")]) == 0
    assert f"warning: {WARNING} (or stop on them: --label-variants fail)" in capsys.readouterr().err

    assert main([*flags, "--output-dir", str(tmp_path / "failed"), "--label-variants", "fail"]) == 2
    assert f"  - {WARNING}" in capsys.readouterr().err


def test_validate_warns_about_variants_in_a_training_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def record(text: str, label: str) -> str:
        return json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": SYSTEM}],
                "messages": [
                    {"role": "user", "content": [{"text": text}]},
                    {"role": "assistant", "content": [{"text": label}]},
                ],
            }
        )

    labels = ["bug"] * 20 + ["feature_request"] * 19 + ["Feature_Request"]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(record(f"ticket {i}", label) + "\n" for i, label in enumerate(labels)))

    code = main(["validate", str(train), "--model", "nova-micro", "--method", "sft", "--task", "classification"])

    captured = capsys.readouterr()
    assert code == 0
    assert captured.err.splitlines()[-1] == (
        "warning: labels 'feature_request' (19 examples), 'Feature_Request' (1 example) differ only by case, "
        "whitespace or punctuation and are counted as 2 separate classes; correct the labels in the data so each "
        "class has one spelling"
    )
