"""SQL execution match: run a candidate and a reference query on an in-memory SQLite database built from the
record's CREATE TABLE context, seeded with deterministic rows, and compare the result sets.

Used by the RFT `sql-execution` reward and by the text-to-SQL execution accuracy metric. Rows are generated per
column type from a fixed seed (several distinct values per column, repeated values so that GROUP BY and COUNT mean
something), so that different queries give different results and equivalent ones agree. Results compare as
multisets unless the reference has ORDER BY.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass

ROWS_PER_TABLE = 12
# Model-written SQL runs here: one read-only SELECT/WITH (the authorizer allows reading and functions only), a
# bounded amount of work (runaway recursive CTEs), a wall-clock bound, bounded strings/blobs and result rows.
MAX_VM_STEPS = 5_000_000
MAX_SECONDS = 2.0
MAX_VALUE_BYTES = 1_000_000  # SQLITE_LIMIT_LENGTH: zeroblob(1e9), printf('%.*c', 1e9, 'x') fail instead of allocating
MAX_SQL_BYTES = 100_000  # SQLITE_LIMIT_SQL_LENGTH
MAX_RESULT_ROWS = 10_000
_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_QUERY = re.compile(r"^\s*\(*\s*(select|with|values)\b", re.IGNORECASE)
_NEXT_STATEMENT = re.compile(
    r";\s*(select|with|insert|update|delete|drop|create|alter|replace|attach|detach|pragma|vacuum|reindex|analyze)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```(?:sql)?\s*(.*?)```", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"create\s+table\s+(?:if\s+not\s+exists\s+)?[`\"\[]?(\w+)[`\"\]]?\s*\((.*?)\)\s*;?", re.I | re.S)
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


@dataclass(frozen=True)
class SqlMatch:
    equal: bool
    candidate_error: str | None = None
    reference_error: str | None = None


def extract_sql(answer: str) -> str:
    """The SQL in an answer: a fenced block if any, else the text from the first SELECT/WITH."""
    fenced = _FENCE.search(answer)
    if fenced:
        return fenced.group(1).strip()
    match = re.search(r"\b(select|with)\b", answer, re.IGNORECASE)
    text = answer[match.start() :] if match else answer
    if _NEXT_STATEMENT.search(text):  # a second statement after the first: not one query; refused when run
        return text.strip()
    return text.strip().split(";")[0].strip()


def _columns(body: str) -> list[tuple[str, str]]:
    columns = []
    for part in re.split(r",(?![^()]*\))", body):
        tokens = part.strip().split()
        if len(tokens) >= 1 and tokens[0].lower() not in ("primary", "foreign", "unique", "constraint", "check"):
            columns.append((tokens[0].strip('`"[]'), (tokens[1] if len(tokens) > 1 else "text").lower()))
    return columns


def _value(kind: str, rng: random.Random) -> object:
    if any(word in kind for word in ("int", "number", "numeric", "real", "float", "double", "decimal")):
        return rng.randint(1, 6) if "int" in kind else round(rng.uniform(1, 100), 1)
    return rng.choice(_WORDS[:5])


def build_database(context: str, seed: int = 7) -> sqlite3.Connection:
    """An in-memory database with the context's tables and deterministic rows, then locked for reading only.

    A table SQLite refuses (a duplicate table, an empty column list) is skipped, a duplicate column is kept once and
    quotes in names are escaped: a context never makes this raise."""
    connection = sqlite3.connect(":memory:")
    rng = random.Random(seed)  # noqa: S311 - reproducible test rows, not a secret
    for table, body in _TABLE.findall(context):
        columns = list({name.lower(): (name, kind) for name, kind in reversed(_columns(body))}.values())[::-1]
        if not columns:
            continue
        definition = ", ".join(f"{_quoted(name)} {_type_name(kind)}" for name, kind in columns)
        rows = [tuple(_value(kind, rng) for _, kind in columns) for _ in range(ROWS_PER_TABLE)]
        placeholders = ", ".join("?" for _ in columns)
        try:
            connection.execute(f"CREATE TABLE {_quoted(table)} ({definition})")
            connection.executemany(f"INSERT INTO {_quoted(table)} VALUES ({placeholders})", rows)  # noqa: S608
        except sqlite3.Error:
            continue
    _limit(connection)
    # SQLite's printf fills a width of 1e9 one character at a time before its length limit stops it (seconds, no
    # progress-handler call): printf/format run on a helper connection, refusing widths above the value limit.
    helper = _limit(sqlite3.connect(":memory:"))
    for name in ("printf", "format"):
        connection.create_function(name, -1, lambda *args, h=helper: _bounded_printf(h, args), deterministic=True)
    connection.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY)
    steps = [0]
    deadline = time.monotonic() + MAX_SECONDS

    def budget() -> int:
        steps[0] += 1
        return 1 if steps[0] * 1000 > MAX_VM_STEPS or time.monotonic() > deadline else 0

    connection.set_progress_handler(budget, 1000)
    return connection


def _limit(connection: sqlite3.Connection) -> sqlite3.Connection:
    connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    connection.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    return connection


def _bounded_printf(helper: sqlite3.Connection, args: tuple[object, ...]) -> str | None:
    widths = [int(w) for w in re.findall(r"%[-+ 0#,!]*(\d+)", str(args[0]) if args else "")]
    numbers = [abs(a) for a in args[1:] if isinstance(a, int | float)]
    if any(w > MAX_VALUE_BYTES for w in widths + numbers):
        raise ValueError(f"printf width above {MAX_VALUE_BYTES:,}")
    placeholders = ", ".join("?" for _ in args)
    value = helper.execute(f"SELECT printf({placeholders})", args).fetchone()[0]
    return None if value is None else str(value)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _type_name(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9_ ()]", "", kind).upper() or "TEXT"


def _run(connection: sqlite3.Connection, sql: str) -> tuple[list[tuple[object, ...]] | None, str | None]:
    """Rows of one read-only query, or the reason it was not run; never raises."""
    if not _QUERY.match(sql):
        return None, "not a SELECT/WITH query"
    try:
        rows = connection.execute(sql).fetchmany(MAX_RESULT_ROWS + 1)
    except (sqlite3.Error, sqlite3.Warning, OverflowError, MemoryError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"
    if len(rows) > MAX_RESULT_ROWS:
        return None, f"more than {MAX_RESULT_ROWS:,} result rows"
    return rows, None


def execution_match(candidate: str, reference: str, context: str) -> SqlMatch:
    """Whether the candidate returns the reference's rows on the context's database; False (never an exception)
    for anything that cannot be run: a bad context, a statement that is not one read-only query, a limit hit."""
    try:
        connection = build_database(context)
    except (sqlite3.Error, ValueError) as error:
        return SqlMatch(False, reference_error=f"context: {type(error).__name__}: {error}")
    try:
        expected, reference_error = _run(connection, extract_sql(reference))
        got, candidate_error = _run(connection, extract_sql(candidate))
    finally:
        connection.close()
    if expected is None or got is None:
        return SqlMatch(False, candidate_error, reference_error)
    if re.search(r"\border\s+by\b", reference, re.IGNORECASE):
        return SqlMatch(got == expected)
    return SqlMatch(Counter(got) == Counter(expected))


def parses(sql: str, context: str) -> bool:
    """Whether SQLite accepts the statement against the context's schema (EXPLAIN, nothing executed)."""
    try:
        connection = build_database(context)
    except (sqlite3.Error, ValueError):
        return False
    try:
        connection.execute(f"EXPLAIN {extract_sql(sql)}")
        return True
    except (sqlite3.Error, sqlite3.Warning, ValueError):
        return False
    finally:
        connection.close()
