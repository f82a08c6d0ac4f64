"""Data preparation throughput and memory, against two baselines measured in the same run.

    .venv/bin/python benchmarks/prepare_benchmark.py [--rows 1000000] [--small 100000]

For each size it generates a text-to-SQL CSV (benchmarks/datagen.py: about 1% exact duplicates) and runs, each in
a fresh subprocess:
- engine: `nova_pipeline.prepare` (CSV -> SFT JSONL with sanitizing, validation, dedupe, splits, caps, manifest),
  with its default worker processes (one per CPU here) and again in one process (`--workers 1`);
- naive: the notebook way, a pandas frame in memory and per-row Python (iterrows, format, json.dumps, random split);
- raw floor: read + parse (csv) + serialize (json) only, nothing else.
Figures are records/s (wall clock of the whole process, start-up included) and peak memory: the largest total of
the process and its workers, sampled every 10 ms as the sum of their proportional set sizes (PSS: what the process
tree holds in RAM, a page shared after fork counted once).
Ratios are printed in the terms of the goals (the machines are noisy: compare runs of the same invocation).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = (
    "You are a powerful text-to-SQL model. Your job is to answer questions about a database. You can use the "
    "following table schema for context: {context}"
)
USER = "Return the SQL query that answers the following question: {question}"

ENGINE = f"""
import json, sys
sys.path.insert(0, {str(ROOT / "lambdas")!r})
workers = int(sys.argv[3]) if len(sys.argv) > 3 else None
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.prepare.engine import prepare
from nova_pipeline.prepare.sources import OutputLocation, list_sources
run = parse_execution_input({{"dataset": {{"uri": sys.argv[1], "format": "csv",
    "columns": {{"question": "question", "answer": "answer", "context": "context"}}}},
    "task": "text-to-sql", "prompt": {{"system": {SYSTEM!r}, "userTemplate": {USER!r}}}}})
result = prepare(list_sources(sys.argv[1]), run, OutputLocation(sys.argv[2]), workers=workers)
print(json.dumps(result.manifest["records"]))
"""

NAIVE = f"""
import json, random, sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
rng = random.Random(0)
outputs = {{name: open(f"{{sys.argv[2]}}/{{name}}.jsonl", "w") for name in ("train", "validation", "test")}}
for _, row in frame.iterrows():
    record = {{"schemaVersion": "bedrock-conversation-2024",
              "system": [{{"text": {SYSTEM!r}.format(context=row["context"])}}],
              "messages": [{{"role": "user", "content": [{{"text": {USER!r}.format(question=row["question"])}}]}},
                           {{"role": "assistant", "content": [{{"text": row["answer"]}}]}}]}}
    draw = rng.random()
    split = "train" if draw < 0.8 else ("validation" if draw < 0.9 else "test")
    outputs[split].write(json.dumps(record) + "\\n")
print(json.dumps({{"accepted": len(frame)}}))
"""

RAW = """
import csv, json, sys
count = 0
with open(sys.argv[1], newline="", encoding="utf-8") as source, open(f"{sys.argv[2]}/out.jsonl", "w") as out:
    for row in csv.DictReader(source):
        out.write(json.dumps(row) + "\\n")
        count += 1
print(json.dumps({"accepted": count}))
"""


def _tree_memory_kb(pid: int) -> int:
    """Memory of a process and its descendants from /proc: the sum of their proportional set sizes (a page shared by
    n processes counts 1/n in each, so the pages forked workers share with their parent are counted once)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
        pending.extend(int(child) for child in children)
    return total


def run_measured(script: str, data: Path, out: Path, *extra: str) -> tuple[float, float]:
    """(seconds, peak MB of the process tree) of one run."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", script, str(data), str(out), *extra], stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_memory_kb(process.pid))
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{script.splitlines()[1]} failed with exit code {process.returncode}")
    return seconds, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--workdir", default="/tmp/nova-prepare-benchmark")
    parser.add_argument("--skip-naive-at-large", action="store_true", help="skip pandas at the large size")
    parser.add_argument("--extra-rows", type=int, default=0, help="also run the engine alone at this size")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    cpus = len(os.sched_getaffinity(0))
    print(f"{cpus} CPUs; engine = its default worker processes, engine x1 = one process")
    contenders = [
        ("raw floor", RAW, ()),
        ("engine", ENGINE, ()),
        ("engine x1", ENGINE, ("1",)),
        ("naive pandas", NAIVE, ()),
    ]
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for rows in (args.small, args.rows, args.extra_rows):
        if not rows:
            continue
        data = work / f"text-to-sql-{rows}.csv"
        if not data.exists():
            subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / "datagen.py"), "text-to-sql", str(rows), str(data)],
                check=True,
            )
        results[rows] = {}
        for name, script, extra in contenders:
            if name == "naive pandas" and rows == args.rows and args.skip_naive_at_large:
                continue
            if rows == args.extra_rows and name != "engine":
                continue
            seconds, peak = run_measured(script, data, work / f"out-{name.replace(' ', '-')}-{rows}", *extra)
            results[rows][name] = (rows / seconds, peak)
            print(
                f"{rows:>9,} rows  {name:<13} {rows / seconds:>10,.0f} records/s  peak memory {peak:>7.1f} MB  "
                f"({seconds:.1f} s)",
                flush=True,
            )
    print()
    for rows, figures in results.items():
        if rows == args.extra_rows:
            continue
        for name in ("engine", "engine x1"):
            engine = figures[name][0]
            line = f"{rows:>9,} rows, {name:<9}: / raw floor = {engine / figures['raw floor'][0]:.2f} (goal >= 0.5)"
            if "naive pandas" in figures:
                line += f"; / naive = {engine / figures['naive pandas'][0]:.1f}x (goal >= 5x)"
            print(line)
    small, large = results[args.small], results[args.rows]
    for name in ("engine", "engine x1"):
        extra = (
            f", {results[args.extra_rows][name][1]:.0f} MB at {args.extra_rows:,}"
            if name == "engine" and (args.extra_rows)
            else ""
        )
        print(
            f"{name} peak memory: {small[name][1]:.0f} MB at {args.small:,} rows, {large[name][1]:.0f} MB at "
            f"{args.rows:,} rows{extra} (goal < 300 MB and flat)"
        )


if __name__ == "__main__":
    main()
