"""Which kind of file `nova-pipeline prepare` wrote, told from its first record, and the record checks of the
kinds the training-data engine does not read: RFT training files and evaluation splits.

`prepare` writes four kinds (`finalize.conversation`, `finalize.rft`, `finalize.evaluation`):

- SFT: Bedrock conversation records (`schemaVersion`, `messages` with content blocks) ending with the assistant;
- distillation: the same records holding the user turn only (the teacher answers it);
- RFT: OpenAI chat records (`messages` of `system`/`user` only, the user turn last) with `reference_answer` and the
  grader's fields (NOVA_FACTS.md, "RFT record": `{"messages": [...], "reference_answer": ..., <extra fields>}`);
- evaluation split (`test.jsonl`): `id`, `system`, `prompt`, `reference` (and `label`, `context`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from nova_pipeline.prepare.reading import NESTED_TOO_DEEPLY
from nova_pipeline.prepare.records import estimate_tokens

MAX_REPORTED = 20
PREPARE_FIRST = "run `nova-pipeline prepare` first"
PREPARE_HINT = (
    "nova-pipeline prepare --input DATA --output-dir DIR --config RUN.json writes train.jsonl, validation.jsonl and "
    "test.jsonl; validate those"
)


class FileKind(StrEnum):
    SFT = "sft"
    DISTILLATION = "distillation"
    RFT = "rft"
    EVALUATION = "evaluation"


DESCRIPTIONS = {
    FileKind.SFT: "an SFT training file (conversation records ending with the assistant's answer)",
    FileKind.DISTILLATION: "a distillation training file (conversation records holding the user turn only)",
    FileKind.RFT: "an RFT training file (chat records ending with the user turn, with reference_answer)",
    FileKind.EVALUATION: "an evaluation split (records with prompt and reference, as test.jsonl)",
}


class NotPreparedData(Exception):  # noqa: N818 - the file is not one `prepare` writes; carries the hint
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def detect(name: str, first_line: bytes) -> FileKind:
    """The kind of file whose first non-empty line is `first_line`; NotPreparedData for CSV, raw rows, non-JSON."""
    text = first_line.strip().lstrip(b"\xef\xbb\xbf")
    if not text:
        raise NotPreparedData(f"{name}: the file is empty", PREPARE_HINT)
    if not text.startswith((b"{", b"[")):
        looks_csv = name.lower().endswith((".csv", ".tsv")) or b"," in text or b"\t" in text
        what = "this is CSV" if looks_csv else "this is not JSONL"
        raise NotPreparedData(f"{name}: {what}: {PREPARE_FIRST}", PREPARE_HINT)
    try:
        record = json.loads(text)
    except ValueError as error:
        raise NotPreparedData(f"{name} line 1: invalid JSON: {error}", "each line must be one JSON object") from None
    except RecursionError:
        raise NotPreparedData(
            f"{name} line 1: invalid JSON: {NESTED_TOO_DEEPLY}", "each line must be one JSON object"
        ) from None
    if not isinstance(record, dict):
        raise NotPreparedData(f"{name} line 1: expected a JSON object, got {type(record).__name__}", PREPARE_HINT)
    if "reference_answer" in record and "messages" in record:
        return FileKind.RFT
    if "prompt" in record and "reference" in record:
        return FileKind.EVALUATION
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1]
        return FileKind.DISTILLATION if isinstance(last, dict) and last.get("role") == "user" else FileKind.SFT
    fields = ", ".join(sorted(record)[:8]) or "none"
    raise NotPreparedData(
        f"{name} line 1: raw records (fields {fields}), not a training file: {PREPARE_FIRST}", PREPARE_HINT
    )


def wrong_kind(name: str, found: FileKind, wanted: FileKind) -> NotPreparedData | None:
    """The refusal when a file of kind `found` is checked as `wanted` (an SFT file may also feed distillation: the
    teacher answers the user turn and the answer given is ignored); None when the kinds fit."""
    if found is wanted or (found is FileKind.SFT and wanted is FileKind.DISTILLATION):
        return None
    if found is FileKind.EVALUATION:
        hint = "it is not training data: validate train.jsonl, or this file without --method"
    else:
        hint = (
            f"prepare the data for {wanted.value} (nova-pipeline prepare --method {wanted.value} ...), "
            f"or check this file with --method {found.value}"
        )
    return NotPreparedData(f"{name} is {DESCRIPTIONS[found]}, not {wanted.value} data", hint)


@dataclass
class KindCheck:
    """What `check_records` found: valid records, and the first problems as `file line N: field: reason`."""

    records: int = 0
    valid: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return self.records - self.valid


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def rft_problem(record: dict[str, Any], context_tokens: int) -> str | None:  # noqa: PLR0911 - one per rule
    """The first problem of an RFT training record, as `field: reason`, or None."""
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: is missing or empty"
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "assistant":
            return (
                f"messages[{index}].role: an RFT record holds no assistant turn (the model answers the last user turn; "
                "the expected answer goes in reference_answer)"
            )
        expected = ("system", "user") if index == 0 else ("user",)
        if role not in expected:
            return f"messages[{index}].role: is {role!r}, expected {' or '.join(expected)}"
        if not (_text(message.get("content")) or "").strip():
            return f"messages[{index}].content: is empty or not text"
    if messages[-1].get("role") != "user":
        return f'messages[{len(messages) - 1}].role: the last turn must be "user"'
    reference = record.get("reference_answer")
    if reference is None or (isinstance(reference, str) and not reference.strip()):
        return "reference_answer: is missing or empty"
    if record.get("grader") == "sql-execution" and not (_text(record.get("context")) or "").strip():
        return "context: the sql-execution grader needs the schema (CREATE TABLE statements)"
    texts = [str(message.get("content")) for message in messages]
    tokens = estimate_tokens(None, texts)
    if tokens > context_tokens:
        return f"record: estimated {tokens:,} tokens exceeds the model's limit of {context_tokens:,}"
    return None


def evaluation_problem(record: dict[str, Any]) -> str | None:
    """The first problem of an evaluation-split record, as `field: reason`, or None."""
    if not (_text(record.get("prompt")) or "").strip():
        return "prompt: is missing, empty or not text"
    if _text(record.get("reference")) is None:
        return "reference: is missing or not text"
    for optional in ("system", "label", "context"):
        if record.get(optional) is not None and _text(record.get(optional)) is None:
            return f"{optional}: is not text"
    return None


def check_records(name: str, lines: Iterable[bytes], kind: FileKind, context_tokens: int) -> KindCheck:
    """Check every line of an RFT training file or an evaluation split (blank lines skipped)."""
    result = KindCheck()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result.records += 1
        try:
            record = json.loads(line)
        except ValueError as error:
            problem: str | None = f"invalid JSON: {error}"
        except RecursionError:
            problem = f"invalid JSON: {NESTED_TOO_DEEPLY}"
        else:
            if not isinstance(record, dict):
                problem = f"expected a JSON object, got {type(record).__name__}"
            elif kind is FileKind.RFT:
                problem = rft_problem(record, context_tokens)
            else:
                problem = evaluation_problem(record)
        if problem is None:
            result.valid += 1
        elif len(result.problems) < MAX_REPORTED:
            result.problems.append(f"{name} line {number}: {problem}")
    return result
