"""Class labels that differ only by case, whitespace or punctuation (`Feature_Request`, `feature_request`,
`feature request`): kept apart they become separate classes that the grader and the metrics, which compare labels
case- and punctuation-insensitively, cannot tell apart, and the rarer spelling is usually missing from the system
prompt's label list. Preparation names every such group with its counts (`dataset.labelVariants`: `warn` lists them
in the manifest and the report's data summary, `fail` stops before any paid job).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

FIX_HINT = "correct the labels in the data so each class has one spelling"


def label_key(label: str) -> str:
    """The form two spellings of one class share: accents, case, whitespace and punctuation (`_`, `-`) removed."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return "".join(character for character in text.lower() if character.isalnum())


def label_variants(counts: Mapping[str, int], system_prompt: str | None = None) -> list[dict[str, Any]]:
    """Every group of two or more labels with the same `label_key`, most frequent spelling first, with a warning
    naming the spellings, their example counts and those the system prompt does not name."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for label, count in counts.items():
        groups.setdefault(label_key(label), []).append((label, count))
    found = []
    for spellings in groups.values():
        if len(spellings) < 2:
            continue
        spellings.sort(key=lambda item: (-item[1], item[0]))
        named = ", ".join(f"{label!r} ({count} example{'s' if count != 1 else ''})" for label, count in spellings)
        unprompted = [label for label, _ in spellings if system_prompt and label not in system_prompt]
        missing = f" ({', '.join(map(repr, unprompted))} not in the system prompt)" if unprompted else ""
        found.append(
            {
                "variants": dict(spellings),
                "notInSystemPrompt": unprompted,
                "warning": f"labels {named} differ only by case, whitespace or punctuation and are counted as "
                f"{len(spellings)} separate classes{missing}; {FIX_HINT}",
            }
        )
    return sorted(found, key=lambda item: next(iter(item["variants"])))
