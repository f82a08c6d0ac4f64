"""A canonical form of one SQL query, for comparing queries by their text when their results cannot tell them
apart (a reference that is empty on every test database) and for the normalizedSqlMatch metric.

sqlglot parses the query (SQLite dialect) and its optimizer qualifies every column with its table (using the
record's schema when it resolves), lower-cases identifiers, rewrites BETWEEN, orders the terms of AND / OR and
simplifies constants. Then table aliases are renamed after their table and the top-level output columns to
`_col_<n>` (result comparison ignores column names too), so `select count(*) from head as h where h.age > 3 and
h.name = 'x'` and `SELECT COUNT(*) FROM head WHERE name = 'x' AND age > 3` have the same form. A query that does not
parse, is not one query, or that the optimizer refuses has no form (None): it matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.optimizer import optimize

from nova_pipeline.grading.sql_values import MAX_PARSED_CHARS


def canonical_sql(sql: str, schema: Mapping[str, Mapping[str, str]]) -> str | None:
    """The canonical text of one read-only query, or None; `schema` maps table → column → SQL type."""
    if not sql.strip() or len(sql) > MAX_PARSED_CHARS:
        return None
    try:
        trees = [tree for tree in sqlglot.parse(sql, read="sqlite") if tree is not None]
        if len(trees) != 1 or not isinstance(trees[0], exp.Query):
            return None
        try:
            tree = optimize(trees[0], schema=dict(schema), dialect="sqlite")
        except sqlglot.errors.SqlglotError:  # a column the schema does not have: qualify what can be qualified
            tree = optimize(trees[0], dialect="sqlite", validate_qualify_columns=False)
        _rename_tables(tree)
        _rename_outputs(tree)
        return tree.sql(dialect="sqlite", comments=False)
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError, KeyError, TypeError, AttributeError):
        return None  # model-written text: any parser or optimizer failure means "not comparable"


def _rename_tables(tree: exp.Expr) -> None:
    tables_of: dict[str, set[str]] = {}
    for table in tree.find_all(exp.Table):
        tables_of.setdefault(table.alias_or_name, set()).add(table.name)
    seen: dict[str, int] = {}
    renamed: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        alias = table.alias
        if not alias or len(tables_of[alias]) != 1 or alias in renamed:
            continue
        seen[table.name] = seen.get(table.name, 0) + 1
        renamed[alias] = table.name if seen[table.name] == 1 else f"{table.name}_{seen[table.name]}"
    taken = set(tables_of) - set(renamed)
    renamed = {old: new for old, new in renamed.items() if new not in taken or new == old}
    for table in tree.find_all(exp.Table):
        if table.alias in renamed:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(renamed[table.alias], quoted=True)))
    for column in tree.find_all(exp.Column):
        if column.table in renamed:
            column.set("table", exp.to_identifier(renamed[column.table], quoted=True))


def _rename_outputs(tree: exp.Expr) -> None:
    selects = _top_level_selects(tree)
    first: dict[str, str] = {}
    for select in selects:
        outputs: dict[str, str] = {}
        for position, projection in enumerate(select.expressions):
            if isinstance(projection, exp.Alias):
                outputs[projection.alias] = f"_col_{position}"
                projection.set("alias", exp.to_identifier(f"_col_{position}", quoted=True))
        _rename_order(select, outputs)
        first = first or outputs
    if not isinstance(tree, exp.Select):  # the ORDER BY of a UNION names the first branch's outputs
        _rename_order(tree, first)


def _top_level_selects(tree: exp.Expr) -> list[exp.Select]:
    if isinstance(tree, exp.Select):
        return [tree]
    if isinstance(tree, exp.SetOperation):
        return _top_level_selects(tree.left) + _top_level_selects(tree.right)
    if isinstance(tree, exp.Subquery):
        return _top_level_selects(tree.this)
    return []


def _rename_order(node: exp.Expr, outputs: dict[str, str]) -> None:
    order = node.args.get("order")
    for column in order.find_all(exp.Column) if order else ():
        if not column.table and column.name in outputs:
            column.set("this", exp.to_identifier(outputs[column.name], quoted=True))
