"""One record in, one canonical example out: mapping, templates, sanitizing and the per-record rules.

The canonical example is what every output format is written from: system prompt, alternating user/assistant
turns, the reference answer, and for classification / text-to-SQL the label and the schema context.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nova_pipeline.contract.catalog import MODELS, RESERVED_STRINGS, Method, TaskType
from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.prompt_layout import escape_context, placeholders, record_prompt
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.grading.sql import schema_problem
from nova_pipeline.prepare.reading import RecordLimit

CHARS_PER_TOKEN_ESTIMATE = 3  # Nova's tokenizer is not public; English averages ~4 characters a token: 3 overestimates
IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
MAX_IMAGES_PER_RECORD = 10
S3_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-/.]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_RESERVED = re.compile(r"(?:system|user|bot|assistant|thought):|\[eos\]|<(?:image|video)>", re.IGNORECASE)
assert all(_RESERVED.fullmatch(reserved) for reserved in RESERVED_STRINGS)
_RESERVED_LOWER = tuple(reserved.lower() for reserved in RESERVED_STRINGS)
_COLON_TOKENS = tuple(token for token in _RESERVED_LOWER if token.endswith(":"))
assert {*_COLON_TOKENS, "[eos]", "<image>", "<video>"} == set(_RESERVED_LOWER)
_SPACES = re.compile(r"[ \t]+")


class RecordProblem(Exception):  # noqa: N818 - a problem with one record, reported with its location
    def __init__(self, field_path: str, reason: str) -> None:
        super().__init__(f"{field_path}: {reason}")
        self.field_path, self.reason = field_path, reason


class ConfigurationProblem(Exception):  # noqa: N818 - the whole run is misconfigured (no record can be read)
    """A mapping or template names a column the data does not have."""


@dataclass
class Example:
    """A record in canonical form. `media` holds the image/video blocks with their `turn` and JSON `path`."""

    system: str | None
    turns: list[tuple[str, str]]
    answer: str
    label: str | None = None
    context: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)

    def estimated_tokens(self) -> int:
        return estimate_tokens(self.system, [text for _, text in self.turns])

    def canonical(self) -> list[Any]:
        """`[system, [[role, text(, media blocks)], ...], label, context]`: what is spooled and hashed."""
        turns: list[list[Any]] = [[role, text] for role, text in self.turns]
        for item in self.media:
            turn = turns[item["turn"]]
            if len(turn) == 2:
                turn.append([])
            turn[2].append({key: value for key, value in item.items() if key in ("image", "video")})
        return [self.system, turns, self.label, self.context]


def record_limit(run: ExecutionInput) -> RecordLimit:
    """The longest line or record the readers accept for `run`'s model (see `reading.RecordLimit`)."""
    model = MODELS[run.base_model or ""]
    return RecordLimit.of_context(model.short_name, model.context_tokens)


def estimate_tokens(system: str | None, texts: list[str]) -> int:
    """Characters of the system prompt and every turn (newline-joined) / 3, rounded up: a conservative estimate."""
    return tokens_for(len(system or "") + sum(len(text) for text in texts) + len(texts))


def tokens_for(characters: int) -> int:
    return -(-characters // CHARS_PER_TOKEN_ESTIMATE)


def has_reserved(text: str) -> bool:
    """Whether the lower-cased text holds a reserved string; every reserved string has a `:` `[` or `<`, so text
    without them needs no look."""
    colon, bracket, angle = ":" in text, "[" in text, "<" in text
    if not (colon or bracket or angle):
        return False
    lowered = text.lower()
    return (
        (colon and any(token in lowered for token in _COLON_TOKENS))
        or (bracket and "[eos]" in lowered)
        or (angle and ("<image>" in lowered or "<video>" in lowered))
    )


@dataclass
class Fixes:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, amount: int = 1) -> None:
        if amount:
            self.counts[kind] += amount


def _fix_reserved(match: re.Match[str]) -> str:
    token = match.group(0)
    return token[:-1] + " :" if token.endswith(":") else ""


def _needs_whitespace_fix(text: str) -> bool:
    return (
        "  " in text
        or "\t" in text
        or " \n" in text
        or "\n " in text
        or "\r" in text
        or text[:1].isspace()
        or text[-1:].isspace()
        or not unicodedata.is_normalized("NFC", text)
    )


def sanitize(text: str, where: str, policy: str, fixes: Fixes) -> str:
    """Reserved strings, control characters and whitespace: rewritten and counted (`fix`) or a problem."""
    reserved = _RESERVED.findall(text) if has_reserved(text) else []
    control = _CONTROL.findall(text) if _CONTROL.search(text) else []
    if policy == "reject":
        if reserved:
            raise RecordProblem(where, f"contains reserved string {reserved[0]!r} (Bedrock rejects the job)")
        if control:
            raise RecordProblem(where, f"contains control character U+{ord(control[0]):04X}")
    if reserved:
        text = _RESERVED.sub(_fix_reserved, text)
        fixes.add("reservedStrings", len(reserved))
    if control:
        text = _CONTROL.sub("", text)
        fixes.add("controlCharacters", len(control))
    if not _needs_whitespace_fix(text):
        return text
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    normalized = unicodedata.normalize("NFC", "\n".join(lines)).strip()
    if normalized != text:
        fixes.add("whitespace")
    return normalized


def render(template: str, row: dict[str, Any], what: str) -> str:
    missing = [name for name in placeholders(template) if name not in row]
    if missing:
        raise ConfigurationProblem(
            f"{what} uses column {missing[0]!r}, which the data does not have; columns: {', '.join(sorted(row))}"
        )
    return template.format_map({key: "" if value is None else str(value) for key, value in row.items()})


def record_format(record: dict[str, Any], declared: str) -> str:
    if declared != "auto":
        return declared
    if "schemaVersion" in record:
        return "bedrock-conversation"
    messages = record.get("messages")
    if "messages" not in record:
        return "raw"
    first = messages[0] if isinstance(messages, list) and messages else None
    content = first.get("content") if isinstance(first, dict) else None
    return "bedrock-conversation" if isinstance(content, list) else "openai-chat"


def _column(row: dict[str, Any], name: str, role: str) -> str:
    if name not in row:
        raise ConfigurationProblem(
            f"dataset.columns.{role} is {name!r}, which the data does not have; columns: {', '.join(sorted(row))}"
        )
    value = row[name]
    return "" if value is None else str(value)


def from_raw(row: dict[str, Any], run: ExecutionInput) -> Example:
    columns = run.dataset.columns
    values = {key: ("" if value is None else value) for key, value in row.items()}
    values.setdefault("question", values.get(columns.question, ""))
    question = _column(row, columns.question, "question")
    optional_answer = run.method is Method.DISTILLATION and columns.answer not in row
    answer = "" if optional_answer else _column(row, columns.answer, "answer")
    system = _column(row, columns.system, "system") if columns.system else None
    user_template = run.prompt.user_template
    if system is None and run.prompt.system:
        render(run.prompt.system, values, "prompt.system")  # names a column the data lacks
        layout = record_prompt(run.prompt.system, user_template)  # the context moves to the user turn
        system, user_template = layout.system, layout.user
        for name in layout.context_columns:
            values[name] = escape_context(str(values[name]))
    user = render(user_template, {**values, "question": question}, "prompt.userTemplate")
    label = _column(row, columns.label or columns.answer, "label") if run.task is TaskType.CLASSIFICATION else None
    context = _column(row, columns.context, "context") if columns.context else None
    # Distillation prompts may come without an answer; otherwise an empty answer is reported as an empty turn.
    return Example(
        system=system,
        turns=[("user", user)]
        if optional_answer or (not answer and run.method is Method.DISTILLATION)
        else [("user", user), ("assistant", answer)],
        answer=answer,
        label=label,
        context=context,
    )


# The bedrock-conversation-2024 shape Bedrock validates (Amazon Nova user guide, "Preparing data for fine-tuning
# Understanding models": `schemaVersion` any string, `system` optional, roles user/assistant, content blocks of the
# Converse API; Bedrock user guide "Supervised fine-tuning on Amazon Nova 2.0": text, image or video blocks in user
# turns, text and `reasoningContent` in assistant turns). A Converse content block holds exactly one member.
CONTENT_BLOCK_KEYS = ("text", "image", "video")
NOVA2_ASSISTANT_KEYS = ("reasoningContent",)


def _check_bedrock_shape(record: dict[str, Any], run: ExecutionInput) -> None:
    """The record's structure as Bedrock checks it: problems name the field (`system[0].text`)."""
    version = record.get("schemaVersion")
    if "schemaVersion" in record and not isinstance(version, str):
        raise RecordProblem("schemaVersion", f'must be a string such as "bedrock-conversation-2024", got {version!r}')
    system = record.get("system")
    if system is not None:
        if not isinstance(system, list):
            raise RecordProblem("system", f'must be a list of {{"text": ...}} blocks, got {type(system).__name__}')
        for index, block in enumerate(system):
            if not isinstance(block, dict) or set(block) != {"text"}:
                raise RecordProblem(f"system[{index}]", 'must be a block {"text": "..."} and nothing else')
            if not isinstance(block["text"], str):
                raise RecordProblem(f"system[{index}].text", f"must be a string, got {type(block['text']).__name__}")
    extra = NOVA2_ASSISTANT_KEYS if MODELS[run.base_model or ""].short_name == "nova-2-lite" else ()
    for index, message in enumerate(record.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue  # reported with the turn
        allowed = CONTENT_BLOCK_KEYS + (extra if message.get("role") == "assistant" else ())
        for block_index, block in enumerate(content):
            path = f"messages[{index}].content[{block_index}]"
            if not isinstance(block, dict) or len(block) != 1:
                raise RecordProblem(path, f"must be a content block with one of {', '.join(allowed)}")
            key = next(iter(block))
            if key not in allowed:
                raise RecordProblem(f"{path}.{key}", f"is not a content block Bedrock accepts ({', '.join(allowed)})")
            if key == "text" and not isinstance(block["text"], str):
                raise RecordProblem(f"{path}.text", f"must be a string, got {type(block['text']).__name__}")


def from_chat(record: dict[str, Any], run: ExecutionInput, bedrock: bool) -> Example:
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise RecordProblem("messages", "is missing or not a list")
    system: str | None = None
    turns: list[tuple[str, str]] = []
    media: list[dict[str, Any]] = []
    if bedrock:
        _check_bedrock_shape(record, run)
        system_blocks = record.get("system") or []
        system = " ".join(str(block.get("text", "")) for block in system_blocks if isinstance(block, dict)) or None
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RecordProblem(f"messages[{index}]", "is not an object")
        role = message.get("role")
        content = message.get("content")
        if bedrock:
            if not isinstance(content, list):
                raise RecordProblem(f"messages[{index}].content", "must be a list of content blocks")
            texts = []
            for block_index, block in enumerate(content):
                if isinstance(block, dict) and "text" in block:
                    texts.append(str(block["text"]))
                elif isinstance(block, dict) and ("image" in block or "video" in block):
                    media.append({"path": f"messages[{index}].content[{block_index}]", "turn": len(turns), **block})
            text = "\n".join(texts)
        else:
            text = "" if content is None else str(content)
        if role == "system" and not bedrock and index == 0:
            system = text
            continue
        turns.append((str(role), text))
    columns = run.dataset.columns
    answer = next((text for role, text in reversed(turns) if role == "assistant"), "")
    label = str(record.get(columns.label)) if columns.label and columns.label in record else None
    if run.task is TaskType.CLASSIFICATION and label is None:
        label = answer
    context = str(record[columns.context]) if columns.context and columns.context in record else None
    return Example(system=system, turns=turns, answer=answer, label=label, context=context, media=media)


def check(example: Example, run: ExecutionInput, *, bedrock_paths: bool, data_bucket: str | None) -> None:
    """The per-record rules of the target model and method (the count rules are checked after splitting)."""
    model = MODELS[run.base_model or ""]

    def path(index: int) -> str:
        return f"messages[{index}].content[0].text" if bedrock_paths else f"messages[{index}].content"

    if not example.turns:
        raise RecordProblem("messages", "has no turns")
    if run.task is TaskType.TEXT_TO_SQL and example.context is not None:
        problem = schema_problem(example.context)  # the grader builds its test databases from it
        if problem:
            raise RecordProblem("context", problem)
    for index, (role, text) in enumerate(example.turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if role not in ("user", "assistant"):
            raise RecordProblem(f"messages[{index}].role", f'is "{role}", expected "user" or "assistant"')
        if role != expected:
            raise RecordProblem(f"messages[{index}].role", f'is "{role}", expected "{expected}"')
        if not text.strip() and not (role == "user" and example.media):
            raise RecordProblem(path(index), "is empty")
    if run.method is Method.DISTILLATION:
        if example.turns[-1][0] != "user" and len(example.turns) > 2:
            raise RecordProblem("messages", "distillation records hold one user turn (the teacher answers it)")
    elif example.turns[-1][0] != "assistant":
        raise RecordProblem(
            f"messages[{len(example.turns) - 1}].role", '"user" is the last turn; the last turn must be "assistant"'
        )
    tokens = example.estimated_tokens()
    if tokens > model.context_tokens:
        raise RecordProblem(
            "record",
            f"estimated {tokens:,} tokens exceeds the {model.short_name} limit of {model.context_tokens:,} "
            f"(estimate: characters / {CHARS_PER_TOKEN_ESTIMATE}, rounded up; conservative)",
        )
    check_media(example, model.multimodal, data_bucket)


def check_media(example: Example, multimodal: bool, data_bucket: str | None) -> None:
    if not example.media:
        return
    if not multimodal:
        raise RecordProblem(example.media[0]["path"], "images and videos need a multimodal model (nova-lite, nova-pro)")
    images = [m for m in example.media if "image" in m]
    videos = [m for m in example.media if "video" in m]
    if images and videos:
        raise RecordProblem(videos[0]["path"], "a record cannot mix images and a video")
    if len(images) > MAX_IMAGES_PER_RECORD:
        raise RecordProblem(images[MAX_IMAGES_PER_RECORD]["path"], f"more than {MAX_IMAGES_PER_RECORD} images")
    if len(videos) > 1:
        raise RecordProblem(videos[1]["path"], "more than one video")
    for item in example.media:
        kind = "image" if "image" in item else "video"
        block = item[kind]
        if kind == "image" and block.get("format") not in IMAGE_FORMATS:
            raise RecordProblem(
                f"{item['path']}.image.format",
                f"is {block.get('format')!r}, expected one of {', '.join(IMAGE_FORMATS)}",
            )
        uri = str(block.get("source", {}).get("s3Location", {}).get("uri", ""))
        if not uri.startswith("s3://"):
            raise RecordProblem(f"{item['path']}.{kind}.source.s3Location.uri", "must be an s3:// URI")
        bucket, key = split_s3(uri)
        if data_bucket and bucket != data_bucket:
            raise RecordProblem(
                f"{item['path']}.{kind}.source.s3Location.uri",
                f"is in bucket {bucket!r}; media must sit in the dataset's bucket {data_bucket!r}",
            )
        if not S3_KEY_PATTERN.match(key):
            raise RecordProblem(
                f"{item['path']}.{kind}.source.s3Location.uri",
                f"key {key!r} has characters other than letters, digits and _ - / .",
            )


def media_kinds(example: Example) -> set[str]:
    return {"video" if "video" in m else "image" for m in example.media}


def to_example(record: dict[str, Any], run: ExecutionInput, fixes: Fixes) -> tuple[Example, bool]:
    """The reference path: one record (raw row or chat record) as a sanitized example, and whether its problems
    are reported with bedrock-conversation field paths."""
    fmt = record_format(record, run.dataset.record_format)
    bedrock = fmt == "bedrock-conversation"
    example = from_raw(record, run) if fmt == "raw" else from_chat(record, run, bedrock)
    policy = run.dataset.sanitize
    if example.system is not None:
        example.system = sanitize(example.system, "system[0].text" if bedrock else "system", policy, fixes) or None
    example.turns = [
        (
            role,
            sanitize(
                text,
                f"messages[{i}].content[0].text" if bedrock or fmt == "raw" else f"messages[{i}].content",
                policy,
                fixes,
            ),
        )
        for i, (role, text) in enumerate(example.turns)
    ]
    assistant = [text for role, text in example.turns if role == "assistant"]
    example.answer = assistant[-1] if assistant else example.answer
    if example.label is not None:
        example.label = example.label.strip()
    return example, bedrock or fmt == "raw"
