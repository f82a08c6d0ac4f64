"""The fast path for raw rows: the column mapping and templates compiled once, and a batch check that proves the
reference path (`records.from_raw`, `sanitize`, `check`) would change nothing and find nothing.

The proof: a rendered text is the template's literal text with the mapped values inserted. If every rendered value
is non-empty, printable apart from inner line breaks, has no double space, no whitespace at either end, no space next
to a line break and no reserved string; if every literal is clean in the same way; and if the literal characters next
to each placeholder cannot be part of a reserved string, then no reserved string, control character or whitespace
problem can appear in the rendered texts and none of them is empty. Non-ASCII texts are also checked for NFC, and
the token estimate against the model's limit. Whatever cannot be proven goes through the reference path record by
record, so both paths write the same bytes (tested on adversarial data).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from nova_pipeline.contract.catalog import MODELS, RESERVED_STRINGS, TaskType
from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.prompt_layout import placeholders, record_prompt
from nova_pipeline.prepare.records import CHARS_PER_TOKEN_ESTIMATE, has_reserved

# A reserved string spanning a placeholder would contain the literal character next to it.
_TOKEN_CHARACTERS = frozenset("".join(reserved.lower() for reserved in RESERVED_STRINGS))
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _printable_apart_from_line_breaks(text: str) -> bool:
    if text.isascii():  # str.isprintable looks every character up in the Unicode database; bytes are faster
        unprintable = text.encode("ascii").translate(None, _PRINTABLE_ASCII)
        if not unprintable:
            return True
        if unprintable.strip(b"\n"):
            return False
    elif text.isprintable():
        return True
    return "\n" in text and " \n" not in text and "\n " not in text and text.replace("\n", "x").isprintable()


def values_are_clean(values: Sequence[str]) -> bool:
    """True when none of `values` can need a fix or leave a text empty (see the module docstring).

    Joined with single spaces, a double space reveals an empty value or whitespace at either end of one.
    """
    blob = " ".join(values)
    return bool(
        blob
        and not blob[0].isspace()
        and not blob[-1].isspace()
        and "  " not in blob
        and _printable_apart_from_line_breaks(blob)
        and not has_reserved(blob)
        and "context>" not in blob  # `<context>` / `</context>` inside a value: escaped by the reference path
    )


class Unsupported(Exception):  # noqa: N818 - the configuration needs the reference path for every record
    pass


def _literal_is_clean(literal: str, *, at_start: bool, at_end: bool) -> bool:
    if not literal:
        return True
    if "  " in literal or has_reserved(literal) or not _printable_apart_from_line_breaks(literal):
        return False
    if not literal.isascii() and not unicodedata.is_normalized("NFC", literal):
        return False
    return not ((at_start and literal[0].isspace()) or (at_end and literal[-1].isspace()))


def _safe_neighbour(character: str) -> bool:
    """A literal character next to a placeholder that no reserved string contains (nothing at all is safe too)."""
    return not character or (character.isascii() and character.lower() not in _TOKEN_CHARACTERS)


Renderer = Callable[[tuple[str, ...]], str]


def _renderer(literals: list[str], slots: list[int]) -> Renderer:
    """Concatenation for up to two placeholders (ten times faster than str.format on long prompts)."""
    if not slots:
        constant = literals[0]
        return lambda values: constant
    if len(slots) == 1:
        before, slot, after = literals[0], slots[0], literals[1]
        return lambda values: before + values[slot] + after
    if len(slots) == 2:
        first, one, middle, two, last = literals[0], slots[0], literals[1], slots[1], literals[2]
        return lambda values: first + values[one] + middle + values[two] + last
    pattern = "".join(
        literal.replace("{", "{{").replace("}", "}}") + (f"{{{slot}}}" if n < len(slots) else "")
        for n, (literal, slot) in enumerate(zip(literals, [*slots, 0], strict=True))
    )
    return lambda values: pattern.format(*values)


def compile_template(template: str, slots: dict[str, int]) -> tuple[Renderer, set[int]]:
    """`template` as a function of a row's value tuple, and the slots it renders."""
    parts = list(string.Formatter().parse(template))
    literals: list[str] = []
    order: list[int] = []
    used: set[int] = set()
    for index, (literal, name, spec, conversion) in enumerate(parts):
        is_last = index == len(parts) - 1
        if not _literal_is_clean(literal, at_start=index == 0, at_end=is_last and name is None):
            raise Unsupported
        literals.append(literal)
        if name is None:
            continue
        if name not in slots or spec or conversion:
            raise Unsupported  # a missing column (the reference path reports it) or a format specification
        if index > 0 and not literal:
            raise Unsupported  # two placeholders touch: a reserved string could span them
        after = "" if is_last else parts[index + 1][0][:1]
        if not is_last and not after:
            raise Unsupported
        if not _safe_neighbour(literal[-1:]) or not _safe_neighbour(after):
            raise Unsupported
        order.append(slots[name])
        used.add(slots[name])
    if len(literals) == len(order):
        literals.append("")
    return _renderer(literals, order), used


def _getter(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    if len(keys) == 1:
        key = keys[0]
        return lambda row: (row[key],)
    return itemgetter(*keys)


class RawPlan:
    """The column mapping and templates for one row shape (a CSV header, or the keys of JSON rows)."""

    def __init__(self, run: ExecutionInput, names: Sequence[str], *, positional: bool) -> None:
        columns = run.dataset.columns
        present = set(names)
        required = [columns.question, columns.answer, columns.system, columns.context]
        if run.task is TaskType.CLASSIFICATION:
            required.append(columns.label or columns.answer)
        if any(name and name not in present for name in required):
            raise Unsupported  # the reference path reports the missing column with its location
        self.names: list[str] = []
        slot_of: dict[str, int] = {}

        def slot(name: str) -> int:
            if name not in slot_of:
                slot_of[name] = len(self.names)
                self.names.append(name)
            return slot_of[name]

        question = slot(columns.question)
        user_template = run.prompt.user_template
        self.system: Renderer | None = None
        self.system_column: int | None = None
        if columns.system:
            self.system_column = slot(columns.system)
        elif run.prompt.system:
            if any(name not in present for name in placeholders(run.prompt.system)):
                raise Unsupported  # the reference path names the missing column
            # The system block is fixed; its placeholders' values open the user turn (contract/prompt_layout.py).
            # A value holding `<context>` / `</context>` is not clean, so the reference path escapes it.
            layout = record_prompt(run.prompt.system, user_template)
            user_template = layout.user
            fixed = layout.system or ""
            if not _literal_is_clean(fixed, at_start=True, at_end=True):
                raise Unsupported
            self.system = lambda _values: fixed
        user_slots = {name: slot(name) for name in names if name in set(placeholders(user_template))}
        user_slots["question"] = question  # {question} in the user template is the question column
        self.user, rendered = compile_template(user_template, user_slots)
        if self.system_column is not None:
            rendered.add(self.system_column)
        self.answer = slot(columns.answer)
        rendered.add(self.answer)
        self.label = slot(columns.label or columns.answer) if run.task is TaskType.CLASSIFICATION else None
        self.context = slot(columns.context) if columns.context else None
        # A text-to-SQL context the grader could not build databases from goes to the reference path (refused there).
        self.sql_context = run.task is TaskType.TEXT_TO_SQL and self.context is not None
        if positional:  # a CSV row: the last of duplicate header names wins, as in dict(zip(header, row))
            header = list(names)
            keys: list[Any] = [len(header) - 1 - header[::-1].index(name) for name in self.names]
        else:
            keys = list(self.names)
        self.values: Callable[[Any], tuple[Any, ...]] = _getter(keys)
        self.rendered: Callable[[tuple[Any, ...]], tuple[Any, ...]] = _getter(sorted(rendered))
        self.limit = MODELS[run.base_model or ""].context_tokens * CHARS_PER_TOKEN_ESTIMATE  # in characters

    @classmethod
    def compile(cls, run: ExecutionInput, names: Sequence[str], *, positional: bool) -> RawPlan | None:
        """The plan, or None when this configuration needs the reference path for every record."""
        try:
            return cls(run, names, positional=positional)
        except Unsupported:
            return None
