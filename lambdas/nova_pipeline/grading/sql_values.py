"""The values the SQL grader's test databases are seeded with: the literals of the reference and the candidate
query, each placed in the column it is compared with, and their neighbours.

This is the idea of test-suite execution accuracy (Zhong, Yu & Klein, "Semantic Evaluation for Text-to-SQL with
Distilled Test Suites", EMNLP 2020): random rows rarely contain `'Aurora Aurora'` or `age > 4516`, so a reference
filtering on them returns nothing and any empty answer matches it. Rows drawn partly from the queries' own literals
and their neighbours (4515, 4516, 4517; `'Aurora Aurora'`, its upper/lower case, a longer string containing it) make
the filters hit and make `>` and `>=`, `=` and `LIKE`, one literal and another give different results.

A literal is bound to every column of the smallest predicate around it (`age > 3`, `name IN ('a', 'b')`,
`age + 1 BETWEEN 2 AND 5`), resolved through the query's table aliases; a literal compared with no column (a
`HAVING COUNT(*) > 2`, a projected constant) goes to a pool used by every column of its type. LIMIT / OFFSET counts
are not values. A query sqlglot cannot parse, or longer than MAX_PARSED_CHARS, contributes nothing (SQLite may
still run it).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlglot is imported on the first SQL graded: functions that never grade SQL do not load it
    from sqlglot import exp

# Model-written SQL makes sqlglot warn ("Cannot traverse scope", "unsupported syntax"): a grader batch would log one
# line per odd answer. Its errors still surface as exceptions, which the grader turns into a score of 0.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

Value = int | float | str
_INT64 = range(-(2**63), 2**63)
MAX_PARSED_CHARS = 20_000  # longer model-written SQL is not parsed (no literals, no canonical form); SQLite may run it
ColumnKey = tuple[str, str]  # (table, column), lower case


@dataclass(frozen=True)
class Literals:
    by_column: Mapping[ColumnKey, tuple[Value, ...]] = field(default_factory=dict)
    numbers: tuple[int | float, ...] = ()
    strings: tuple[str, ...] = ()

    def merged(self, other: Literals) -> Literals:
        columns = {key: tuple(dict.fromkeys(values)) for key, values in self.by_column.items()}
        for key, values in other.by_column.items():
            columns[key] = tuple(dict.fromkeys(columns.get(key, ()) + values))
        return Literals(
            columns,
            tuple(dict.fromkeys(self.numbers + other.numbers)),
            tuple(dict.fromkeys(self.strings + other.strings)),
        )


def neighbours(value: Value, kind: str) -> list[Value]:
    """The literal and the values next to it (nearest first), for a column of kind `int`, `real` or `text`."""
    if isinstance(value, str):
        if "%" in value or "_" in value:  # a LIKE pattern: strings it matches and strings it barely misses
            core = value.replace("%", "").replace("_", "a")
            return list(dict.fromkeys([core, value.replace("%", "zz").replace("_", "a"), core[1:], value]))
        return list(dict.fromkeys([value, value.upper(), value.lower(), f"{value} x"]))
    if kind == "int":
        if isinstance(value, float) and not math.isfinite(value):
            return [value]
        low, high = (value, value) if isinstance(value, int) else (int(value // 1), int(value // 1) + 1)
        values: list[Value] = [
            v for v in dict.fromkeys([low, high, low - 1, high + 1, low - 2, high + 2]) if v in _INT64
        ]
        return values or [value]
    if kind == "real":
        return list(dict.fromkeys([value, value - 0.5, value + 0.5, value - 2, value + 2]))
    return [value]


@functools.lru_cache(maxsize=1024)
def query_literals(sql: str, schema: tuple[tuple[str, tuple[str, ...]], ...]) -> Literals:
    """The literals of one query, bound to the schema's columns (`schema`: lower-case table, its columns)."""
    import sqlglot
    from sqlglot import exp

    if len(sql) > MAX_PARSED_CHARS:
        return Literals()
    try:
        trees = sqlglot.parse(sql, read="sqlite")
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
        return Literals()
    columns_of = dict(schema)
    by_column: dict[ColumnKey, list[Value]] = {}
    numbers: list[int | float] = []
    strings: list[str] = []
    for tree in trees:
        if tree is None:
            continue
        aliases = {table.alias_or_name.lower(): table.name.lower() for table in tree.find_all(exp.Table)}
        for literal in tree.find_all(exp.Literal):
            value = _value(literal)
            if value is None or _is_count(literal):
                continue
            keys = [key for column in _compared_columns(literal) for key in _resolve(column, aliases, columns_of)]
            for key in keys:
                by_column.setdefault(key, []).append(value)
            if keys:
                continue
            if isinstance(value, str):
                strings.append(value)
            else:
                numbers.append(value)
    columns = {key: tuple(dict.fromkeys(values)) for key, values in by_column.items()}
    return Literals(columns, tuple(dict.fromkeys(numbers)), tuple(dict.fromkeys(strings)))


def _value(literal: exp.Literal) -> Value | None:
    from sqlglot import exp

    if literal.is_string:
        return str(literal.this)
    text = str(literal.this)
    try:
        number: int | float = int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return None
    if isinstance(number, int) and number not in _INT64:  # SQLite's integers are 64-bit: store it as a real
        number = float(number)
    return -number if isinstance(literal.parent, exp.Neg) else number


def _is_count(literal: exp.Literal) -> bool:
    from sqlglot import exp

    return literal.find_ancestor(exp.Limit, exp.Offset, exp.Fetch) is not None


def _compared_columns(literal: exp.Literal) -> Iterator[exp.Column]:
    from sqlglot import exp

    node: exp.Expr | None = literal.parent
    while node is not None and not isinstance(node, exp.Predicate | exp.Query | exp.Subquery):
        node = node.parent
    if isinstance(node, exp.Predicate):
        yield from node.find_all(exp.Column)


def _resolve(column: exp.Column, aliases: dict[str, str], columns_of: dict[str, tuple[str, ...]]) -> list[ColumnKey]:
    name, qualifier = column.name.lower(), column.table.lower()
    table = aliases.get(qualifier, qualifier)
    if table and name in columns_of.get(table, ()):
        return [(table, name)]
    return [(candidate, name) for candidate, names in columns_of.items() if name in names]
