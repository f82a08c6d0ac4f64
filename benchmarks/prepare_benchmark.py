"""Data preparation throughput and memory, against two baselines measured in the same run.

    .venv/bin/python benchmarks/prepare_benchmark.py [--rows 1000000] [--small 100000]

For each size it generates a text-to-SQL CSV (benchmarks/datagen.py) and runs, each in a fresh subprocess so that
peak RSS is its own:
- engine: `nova_pipeline.prepare` (CSV -> SFT JSONL with sanitizing, validation, dedupe, splits, manifest);
- naive: the notebook way, a pandas frame in memory and per-row Python (iterrows, format, json.dumps, random split);
- raw floor: read + parse (csv) + serialize (json) only, nothing else.
Figures are printed as records/s and peak RSS, with the ratios the goals are stated in (machines are noisy).
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
from nova_pipeline.execution_input import parse_execution_input
from nova_pipeline.prepare.engine import prepare
from nova_pipeline.prepare.sources import OutputLocation, list_sources
run = parse_execution_input({{"dataset": {{"uri": sys.argv[1], "format": "csv",
    "columns": {{"question": "question", "answer": "answer", "context": "context"}}}},
    "task": "text-to-sql", "prompt": {{"system": {SYSTEM!r}, "userTemplate": {USER!r}}}}})
result = prepare(list_sources(sys.argv[1]), run, OutputLocation(sys.argv[2]))
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


def peak_rss_mb(script: str, data: Path, out: Path) -> float:
    """Peak RSS of one run: wait4 reports the resource usage of that child alone."""
    out.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", script, str(data), str(out)], stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--workdir", default="/tmp/nova-prepare-benchmark")
    parser.add_argument("--skip-naive-at-large", action="store_true", help="skip pandas at the large size")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for rows in (args.small, args.rows):
        data = work / f"text-to-sql-{rows}.csv"
        if not data.exists():
            subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / "datagen.py"), "text-to-sql", str(rows), str(data)],
                check=True,
            )
        results[rows] = {}
        for name, script in (("raw floor", RAW), ("engine", ENGINE), ("naive pandas", NAIVE)):
            if name == "naive pandas" and rows == args.rows and args.skip_naive_at_large:
                continue
            started = time.perf_counter()
            rss = peak_rss_mb(script, data, work / f"out-{name.replace(' ', '-')}-{rows}")
            seconds = time.perf_counter() - started
            results[rows][name] = (rows / seconds, rss)
            print(
                f"{rows:>9,} rows  {name:<13} {rows / seconds:>10,.0f} records/s  peak RSS {rss:>7.1f} MB  "
                f"({seconds:.1f} s)",
                flush=True,
            )
    large, small = results[args.rows], results[args.small]
    print()
    for rows, figures in ((args.small, small), (args.rows, large)):
        engine = figures["engine"][0]
        line = f"{rows:,} rows: engine / raw floor = {engine / figures['raw floor'][0]:.2f} (goal >= 0.5)"
        if "naive pandas" in figures:
            line += f"; engine / naive = {engine / figures['naive pandas'][0]:.1f}x (goal >= 5x)"
        print(line)
    print(
        f"engine peak RSS: {small['engine'][1]:.0f} MB at {args.small:,} rows, {large['engine'][1]:.0f} MB at "
        f"{args.rows:,} rows (goal < 300 MB and flat)"
    )


if __name__ == "__main__":
    main()
