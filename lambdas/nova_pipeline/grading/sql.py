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
from collections import Counter
from dataclasses import dataclass

ROWS_PER_TABLE = 12
# Model-written SQL runs here: no ATTACH (files), no PRAGMA, and a bounded amount of work (runaway recursive CTEs).
MAX_VM_STEPS = 5_000_000
_DENIED = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_PRAGMA}
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
    """An in-memory database with the context's tables and deterministic rows."""
    connection = sqlite3.connect(":memory:")
    rng = random.Random(seed)  # noqa: S311 - reproducible test rows, not a secret
    for table, body in _TABLE.findall(context):
        columns = _columns(body)
        if not columns:
            continue
        definition = ", ".join(f'"{name}" {kind.upper()}' for name, kind in columns)
        connection.execute(f'CREATE TABLE "{table}" ({definition})')
        rows = [tuple(_value(kind, rng) for _, kind in columns) for _ in range(ROWS_PER_TABLE)]
        placeholders = ", ".join("?" for _ in columns)
        connection.executemany(f'INSERT INTO "{table}" VALUES ({placeholders})', rows)  # noqa: S608
    connection.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action in _DENIED else sqlite3.SQLITE_OK)
    steps = [0]

    def budget() -> int:
        steps[0] += 1
        return 1 if steps[0] * 1000 > MAX_VM_STEPS else 0

    connection.set_progress_handler(budget, 1000)
    return connection


def _run(connection: sqlite3.Connection, sql: str) -> tuple[list[tuple[object, ...]] | None, str | None]:
    try:
        return connection.execute(sql).fetchall(), None
    except (sqlite3.Error, sqlite3.Warning) as error:
        return None, f"{type(error).__name__}: {error}"


def execution_match(candidate: str, reference: str, context: str) -> SqlMatch:
    """Whether the candidate returns the reference's rows on the context's database."""
    connection = build_database(context)
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
    connection = build_database(context)
    try:
        connection.execute(f"EXPLAIN {extract_sql(sql)}")
        return True
    except (sqlite3.Error, sqlite3.Warning):
        return False
    finally:
        connection.close()
