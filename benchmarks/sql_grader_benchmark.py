"""The SQL grader's test suite against a single generated database, on the shipped text-to-SQL examples, in one run.

    .venv/bin/python benchmarks/sql_grader_benchmark.py [--repeat 3]

Baseline: what the grader did before test suites: one database of 12 generated rows per table (no literals of the
queries), both queries run once, results compared. Test suite: `execution_match` (the literals of both queries
parsed with sqlglot and seeded with their neighbours into 4 databases, both queries run on each, the canonical-SQL
fallback when the reference is empty everywhere). For each record of `examples/data/text-to-sql/train.csv` four
candidates are graded: the reference itself, an equivalent rewrite (lower case, a table alias, the comparison
flipped), a near miss (`>` for `>=` and the like, or the first number plus one) and a constant empty answer.
Figures: CPU milliseconds per graded row (median of `--repeat` passes; CPU time, as the machine may be shared; the
parse cache cleared before each pass) and the ratio, the share of records a constant
empty answer scores 1 on, the share of near misses scored 1, the share of equivalent rewrites scored 0, and the cold
import time of the grader module in a fresh interpreter (sqlglot is imported with it).
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

from nova_pipeline.grading.sql import build_database, execution_match, extract_sql, schema_tables
from nova_pipeline.grading.sql_values import query_literals

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "data" / "text-to-sql" / "train.csv"
CONSTANT = "SELECT 1 WHERE 0"
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "=": "="}
_NEAR = ((">=", ">"), ("<=", "<"), (">", ">="), ("<", "<="), ("DESC", "ASC"), ("MAX(", "MIN("))


def one_database_match(candidate: str, reference: str, context: str) -> bool:
    """The baseline: one database of generated rows, no literals."""
    connection = build_database(context)
    try:
        expected = connection.execute(extract_sql(reference)).fetchall()
        got = connection.execute(extract_sql(candidate)).fetchall()
    except Exception:  # a candidate that does not run is a mismatch, as in the grader
        return False
    finally:
        connection.close()
    if re.search(r"\border\s+by\b", reference, re.IGNORECASE):
        return got == expected
    return Counter(got) == Counter(expected)


def rewrite(reference: str, context: str) -> str:
    """An equivalent query written differently: lower-case keywords, a table alias, the comparison flipped."""
    table = schema_tables(context)[0]
    query = re.sub(
        r"WHERE (\w+) (>=|<=|>|<|=) ('[^']*'|[\d.]+)", lambda m: f"WHERE {m[3]} {_FLIP[m[2]]} {m[1]}", reference
    )
    query = re.sub(rf"\bFROM {table.name}\b", f"from {table.name} AS t1", query)
    for name, _ in table.columns:
        query = re.sub(rf"(?<!')\b{name}\b(?!')", f"t1.{name}", query)
    return re.sub(r"\b(SELECT|WHERE|ORDER BY|COUNT|DISTINCT|LIMIT)\b", lambda m: m[1].lower(), query)


def near_miss(reference: str) -> str | None:
    for old, new in _NEAR:
        if old in reference:
            return reference.replace(old, new, 1)
    plus_one = re.sub(r"(?<=[<>=] )(\d+)\b", lambda m: str(int(m[1]) + 1), reference, count=1)
    return plus_one if plus_one != reference else None


def measure(match: Callable[[str, str, str], bool], rows: list[dict[str, str]], repeat: int) -> dict[str, float]:
    cases = []
    for row in rows:
        reference, context = row["answer"], row["context"]
        cases.append(("self", reference, reference, context))
        cases.append(("rewrite", rewrite(reference, context), reference, context))
        cases.append(("constant", CONSTANT, reference, context))
        miss = near_miss(reference)
        if miss:
            cases.append(("near", miss, reference, context))
    timings = []
    for _ in range(repeat):
        query_literals.cache_clear()  # every pass parses every query, as a batch of new candidates would
        schema_tables.cache_clear()
        started = time.process_time()
        scores = [(kind, match(candidate, reference, context)) for kind, candidate, reference, context in cases]
        timings.append((time.process_time() - started) / len(cases) * 1000)
    by_kind: dict[str, list[bool]] = {}
    for kind, score in scores:
        by_kind.setdefault(kind, []).append(score)
    return {
        "ms_per_row": statistics.median(timings),
        "constant_scored_1": sum(by_kind["constant"]) / len(by_kind["constant"]),
        "near_miss_scored_1": sum(by_kind["near"]) / len(by_kind["near"]),
        "rewrite_scored_0": 1 - sum(by_kind["rewrite"]) / len(by_kind["rewrite"]),
        "self_scored_0": 1 - sum(by_kind["self"]) / len(by_kind["self"]),
    }


def cold_import(module: str) -> float:
    code = f"import sys, time; sys.path.insert(0, 'lambdas'); t = time.perf_counter(); import {module}; " + (
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(runs) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = list(csv.DictReader(EXAMPLES.open(encoding="utf-8")))
    baseline = measure(one_database_match, rows, args.repeat)
    suite = measure(lambda c, r, x: execution_match(c, r, x).equal, rows, args.repeat)
    print(f"{len(rows)} example records, 3-4 candidates each")
    print(f"{'':28} {'one database':>14} {'test suite':>12}")
    for key, label in (
        ("ms_per_row", "CPU ms per graded row"),
        ("constant_scored_1", "constant empty answer = 1"),
        ("near_miss_scored_1", "near miss = 1"),
        ("rewrite_scored_0", "equivalent rewrite = 0"),
        ("self_scored_0", "reference itself = 0"),
    ):
        print(f"{label:28} {baseline[key]:>14.3f} {suite[key]:>12.3f}")
    print(f"time ratio (test suite / one database): {suite['ms_per_row'] / baseline['ms_per_row']:.1f}x")
    grader, parser = cold_import("nova_pipeline.grading.sql"), cold_import("sqlglot")
    print(f"cold import: grader module {grader:.0f} ms; sqlglot, loaded on the first SQL graded, {parser:.0f} ms")


if __name__ == "__main__":
    main()
