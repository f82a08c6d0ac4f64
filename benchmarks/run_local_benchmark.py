"""A warm `nova-pipeline run-local` of the demo: wall time, CPU time and the execution's own time, for this checkout
and optionally a baseline checkout measured in the same run (alternating, so both see the same machine load).

    .venv/bin/python benchmarks/run_local_benchmark.py --runs 3 [--baseline /path/to/other/checkout]

"Warm" means the app is already synthesized (`.build/twin-assembly/`): one unmeasured run per checkout comes first.
The load average is printed with the figures: on a shared machine it explains most of the spread.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEMO = "examples/sft-text-to-sql-nova-micro.json"
PROGRAM = "import sys; from nova_pipeline.cli import main; sys.exit(main())"


def one_run(tree: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, the process and its children) and the execution's seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, "run-local", "--input", DEMO],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree / "lambdas")},
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    match = re.search(r"SUCCEEDED in ([0-9.]+) s", done.stdout)
    return wall, cpu, float(match.group(1)) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. a worktree of main) to compare with")
    args = parser.parse_args()
    trees = {"this": HERE, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    for tree in trees.values():
        one_run(tree)  # warm-up: synthesizes the app once if its sources changed
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):
        for name, tree in trees.items():
            figures[name].append(one_run(tree))
            loads.append(os.getloadavg()[0])
    print(f"warm run-local of {DEMO}, {args.runs} runs each, 1-minute load average {min(loads):.1f}-{max(loads):.1f}")
    print(f"  {'checkout':<9} {'wall s (each)':<22} {'median':>7} {'CPU s':>7} {'execution s':>12}")
    for name, runs in figures.items():
        walls = ", ".join(f"{wall:.1f}" for wall, _, _ in runs)
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        execution = statistics.median(e for _, _, e in runs)
        print(f"  {name:<9} {walls:<22} {wall:>7.1f} {cpu:>7.1f} {execution:>12.1f}")
    if "baseline" in figures:
        ratio = statistics.median(w for w, _, _ in figures["this"]) / statistics.median(
            w for w, _, _ in figures["baseline"]
        )
        print(f"  this / baseline (median wall): {ratio:.2f}")


if __name__ == "__main__":
    main()
