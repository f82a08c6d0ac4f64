"""Reading datasets: records streamed from CSV, JSONL or JSON arrays, or the input cut into chunks that worker
processes parse on their own.

Every reader yields `(line, record)`, the line being where the record starts (the record number for JSON arrays);
CSV records are lists of fields (the header is returned separately), JSON records are dicts. Memory stays flat:
nothing holds more than one block (1 MiB) or one chunk (4 MiB) of the input and one record, whatever its size. A
line, JSON array element or CSV field longer than the `RecordLimit` (derived from the model's context) is refused
as soon as the reader has seen that many bytes of it, so one huge line never materializes; JSON nested too deeply
for the parser and text that is not UTF-8 (UTF-16 is named as such) are refused with their line too.

Cutting a CSV file needs record boundaries: a line break with an even number of quote characters before it. A quote
inside an unquoted field (`5" screen`) breaks that count; the chunk that then ends inside a quoted field is detected
by the parser (`ChunkBoundaryError`) and the run is redone reading that input in one stream.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from typing import IO, Any

import orjson

from nova_pipeline.prepare.sources import Source, SourceError, open_binary

BLOCK_BYTES = 1 << 20
CHUNK_BYTES = 4 << 20
CHUNK_RECORDS = 20_000  # JSON array elements per chunk
BATCH = 256  # records handed to the normalizer at a time
BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Bytes a record may take per token of the model's context: a record within the context has at most 3 characters a
# token (the conservative estimate), each at most 6 bytes in JSON (a \uXXXX escape); 128 leaves room for unused
# columns and markup. 32,000 tokens (every Nova model's customization context) give 4,096,000 bytes.
RECORD_BYTES_PER_TOKEN = 128


@dataclass(frozen=True)
class RecordLimit:
    """The longest line, JSON array element or CSV field read, in bytes, and why."""

    bytes: int
    context_tokens: int
    model: str

    @classmethod
    def of_context(cls, model: str, context_tokens: int) -> RecordLimit:
        return cls(context_tokens * RECORD_BYTES_PER_TOKEN, context_tokens, model)

    def problem(self, where: str, what: str = "line") -> SourceError:
        return SourceError(
            f"{where}: {what} longer than {self.bytes:,} bytes; a record must fit {self.model}'s context of "
            f"{self.context_tokens:,} tokens, and no such record needs more than {RECORD_BYTES_PER_TOKEN} bytes a "
            "token (check for a missing line break, or shorten the record)"
        )


DEFAULT_LIMIT = RecordLimit.of_context("a Nova model", 32_000)  # every model's (csv.field_size_limit is global)
csv.field_size_limit(DEFAULT_LIMIT.bytes)


class ChunkBoundaryError(Exception):
    """A CSV chunk ended inside a quoted field: the quote count did not find record boundaries in this file."""


@dataclass(frozen=True)
class Chunk:
    """A contiguous run of records of one source: bytes of CSV or JSONL, or parsed JSON array elements."""

    index: int
    source: str
    fmt: str  # "csv", "jsonl" or "records"
    first_line: int
    last: bool
    header: tuple[str, ...] | None = None
    offset: int = 0
    data: bytes = b""
    records: tuple[tuple[int, dict[str, Any]], ...] = ()

    @property
    def numbering(self) -> str:
        return "record" if self.fmt == "records" else "line"


Batch = tuple[Sequence[int], list[Any]]


@dataclass(frozen=True)
class RecordStream:
    """The records of one source in batches of (line numbers, records); CSV records are lists of fields."""

    header: tuple[str, ...] | None
    numbering: str
    batches: Iterator[Batch]


def line_breaks(data: bytes) -> int:
    """Line breaks as the csv module counts them: CRLF, CR or LF."""
    if b"\r" not in data:
        return data.count(b"\n")
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _reads(stream: IO[bytes], size: int) -> Iterator[tuple[int, bytes]]:
    """(file offset, bytes) reads of `size` bytes, without the UTF-8 BOM; the last read is empty."""
    data, offset = stream.read(size), 0
    if data.startswith(BOM):
        data, offset = data[len(BOM) :], len(BOM)
    while True:
        yield offset, data
        if not data:
            return
        offset += len(data)
        data = stream.read(size)


def _blocks(
    stream: IO[bytes], source: str, limit: RecordLimit = DEFAULT_LIMIT, size: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) blocks of whole lines (a CRLF pair is never split); the BOM is dropped. A line longer than
    the limit is refused once that many of its bytes are read."""
    size = size or BLOCK_BYTES
    pending, start, line = b"", 0, 1
    for offset, read in _reads(stream, size):
        if not read:
            if pending:
                yield start, pending
            return
        if not pending:
            start = offset
            if offset == 0 and read.startswith(UTF16_BOMS):
                raise _utf16(source)
        data = pending + read
        cut = data.rfind(b"\n") + 1
        if not cut and len(data) > size:  # no LF at all (CR line breaks): cut after a CR that ends no CRLF
            cut = data.rfind(b"\r", 0, len(data) - 1) + 1
        if not cut:
            if len(data) > limit.bytes:
                raise limit.problem(f"{source} line {line}")
            pending = data
            continue
        yield start, data[:cut]
        line += line_breaks(data[:cut])
        start += cut
        pending = data[cut:]


def _utf16(source: str) -> SourceError:
    return SourceError(
        f"{source} line 1: UTF-16 text (it starts with a UTF-16 byte order mark); save the file as UTF-8"
    )


def _decode(data: bytes, source: str, first_line: int, offset: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _decoding_error(data, error, source, first_line, offset) from None


def _decoding_error(data: bytes, error: UnicodeDecodeError, source: str, first_line: int, offset: int) -> SourceError:
    if offset == 0 and data.startswith(UTF16_BOMS):
        return _utf16(source)
    line = first_line + line_breaks(data[: error.start])
    return SourceError(
        f"{source} line {line}: not UTF-8 text ({error.reason} at byte {offset + error.start}); save the file as UTF-8"
    )


class _Deferred:
    """An error found ahead of the parser (undecodable bytes, malformed CSV), raised once every record before it
    has been handled, so that problems are reported in input order."""

    def __init__(self) -> None:
        self.error: Exception | None = None


def _decode_lines(data: bytes, source: str, first_line: int, offset: int, deferred: _Deferred) -> str:
    """The text of the whole lines before the first undecodable byte (all of `data` when it decodes)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        deferred.error = _decoding_error(data, error, source, first_line, offset)
        good = max(data.rfind(b"\n", 0, error.start), data.rfind(b"\r", 0, error.start)) + 1
        return data[:good].decode("utf-8")


def _text_lines(
    blocks: Iterator[tuple[int, bytes]], source: str, lines_read: Callable[[], int], deferred: _Deferred
) -> Iterator[str]:
    """Decoded lines (line breaks kept, as `newline=''` gives them) of a stream of blocks, up to the first
    undecodable line. A block is decoded when the parser has read every line before it, so `lines_read()` then
    numbers its first line."""

    def decoded() -> Iterator[io.StringIO]:
        for offset, data in blocks:
            text = _decode_lines(data, source, lines_read() + 1, offset, deferred)
            yield io.StringIO(text, newline="")
            if deferred.error:
                return

    return chain.from_iterable(decoded())


def _field_line_breaks(row: list[str]) -> int:
    return sum(field.count("\n") + field.count("\r") - field.count("\r\n") for field in row)


def _csv_batches(
    reader: Any,
    width: int,
    source: str,
    delimiter: str,
    *,
    base: int = 0,
    total_lines: int | None = None,
    deferred: _Deferred | None = None,
) -> Iterator[Batch]:
    """Batches of non-blank rows with the line each starts on; `base` shifts line numbers, `total_lines` marks a
    chunk that is not the last of its file (ending inside a quoted field is then a chunk boundary problem)."""
    deferred = deferred or _Deferred()

    def guarded() -> Iterator[list[str]]:  # a malformed row ends the rows; it is reported after those before it
        try:
            yield from reader
        except csv.Error as error:
            if not deferred.error:  # undecodable bytes cut the text short: that is the problem to report
                deferred.error = _csv_problem(error, reader.line_num, source, base, total_lines)

    rows_read = guarded()
    while True:
        before = reader.line_num
        rows = list(islice(rows_read, BATCH))
        if not rows:
            break
        if reader.line_num - before == len(rows) and set(map(len, rows)) == {width}:
            yield range(base + before + 1, base + before + 1 + len(rows)), rows  # one line per row: the common case
            continue
        lines, kept = [], []
        line = base + before + 1
        for row in rows:
            if row and (row[0].strip() or any(map(str.strip, row))):
                if len(row) != width:
                    raise SourceError(
                        f"{source} line {line}: {len(row)} fields, the header has {width} (check the delimiter "
                        f"{delimiter!r} and quoting)"
                    )
                lines.append(line)
                kept.append(row)
            line += 1 + _field_line_breaks(row)
        yield lines, kept
    if deferred.error:
        raise deferred.error


def _csv_problem(error: csv.Error, line_num: int, source: str, base: int, total_lines: int | None) -> Exception:
    if total_lines is not None and line_num >= total_lines:
        return ChunkBoundaryError(
            f"{source}: a chunk ended inside a quoted field (a quote inside an unquoted field, such as "
            '5" screen, defeats counting quotes to find where records end)'
        )
    if "field larger than field limit" in str(error):  # csv.field_size_limit: a quoted field of many lines
        return DEFAULT_LIMIT.problem(f"{source} line {base + line_num}", "field")
    return SourceError(f"{source} line {base + line_num}: {error}")


def _header(reader: Any, source: str, deferred: _Deferred | None = None) -> tuple[str, ...]:
    try:
        header = next(reader)
    except StopIteration:
        if deferred and deferred.error:
            raise deferred.error from None
        raise SourceError(f"{source}: empty file (a header row is required)") from None
    except csv.Error as error:
        if deferred and deferred.error:
            raise deferred.error from None
        raise SourceError(f"{source} line 1: {error}") from None
    if not any(name.strip() for name in header):
        raise SourceError(f"{source} line 1: the header row is empty; the first line must name the columns")
    return tuple(name.strip() for name in header)


NESTED_TOO_DEEPLY = "nested too deeply (more than about 1,000 levels of arrays and objects)"


def _json_value(raw: bytes, source: str, number: int) -> dict[str, Any]:
    """One JSONL line: orjson, or the standard library for its error message (and what only it accepts)."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        if number == 1 and raw.startswith(UTF16_BOMS):
            raise _utf16(source) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SourceError(
                f"{source} line {number}: not UTF-8 text ({error.reason} at byte {error.start + 1} of the line); "
                "save the file as UTF-8"
            ) from None
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise SourceError(f"{source} line {number}: invalid JSON: {error.msg} (column {error.colno})") from None
        except RecursionError:
            raise SourceError(f"{source} line {number}: invalid JSON: {NESTED_TOO_DEEPLY}") from None
    if type(record) is not dict:
        raise SourceError(f"{source} line {number}: expected a JSON object, got {type(record).__name__}")
    return record


def _jsonl_batches(
    lines: Iterator[bytes], source: str, base: int = 0, limit: RecordLimit = DEFAULT_LIMIT
) -> Iterator[Batch]:
    numbered = enumerate(lines, start=base + 1)
    previous_raw, previous = b"", None
    while batch := list(islice(numbered, BATCH)):
        numbers, records = [], []
        for number, raw in batch:
            if len(raw) > limit.bytes and len(raw.rstrip(b"\r\n")) > limit.bytes:
                raise limit.problem(f"{source} line {number}")
            if raw.strip():
                numbers.append(number)
                if raw != previous_raw or previous is None:  # a line like the one before: the same object, unparsed
                    previous_raw, previous = raw, _json_value(raw, source, number)
                records.append(previous)
        yield numbers, records


def bounded_lines(stream: IO[bytes], source: str, limit: RecordLimit) -> Iterator[bytes]:
    """The lines of a JSONL stream (without their LF), read in blocks: a line longer than the limit is refused
    once that many of its bytes are read, never held whole."""
    pending, number = b"", 0
    for offset, data in _reads(stream, BLOCK_BYTES):
        if not data:
            if pending:
                yield pending
            return
        if offset <= len(BOM) and not pending and data.startswith(UTF16_BOMS):
            raise _utf16(source)
        lines = (pending + data).split(b"\n") if pending else data.split(b"\n")
        pending = lines.pop()
        if len(pending) > limit.bytes:
            raise limit.problem(f"{source} line {number + len(lines) + 1}")
        number += len(lines)
        yield from lines


def _batched(records: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[Batch]:
    while batch := list(islice(records, BATCH)):
        yield [number for number, _ in batch], [record for _, record in batch]


_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _ArrayText:
    """The text of a JSON array document, held one block (plus the element being decoded) at a time; blocks are
    read as they come (a minified array is one line) and decoded incrementally."""

    def __init__(self, stream: IO[bytes], source: str) -> None:
        self.blocks, self.source = _reads(stream, BLOCK_BYTES), source
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text, self.position, self.lines_before, self.exhausted, self.line = "", 0, 0, False, 1

    def more(self) -> bool:
        """Drop what was decoded and append the next block; False at the end of the document."""
        offset, data = next(self.blocks, (0, b""))
        if not data:
            self.exhausted = True
            return False
        if offset == 0 and data.startswith(UTF16_BOMS):
            raise _utf16(self.source)
        self.lines_before += self.text.count("\n", 0, self.position)
        try:
            decoded = self.decoder.decode(data)
        except UnicodeDecodeError as error:
            raise _decoding_error(data, error, self.source, self.line, offset) from None
        self.text = self.text[self.position :] + decoded
        self.line += data.count(b"\n")
        self.position = 0
        return True

    def skip_whitespace(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            self.position = _WHITESPACE.match(self.text, self.position).end()  # type: ignore[union-attr]
            if self.position < len(self.text) or not self.more():
                return self.text[self.position : self.position + 1]

    def element(self, decoder: json.JSONDecoder, limit: RecordLimit, number: int) -> tuple[Any, int]:
        """The value that starts at the position and its length in characters, reading more blocks while it is cut
        by a block's end."""
        start = self.position
        while True:
            try:
                value, self.position = decoder.raw_decode(self.text, start)
                return value, self.position - start
            except json.JSONDecodeError as error:  # an element cut by the block's end, or invalid JSON
                if len(self.text) - start > limit.bytes:
                    line = self.lines_before + self.text.count("\n", 0, start) + 1
                    raise limit.problem(f"{self.source} record {number} (line {line})", "element") from None
                if self.exhausted or not self.more():
                    raise self.problem(error.msg, error.pos) from None
                start = 0  # more() dropped what was before the element
            except RecursionError:
                raise self.problem(NESTED_TOO_DEEPLY, start) from None

    def problem(self, message: str, at: int) -> SourceError:
        line = self.lines_before + self.text.count("\n", 0, at) + 1
        return SourceError(f"{self.source} line {line}: invalid JSON: {message}")


def _json_array_records(
    stream: IO[bytes], source: str, limit: RecordLimit = DEFAULT_LIMIT
) -> Iterator[tuple[int, dict[str, Any]]]:
    return ((number, value) for number, value, _ in _json_array_elements(stream, source, limit))


def _json_array_elements(
    stream: IO[bytes], source: str, limit: RecordLimit = DEFAULT_LIMIT
) -> Iterator[tuple[int, dict[str, Any], int]]:
    """The elements of a top-level JSON array, decoded one at a time (memory: a block and one element), with the
    characters each takes; an element longer than the limit is refused before it is read whole."""
    document, decoder = _ArrayText(stream, source), json.JSONDecoder()
    if document.skip_whitespace() != "[":
        raise SourceError(f"{source}: expected a JSON array of records (use .jsonl for one record per line)")
    document.position += 1
    number = 0
    while True:
        character = document.skip_whitespace()
        if not character:
            raise document.problem("the array is not closed", document.position)
        if character == "]":
            document.position += 1
            if document.skip_whitespace():
                raise document.problem("extra data after the array", document.position)
            return
        if number:
            if character != ",":
                raise document.problem("expecting ',' delimiter", document.position)
            document.position += 1
            if not document.skip_whitespace():
                raise document.problem("the array is not closed", document.position)
        value, length = document.element(decoder, limit, number + 1)
        number += 1
        if type(value) is not dict:
            raise SourceError(f"{source} record {number}: expected a JSON object")
        yield number, value, length


@contextmanager
def open_records(
    source: Source, fmt: str, *, delimiter: str = ",", s3: Any = None, limit: RecordLimit = DEFAULT_LIMIT
) -> Iterator[RecordStream]:
    """Every record of one source as a stream."""
    with open_binary(source, s3) as stream:
        if fmt == "csv":
            reader: Any = None
            deferred = _Deferred()
            text = _text_lines(_blocks(stream, source.name, limit), source.name, lambda: reader.line_num, deferred)
            reader = csv.reader(text, delimiter=delimiter, strict=True)
            header = _header(reader, source.name, deferred)
            batches = _csv_batches(reader, len(header), source.name, delimiter, deferred=deferred)
            yield RecordStream(header, "line", batches)
        elif fmt == "jsonl":
            lines = bounded_lines(stream, source.name, limit)
            yield RecordStream(None, "line", _jsonl_batches(lines, source.name, limit=limit))
        else:
            yield RecordStream(None, "record", _batched(_json_array_records(stream, source.name, limit)))


def chunk_batches(chunk: Chunk, delimiter: str, limit: RecordLimit = DEFAULT_LIMIT) -> Iterator[Batch]:
    """The records of one chunk in batches, numbered as reading the whole source in one stream would."""
    if chunk.fmt == "records":
        return _batched(iter(chunk.records))
    if chunk.fmt == "jsonl":
        lines = chunk.data.split(b"\n")
        if chunk.data.endswith(b"\n"):
            lines.pop()
        return _jsonl_batches(iter(lines), chunk.source, chunk.first_line - 1, limit)
    deferred = _Deferred()
    text = _decode_lines(chunk.data, chunk.source, chunk.first_line, chunk.offset, deferred)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    assert chunk.header is not None
    return _csv_batches(
        reader,
        len(chunk.header),
        chunk.source,
        delimiter,
        base=chunk.first_line - 1,
        total_lines=None if chunk.last or deferred.error else line_breaks(chunk.data),
        deferred=deferred,
    )


def _csv_boundary(data: bytes) -> int:
    """The end of the last line of `data` with an even number of quotes before it (0: none)."""
    quotes, end = data.count(b'"'), len(data)
    while (newline := data.rfind(b"\n", 0, end)) >= 0:
        quotes -= data.count(b'"', newline + 1, end)
        if quotes % 2 == 0:
            return newline + 1
        end = newline
    return 0


def _csv_header_bytes(first: bytes, source: str, delimiter: str) -> tuple[tuple[str, ...], int]:
    """The header row at the start of the first block, and how many bytes it takes."""
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in first.splitlines(keepends=True):
            consumed += len(line)
            yield _decode(line, source, 1, consumed - len(line))

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    try:
        return _header(reader, source), consumed
    except SourceError:
        if first.strip():
            raise ChunkBoundaryError(f"{source}: the header row is longer than 1 MiB") from None
        raise


def split_chunks(
    source: Source,
    fmt: str,
    *,
    first_index: int,
    delimiter: str = ",",
    s3: Any = None,
    size: int = CHUNK_BYTES,
    limit: RecordLimit = DEFAULT_LIMIT,
) -> Iterator[Chunk]:
    """The source cut into chunks of about `size` bytes (of JSON array elements: at most `CHUNK_RECORDS`)."""
    index = first_index
    with open_binary(source, s3) as stream:
        if fmt == "json":
            batch: list[tuple[int, dict[str, Any]]] = []
            characters = 0
            for number, value, length in _json_array_elements(stream, source.name, limit):
                batch.append((number, value))
                characters += length
                if len(batch) == CHUNK_RECORDS or characters >= size:
                    yield Chunk(index, source.name, "records", batch[0][0], False, records=tuple(batch))
                    index, batch, characters = index + 1, [], 0
            yield Chunk(index, source.name, "records", batch[0][0] if batch else 1, True, records=tuple(batch))
            return
        header: tuple[str, ...] | None = None
        buffer, offset, line = b"", 0, 1
        for number, (position, read) in enumerate(_reads(stream, size)):
            data = read
            if number == 0:
                offset = position  # after the BOM, if any
                if fmt == "csv":
                    header, used = _csv_header_bytes(data[: 1 << 20], source.name, delimiter)
                    line += line_breaks(data[:used])
                    data, offset = data[used:], offset + used
            if not data:
                yield Chunk(index, source.name, fmt, line, True, header, offset, buffer)
                return
            buffer += data
            while len(buffer) >= size:
                head = buffer[:size]  # cut near `size`, or further on when no record ends within it
                cut = _csv_boundary(head) if fmt == "csv" else head.rfind(b"\n") + 1
                if not cut:
                    cut = _csv_boundary(buffer) if fmt == "csv" else buffer.rfind(b"\n") + 1
                last_break = max(buffer.rfind(b"\n"), buffer.rfind(b"\r") if fmt == "csv" else -1) + 1
                if len(buffer) - last_break > limit.bytes:  # the line being read is too long: refused unread
                    before = buffer[:last_break]
                    long_line = line + (line_breaks(before) if fmt == "csv" else before.count(b"\n"))
                    raise limit.problem(f"{source.name} line {long_line}")
                if not cut and len(buffer) > 4 * max(size, BLOCK_BYTES):
                    raise ChunkBoundaryError(f"{source.name}: no line feed to cut at (CR line breaks?)")
                if not cut:
                    break
                piece = buffer[:cut]
                yield Chunk(index, source.name, fmt, line, False, header, offset, piece)
                index, offset, buffer = index + 1, offset + cut, buffer[cut:]
                line += line_breaks(piece) if fmt == "csv" else piece.count(b"\n")
