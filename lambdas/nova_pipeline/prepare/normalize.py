"""Phase 1: records in, canonical examples out. Every accepted record becomes one spool line and one index row.

- The spool line is the canonical example `[system, [[role, text(, media)], ...], label, context]` as compact JSON;
  the output formats are written from it once the splits are known.
- The index row (48 bytes) holds the SHA-256 digest of the spool line (duplicate detection, the split order once
  keyed with the seed, the evaluation id), the record's position, its label, its token estimate and its fixes.
  Finalizing works on the index alone, partition by partition, so memory does not grow with the records.

A `Part` is what one process writes (the in-process run, or one worker of a parallel run); a chunk is a contiguous
run of records of one source, numbered in input order, so positions sort records as the input does.

A part remembers the digests of its last examples (at most `RECENT_DIGESTS`, forgotten all at once when full) and
drops an exact copy of one of them at once, without spooling or indexing it: a file of millions of identical
lines then costs what one line does, instead of piling millions of rows into one index partition (every copy has
the same digest, so the same partition). A part handles its chunks in input order, so the copy it keeps is its
first; finalizing drops the copies that remain across parts, keeping the first in input order: the outcome is the
same. Between two copies of a digest that both reach the index there are at least `RECENT_DIGESTS` other examples,
so no digest takes more than 1/65,536 of a partition's rows.
"""

from __future__ import annotations

import struct
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from itertools import chain
from pathlib import Path
from typing import Any

from orjson import dumps

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.grading.sql import schema_problem
from nova_pipeline.prepare.fast import RawPlan, values_are_clean
from nova_pipeline.prepare.reading import Batch
from nova_pipeline.prepare.records import (
    ConfigurationProblem,
    Fixes,
    RecordProblem,
    check,
    media_kinds,
    to_example,
    tokens_for,
)

MAX_REPORTED_PROBLEMS = 20
FLUSH_BYTES = 1 << 20
RECENT_DIGESTS = 1 << 16  # about 6 MB of dict per process
# SHA-256 of the spool line (first 16 bytes), position, label id, tokens, fixes (reserved, control, whitespace), pad
INDEX_ROW = struct.Struct("<16sQIIIIII")
FIX_KINDS = ("reservedStrings", "controlCharacters", "whitespace")
assert INDEX_ROW.size == 48


@dataclass
class ChunkResult:
    """What normalizing one chunk found, and where its spool lines start (`accepted` lines from there)."""

    index: int
    part: str
    spool_start: int
    records: int = 0
    accepted: int = 0  # spooled; exact duplicates among them are dropped when finalizing
    duplicates: int = 0  # exact copies of a recent example of the same part, dropped before spooling
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    fixes: Counter[str] = field(default_factory=Counter)
    media: set[str] = field(default_factory=set)

    def dump(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "part": self.part,
            "spoolStart": self.spool_start,
            "records": self.records,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "problems": self.problems,
            "fixes": dict(sorted(self.fixes.items())),
            "media": sorted(self.media),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> ChunkResult:
        return cls(
            index=data["index"],
            part=data["part"],
            spool_start=data["spoolStart"],
            records=data["records"],
            accepted=data["accepted"],
            duplicates=data.get("duplicates", 0),
            rejected=data["rejected"],
            problems=list(data["problems"]),
            fixes=Counter(data["fixes"]),
            media=set(data["media"]),
        )


@dataclass(frozen=True)
class PartFiles:
    """The spool and index one process wrote, and its label table (label id n is labels[n - 1]; 0 is no label)."""

    name: str
    spool: Path
    index: Path
    labels: list[str]

    def dump(self) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels}


class Part:
    """Buffered writer of one spool and its index."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.spool_path, self.index_path = directory / f"{name}.spool.jsonl", directory / f"{name}.index.bin"
        self._spool, self._index = open(self.spool_path, "wb"), open(self.index_path, "wb")  # noqa: SIM115
        self.lines, self.rows = bytearray(), bytearray()
        self._flushed = 0
        self.labels: dict[str, int] = {}
        self.recent: dict[bytes, None] = {}

    def is_recent_copy(self, digest: bytes) -> bool:
        """Whether `digest` is one of the part's recent examples; if not, it is remembered as one."""
        recent = self.recent
        if digest in recent:
            return True
        if len(recent) >= RECENT_DIGESTS:
            recent.clear()
        recent[digest] = None
        return False

    @property
    def offset(self) -> int:
        return self._flushed + len(self.lines)

    def label_id(self, label: str | None) -> int:
        if label is None:
            return 0
        return self.labels.get(label) or self.labels.setdefault(label, len(self.labels) + 1)

    def add(self, canonical: bytes, position: int, label: str | None, tokens: int, fixes: Sequence[int]) -> bool:
        """Spool and index one example; False (nothing written) when it is a copy of a recent one."""
        digest = sha256(canonical).digest()
        if self.is_recent_copy(digest):
            return False
        self.rows += INDEX_ROW.pack(digest, position, self.label_id(label), tokens, *fixes, 0)
        self.lines += canonical
        self.lines += b"\n"
        return True

    def flush(self) -> None:
        self._spool.write(self.lines)
        self._index.write(self.rows)
        self._flushed += len(self.lines)
        self.lines.clear()
        self.rows.clear()

    def close(self) -> PartFiles:
        self.flush()
        self._spool.close()
        self._index.close()
        return PartFiles(self.name, self.spool_path, self.index_path, list(self.labels))

    def abort(self) -> None:
        self._spool.close()
        self._index.close()


class Normalizer:
    """Turns the records of chunks into spool lines of one part: the fast path where it is proven equivalent,
    the reference path (`records.to_example` + `records.check`) everywhere else."""

    def __init__(self, run: ExecutionInput, part: Part, *, data_bucket: str | None = None) -> None:
        self.run, self.part, self.data_bucket = run, part, data_bucket
        self._plans: dict[tuple[bool, tuple[str, ...]], RawPlan | None] = {}
        self._raw_only = run.dataset.record_format == "raw"
        self._auto = run.dataset.record_format == "auto"
        self._last: dict[str, Any] | None = None  # the last JSON record, when it was kept or dropped as a copy

    def _raw(self, names: Iterable[str]) -> bool:
        """Whether rows with these fields are raw rows (what `records.record_format` decides for each record)."""
        return self._raw_only or (self._auto and not {"messages", "schemaVersion"} & set(names))

    def _plan(self, names: tuple[str, ...], *, positional: bool) -> RawPlan | None:
        """The plan of a CSV header (positional) or of JSON rows with these keys, compiled once."""
        key = (positional, names)
        if key not in self._plans:
            self._plans[key] = RawPlan.compile(self.run, names, positional=positional)
        return self._plans[key]

    def normalize(
        self,
        chunk: int,
        source: str,
        numbering: str,
        batches: Iterable[Batch],
        header: Sequence[str] | None = None,
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> ChunkResult:
        """Every record of one chunk; `header` names the fields of CSV rows (lists), JSON rows are dicts."""
        result = ChunkResult(chunk, self.part.name, self.part.offset)
        where = f"{source} {numbering} "
        if header is not None:
            plan = self._plan(tuple(header), positional=True) if self._raw(header) else None
            for lines, rows in batches:
                self._csv_batch(lines, rows, header, plan=plan, where=where, result=result)
                self._after_batch(result, on_batch)
        else:
            for lines, records in batches:
                self._json_batch(lines, records, where, result)
                self._after_batch(result, on_batch)
        return result

    def _after_batch(self, result: ChunkResult, on_batch: Callable[[int], None] | None) -> None:
        if len(self.part.lines) > FLUSH_BYTES:
            self.part.flush()
        if on_batch:
            on_batch(result.records)

    def _csv_batch(
        self,
        lines: Sequence[int],
        rows: list[list[str]],
        header: Sequence[str],
        *,
        plan: RawPlan | None,
        where: str,
        result: ChunkResult,
    ) -> None:
        if plan is None:
            for line, row in zip(lines, rows, strict=True):
                if any(map(str.strip, row)):
                    result.records += 1
                    self._reference(dict(zip(header, row, strict=True)), f"{where}{line}", result)
            return
        values = list(map(plan.values, rows))
        rendered = list(map(plan.rendered, values))
        if values_are_clean(list(chain.from_iterable(rendered))):
            result.records += len(rows)
            self._fast(
                plan,
                values,
                clean=None,
                record=lambda i: dict(zip(header, rows[i], strict=True)),
                lines=lines,
                where=where,
                result=result,
            )
            return
        clean = [values_are_clean(row) for row in rendered]
        blank = [not ok and not any(map(str.strip, row)) for ok, row in zip(clean, rows, strict=True)]
        result.records += len(rows) - sum(blank)
        self._fast(
            plan,
            values,
            clean=clean,
            record=lambda i: None if blank[i] else dict(zip(header, rows[i], strict=True)),
            lines=lines,
            where=where,
            result=result,
        )

    def _json_batch(self, lines: Sequence[int], records: list[dict[str, Any]], where: str, result: ChunkResult) -> None:
        result.records += len(records)
        last = self._last
        for line, record in zip(lines, records, strict=True):
            if record is last:
                # The reader hands the same object for a line identical to the one before (`reading._jsonl_batches`);
                # that one was kept or dropped as a copy, so its digest is the most recent: this is a copy too.
                result.duplicates += 1
                continue
            before = result.accepted + result.duplicates
            if self._raw(record):
                plan = self._plan(tuple(record), positional=False)
                if plan is not None:
                    values = plan.values(record)
                    if all(type(value) is str for value in values) and values_are_clean(plan.rendered(values)):
                        self._fast(
                            plan,
                            [values],
                            clean=None,
                            record=lambda _, record=record: record,  # type: ignore[misc]
                            lines=[line],
                            where=where,
                            result=result,
                        )
                        last = record if result.accepted + result.duplicates > before else None
                        continue
            self._reference(record, f"{where}{line}", result)
            last = record if result.accepted + result.duplicates > before else None
        self._last = last

    def _fast(
        self,
        plan: RawPlan,
        batch: list[tuple[str, ...]],
        *,
        clean: list[bool] | None,
        record: Callable[[int], dict[str, Any] | None],
        lines: Sequence[int],
        where: str,
        result: ChunkResult,
    ) -> None:
        """Rows whose rendered values are proven clean (all of them, or those flagged in `clean`), written without
        the reference path; the others (and any over the token limit or not NFC) go through it, in input order."""
        part = self.part
        spool, index, pack, label_id, recent = part.lines, part.rows, INDEX_ROW.pack, part.label_id, part.recent
        user_template, system_template, system_column = plan.user, plan.system, plan.system_column
        answer_slot, label_slot, context_slot, limit = plan.answer, plan.label, plan.context, plan.limit
        chunk_bits = result.index << 32
        sql_context = context_slot if plan.sql_context else None
        for i, values in enumerate(batch):
            if (clean is None or clean[i]) and not (sql_context is not None and schema_problem(values[sql_context])):
                user = user_template(values)
                system = values[system_column] if system_column is not None else None
                if system_template is not None:
                    system = system_template(values)
                answer = values[answer_slot]
                characters = len(system or "") + len(user) + len(answer) + 2
                if characters <= limit and (
                    (user.isascii() and answer.isascii() and (system is None or system.isascii()))
                    or all(unicodedata.is_normalized("NFC", text) for text in (system or "", user, answer))
                ):
                    label = values[label_slot].strip() if label_slot is not None else None
                    canonical = dumps(
                        [
                            system,
                            [["user", user], ["assistant", answer]],
                            label,
                            values[context_slot] if context_slot is not None else None,
                        ]
                    )
                    digest = sha256(canonical).digest()
                    if digest in recent:  # Part.is_recent_copy, inlined
                        result.duplicates += 1
                        continue
                    if len(recent) >= RECENT_DIGESTS:
                        recent.clear()
                    recent[digest] = None
                    tokens = tokens_for(characters)
                    index += pack(digest, chunk_bits | result.accepted, label_id(label), tokens, 0, 0, 0, 0)
                    spool += canonical
                    spool += b"\n"
                    result.accepted += 1
                    continue
            row = record(i)
            if row is not None:
                self._reference(row, f"{where}{lines[i]}", result)

    def _reference(self, record: dict[str, Any], where: str, result: ChunkResult) -> None:
        fixes = Fixes()
        try:
            example, bedrock_paths = to_example(record, self.run, fixes)
            check(example, self.run, bedrock_paths=bedrock_paths, data_bucket=self.data_bucket)
        except RecordProblem as problem:
            result.rejected += 1
            if len(result.problems) < MAX_REPORTED_PROBLEMS:
                result.problems.append(f"{where}: {problem}")
            return
        except ConfigurationProblem as problem:
            raise ConfigurationProblem(f"{where}: {problem}") from None
        counts = [fixes.counts[kind] for kind in FIX_KINDS]
        if not self.part.add(
            dumps(example.canonical()),
            (result.index << 32) | result.accepted,
            example.label,
            example.estimated_tokens(),
            counts,
        ):
            result.duplicates += 1
            return
        result.fixes.update(fixes.counts)
        result.media |= media_kinds(example)
        result.accepted += 1
