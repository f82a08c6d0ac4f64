"""Where a record's context goes: one layout for training, evaluation and serving.

A system prompt template with `{column}` placeholders (the text-to-SQL prompt has `{context}`: the table schema)
would put per-record text into the system block. At serving that text comes from the caller, and a caller's text
must never become system instructions. So the system block is always the fixed template, each placeholder replaced
by `CONTEXT_REFERENCE`, and the record's values go at the start of the user turn between `<context>` lines. Prepare
writes training and test records in exactly this layout and the inference API builds requests the same way, so the
served prompt is the one the model was trained and evaluated with.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

CONTEXT_OPEN, CONTEXT_CLOSE = "<context>", "</context>"
CONTEXT_REFERENCE = f"(the context is given in the user's message, between {CONTEXT_OPEN} and {CONTEXT_CLOSE})"


def placeholders(template: str) -> list[str]:
    """The column names a template's `{column}` placeholders use, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def fixed_system(template: str) -> str:
    """The system block: the template with every placeholder replaced by the pointer to the user turn's context."""
    names = placeholders(template)
    return template.format_map(dict.fromkeys(names, CONTEXT_REFERENCE)) if names else template


def escape_context(context: str) -> str:
    """The context with `<context>` / `</context>` escaped, so it cannot close its block."""
    return context.replace(CONTEXT_OPEN, "&lt;context&gt;").replace(CONTEXT_CLOSE, "&lt;/context&gt;")


def with_context(text: str, context: str) -> str:
    """The user turn with the context before it, between `<context>` lines the context cannot close."""
    return f"{CONTEXT_OPEN}\n{escape_context(context)}\n{CONTEXT_CLOSE}\n\n{text}"


@dataclass(frozen=True)
class RecordPrompt:
    """The templates prepare renders each record with."""

    system: str | None
    """The fixed system block (no placeholders left), or None."""
    user: str
    """The user turn template; `{column}` placeholders of the system template come first, as the context."""
    context_columns: tuple[str, ...]
    """The columns moved from the system template to the user turn (their values are the record's context)."""


def record_prompt(system: str | None, user_template: str) -> RecordPrompt:
    """The layout for `prompt.system` / `prompt.userTemplate`: the system placeholders move to the user turn.

    With several placeholders their values are joined by a blank line, which is what a caller sends as `context`.
    """
    names = tuple(dict.fromkeys(placeholders(system or "")))
    if not names or system is None:
        return RecordPrompt(system, user_template, ())
    block = "\n\n".join(f"{{{name}}}" for name in names)
    return RecordPrompt(fixed_system(system), f"{CONTEXT_OPEN}\n{block}\n{CONTEXT_CLOSE}\n\n{user_template}", names)
