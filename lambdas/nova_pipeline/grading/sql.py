"""SQL execution match with test-suite databases: run a candidate and a reference query on several in-memory
SQLite databases built from the record's CREATE TABLE context and compare the result sets on each.

Used by the RFT `sql-execution` reward and by the text-to-SQL execution accuracy metric. As in test-suite execution
accuracy (Zhong, Yu & Klein, "Semantic Evaluation for Text-to-SQL with Distilled Test Suites", EMNLP 2020), the
databases are seeded with the literals of both queries and their neighbours (`sql_values`), so that filters hit and
queries that differ give different results: the candidate matches only if its result equals the reference's on every
database (as multisets, ordered only when the reference has ORDER BY). The databases differ in size, seed and share
of literal values, and hold no NULLs (COUNT(column) and COUNT(*) agree). When the reference is empty on every
database the row is not gradeable by execution (an empty answer would match it): the candidate and the reference
are then compared by their canonical SQL (`sql_canonical`) and the match says it used this fallback.
"""

from __future__ import annotations

import functools
import random
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from nova_pipeline.grading.sql_values import Literals, Value, neighbours, query_literals


class Profile(NamedTuple):
    """How one test database is filled."""

    rows: int  # per table: sizes differ so that COUNT(*) differs between databases
    literal_share: float  # share of cells drawn from the queries' literals and their neighbours
    domain: int  # distinct generated values per column: small repeats values (GROUP BY, joins on ids), large keeps
    # COUNT(DISTINCT) and ORDER BY ... LIMIT from saturating
    side: int  # numeric neighbours: all (0), at most the literal (-1), at least it (+1): `x > 3` vs `x >= 3`
    repeated: int  # rows holding the most literals, repeated: DISTINCT, UNION vs UNION ALL, COUNT(DISTINCT)


# The test suite: a constant answer cannot match every database, nor can a query that differs on the literals.
DATABASES = (
    Profile(rows=12, literal_share=0.5, domain=5, side=0, repeated=0),
    Profile(rows=8, literal_share=0.6, domain=3, side=-1, repeated=0),
    Profile(rows=16, literal_share=0.6, domain=40, side=0, repeated=4),
    Profile(rows=6, literal_share=0.6, domain=8, side=1, repeated=0),
)
# Model-written SQL runs here: one read-only SELECT/WITH (the authorizer allows reading and functions only), a
# bounded amount of work (runaway recursive CTEs), a wall-clock bound, bounded strings/blobs and result rows. The
# step and time budgets cover one grading (both queries on every database), not each database.
MAX_VM_STEPS = 5_000_000
MAX_SECONDS = 2.0
MAX_VALUE_BYTES = 1_000_000  # SQLITE_LIMIT_LENGTH: zeroblob(1e9), printf('%.*c', 1e9, 'x') fail instead of allocating
MAX_SQL_BYTES = 100_000  # SQLITE_LIMIT_SQL_LENGTH
MAX_RESULT_ROWS = 10_000
_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_QUERY = re.compile(r"^\s*\(*\s*(select|with|values)\b", re.IGNORECASE)
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_NEXT_STATEMENT = re.compile(
    r";\s*(select|with|insert|update|delete|drop|create|alter|replace|attach|detach|pragma|vacuum|reindex|analyze)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```(?:sql)?\s*(.*?)```", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"create\s+table\s+(?:if\s+not\s+exists\s+)?[`\"\[]?(\w+)[`\"\]]?\s*\((.*?)\)\s*;?", re.I | re.S)
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_REAL_TYPES = ("number", "numeric", "real", "float", "double", "decimal")


@dataclass(frozen=True)
class SqlMatch:
    equal: bool
    candidate_error: str | None = None
    reference_error: str | None = None
    # The reference was empty on every database: graded by comparing canonical SQL, not by execution.
    fallback: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, declared type)


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


_CREATE = re.compile(r"create\s+table\b", re.I)


@functools.lru_cache(maxsize=4096)
def schema_problem(context: str) -> str | None:
    """Why a text-to-SQL record's context is not a usable schema (prepare refuses the record), or None: a CREATE
    TABLE that does not parse (a quote in a name, no column list), a table defined twice, a column listed twice."""
    statements = len(_CREATE.findall(context))
    parsed = _TABLE.findall(context)
    if statements == 0:
        return "holds no CREATE TABLE statement"
    if len(parsed) < statements:
        return "a CREATE TABLE statement cannot be read (a quote or space in a table name, or no column list)"
    tables: set[str] = set()
    for table, body in parsed:
        if table.lower() in tables:
            return f"table {table!r} is defined twice"
        tables.add(table.lower())
        columns: set[str] = set()
        for name, _ in _columns(body):
            if "'" in name or '"' in name:
                return f"column name {name!r} of table {table!r} holds a quote"
            if name.lower() in columns:
                return f"column {name!r} is listed twice in table {table!r}"
            columns.add(name.lower())
    return None


@functools.lru_cache(maxsize=256)
def schema_tables(context: str) -> tuple[Table, ...]:
    """The context's tables: a duplicate table is kept once (the first), a duplicate column once, empty ones dropped."""
    tables: dict[str, Table] = {}
    for table, body in _TABLE.findall(context):
        columns = list({name.lower(): (name, kind) for name, kind in reversed(_columns(body))}.values())[::-1]
        if columns and table.lower() not in tables:
            tables[table.lower()] = Table(table, tuple(columns))
    return tuple(tables.values())


def _kind(declared: str) -> str:
    if "int" in declared:
        return "int"
    return "real" if any(word in declared for word in _REAL_TYPES) else "text"


def _generic(kind: str, rng: random.Random, domain: int) -> Value:
    """One of `domain` values of the column's kind."""
    number = rng.randint(1, domain)
    if kind == "int":
        return number
    if kind == "real":
        return round(number * 100 / domain - rng.random(), 1)
    return _WORDS[number % len(_WORDS)] + ("" if number < len(_WORDS) else str(number // len(_WORDS)))


def _pool(table: Table, column: str, kind: str, literals: Literals, side: int) -> tuple[list[Value], list[Value]]:
    """The column's literals (as stored in a column of its kind) and all their neighbours on the profile's side."""
    bound = literals.by_column.get((table.name.lower(), column.lower()), ())
    loose: tuple[Value, ...] = literals.strings if kind == "text" else literals.numbers
    exact: list[Value] = []
    near: list[Value] = []
    for literal in bound + loose:
        values = neighbours(literal, kind)
        exact.append(values[0])
        near += [v for v in values if isinstance(v, str) or isinstance(literal, str) or (v - literal) * side >= 0]
    return list(dict.fromkeys(exact)), list(dict.fromkeys(near))


def _rows(table: Table, literals: Literals, profile: Profile, rng: random.Random) -> list[tuple[Value, ...]]:
    """Cells drawn from the literals with probability `literal_share`, each column's literals and neighbours in
    turn (a literal before its neighbours), so that every one is in some row; the other cells generated values."""
    kinds = [_kind(declared) for _, declared in table.columns]
    pools = [
        _pool(table, name, kind, literals, profile.side) for (name, _), kind in zip(table.columns, kinds, strict=True)
    ]
    taken = [0] * len(pools)
    rows: list[tuple[Value, ...]] = []
    for _ in range(profile.rows - profile.repeated):
        row: list[Value] = []
        for position, ((_, near), kind) in enumerate(zip(pools, kinds, strict=True)):
            if near and rng.random() < profile.literal_share:
                row.append(near[taken[position] % len(near)])
                taken[position] += 1
            else:
                row.append(_generic(kind, rng, profile.domain))
        rows.append(tuple(row))

    # The rows holding the most literals come back, so that the rows a filter keeps include duplicates.
    def literal_count(row: tuple[Value, ...]) -> int:
        return sum(value in exact for value, (exact, _) in zip(row, pools, strict=True))

    repeated = sorted(range(len(rows)), key=lambda i: -literal_count(rows[i]))[: profile.repeated]
    return rows + [rows[i] for i in sorted(repeated)]


class _Guard:
    """The work and time budget of one grading, and the helper connection bounded printf runs on."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.helper = _limit(sqlite3.connect(":memory:"))

    def __call__(self) -> int:
        self.steps += 1
        return 1 if self.steps * 1000 > MAX_VM_STEPS or time.monotonic() > self.deadline else 0


def build_database(
    context: str, index: int = 0, literals: Literals | None = None, guard: _Guard | None = None
) -> sqlite3.Connection:
    """Test database `index` of DATABASES: the context's tables with deterministic rows drawn partly from the
    queries' literals, then locked for reading only.

    A table SQLite refuses is skipped, a duplicate column is kept once and quotes in names are escaped: a context
    never makes this raise."""
    profile = DATABASES[index]
    literals = literals or Literals()
    guard = guard or _Guard()
    connection = sqlite3.connect(":memory:")
    rng = random.Random(7 + 7919 * index)  # noqa: S311 - reproducible test rows, not a secret
    for table in schema_tables(context):
        rows = _rows(table, literals, profile, rng)
        definition = ", ".join(f"{_quoted(name)} {_type_name(kind)}" for name, kind in table.columns)
        placeholders = ", ".join("?" for _ in table.columns)
        try:
            connection.execute(f"CREATE TABLE {_quoted(table.name)} ({definition})")
            connection.executemany(f"INSERT INTO {_quoted(table.name)} VALUES ({placeholders})", rows)  # noqa: S608
        except (sqlite3.Error, OverflowError):
            continue
    _limit(connection)
    # SQLite's printf fills a width of 1e9 one character at a time before its length limit stops it (seconds, no
    # progress-handler call): printf/format run on a helper connection, refusing widths above the value limit.
    for name in ("printf", "format"):
        connection.create_function(name, -1, lambda *args, h=guard.helper: _bounded_printf(h, args), deterministic=True)
    connection.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY)
    connection.set_progress_handler(guard, 1000)
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


def _shape(tables: tuple[Table, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((table.name.lower(), tuple(name.lower() for name, _ in table.columns)) for table in tables)


def execution_match(candidate: str, reference: str, context: str) -> SqlMatch:
    """Whether the candidate returns the reference's rows on every test database; False (never an exception) for
    anything that cannot be run: a bad context, a statement that is not one read-only query, a limit hit. A
    reference empty on every database is compared by canonical SQL instead (`fallback`)."""
    candidate_sql, reference_sql = extract_sql(candidate), extract_sql(reference)
    shape = _shape(schema_tables(context))
    literals = query_literals(reference_sql, shape).merged(query_literals(candidate_sql, shape))
    ordered = bool(_ORDER_BY.search(reference_sql))
    guard = _Guard()
    reference_rows = False
    try:
        for index in range(len(DATABASES)):
            try:
                connection = build_database(context, index, literals, guard)
            except (sqlite3.Error, ValueError) as error:
                return SqlMatch(False, reference_error=f"context: {type(error).__name__}: {error}")
            try:
                expected, reference_error = _run(connection, reference_sql)
                got, candidate_error = (None, None) if expected is None else _run(connection, candidate_sql)
            finally:
                connection.close()
            if expected is None or got is None:
                return SqlMatch(False, candidate_error, reference_error)
            if (got != expected) if ordered else (Counter(got) != Counter(expected)):
                return SqlMatch(False)
            reference_rows = reference_rows or bool(expected)
    finally:
        guard.helper.close()
    if reference_rows:
        return SqlMatch(True)
    return SqlMatch(normalized_match(candidate_sql, reference_sql, context), fallback=True)


def normalized_match(candidate: str, reference: str, context: str) -> bool:
    """Whether both answers' SQL has the same canonical form (sqlglot), with the context's schema."""
    from nova_pipeline.grading.sql_canonical import canonical_sql  # loads sqlglot's optimizer: only when needed

    schema = {table.name: {name: _type_name(kind) for name, kind in table.columns} for table in schema_tables(context)}
    expected = canonical_sql(extract_sql(reference), schema)
    return expected is not None and canonical_sql(extract_sql(candidate), schema) == expected


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
