"""Hostile inputs against ordinary inputs of the same size: peak memory, time and temporary files, with ratios.

    .venv/bin/python benchmarks/hostile_input_benchmark.py [--line-mib 256] [--lines 2000000] [--code DIR]

Cases, each run as `prepare` (SFT of nova-micro, default worker processes) in a fresh subprocess:
- one huge line: a `.jsonl.gz` of a few bedrock-conversation records and one of `--line-mib` MiB (a 1 GiB line is
  1 MB compressed), against a `.jsonl.gz` of distinct records of the same compressed size; `validate` too;
- identical lines: a `.jsonl.gz` of 1,000 distinct records and then copies of one record, `--lines` in all, against
  `--lines` distinct records;
- identical lines past the bomb guard: `--bomb-lines` copies (more than 256 MiB decompressed, over 200x).
Peak memory is the largest sum of the proportional set sizes of the process and its workers, sampled every 10 ms
(as in prepare_benchmark.py); temporary files are the largest size of the run's TMPDIR, sampled likewise. A
refused input (exit 2) is expected for the huge line and past the guard; the first line of its message is shown.
`--code` runs another checkout's `lambdas/` (for example the main branch before a change) for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare_benchmark import _tree_memory_kb

ROOT = Path(__file__).resolve().parents[1]

PREPARE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from nova_pipeline.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _tree_bytes(folder: Path) -> int:
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # removed while sampling
                total += (Path(directory) / name).stat().st_size
    return total


def measured(code: Path, arguments: list[str], work: Path) -> dict[str, object]:
    """Seconds, peak MB of the process tree, peak MB of temporary files, exit code and first stderr line."""
    temporary = work / "tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", PREPARE, str(code), *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(temporary)},
        text=True,
    )
    peak, disk, samples = 0, 0, 0
    while process.poll() is None:
        peak = max(peak, _tree_memory_kb(process.pid))
        if samples % 10 == 0:
            disk = max(disk, _tree_bytes(temporary))
        samples += 1
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    errors = [line for line in (process.stderr.read() if process.stderr else "").splitlines() if "..." not in line]
    return {
        "seconds": seconds,
        "memory": peak / 1024,
        "temporary": disk / (1 << 20),
        "exit": process.returncode,
        "message": next((line.strip(" -") for line in errors if " line " in line), errors[-1] if errors else ""),
    }


DISTINCT_FIRST = 1_000  # the identical-lines files start with these, so that they prepare successfully


def record(i: int) -> bytes:
    """A raw row (what `prepare` maps)."""
    return json.dumps({"question": f"question number {i} about topic {i % 7}", "answer": f"answer {i}"}).encode()


def conversation(i: int, question: str = "") -> bytes:
    """A bedrock-conversation-2024 record (what both `prepare` and `validate` read)."""
    user = {"role": "user", "content": [{"text": question or f"question number {i} about topic {i % 7}"}]}
    answer = {"role": "assistant", "content": [{"text": f"answer {i}"}]}
    return json.dumps({"schemaVersion": "bedrock-conversation-2024", "messages": [user, answer]}).encode()


def write_long_line(path: Path, mib: int) -> None:
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b"".join(conversation(i) + b"\n" for i in range(20)))
        head, tail = conversation(20, "@").split(b"@")
        out.write(head)
        block = b"x" * (1 << 20)
        for _ in range(mib):
            out.write(block)
        out.write(tail + b"\n")


def write_distinct_of_size(path: Path, compressed_bytes: int) -> None:
    """Distinct conversation records until the gzip file reaches `compressed_bytes`."""
    with gzip.open(path, "wb") as out:
        i = 0
        while True:
            out.write(b"".join(conversation(n) + b"\n" for n in range(i, i + 10_000)))
            i += 10_000
            out.flush()
            if path.stat().st_size >= compressed_bytes:
                return


def write_lines(path: Path, count: int, *, identical: bool) -> None:
    with gzip.open(path, "wb", compresslevel=6) as out:  # gzip's own default, as a user's file would be
        same = record(-1) + b"\n"
        for start in range(0, count, 100_000):
            stop = min(count, start + 100_000)
            if identical:
                distinct = max(0, min(stop, DISTINCT_FIRST) - start)
                out.write(b"".join(record(i) + b"\n" for i in range(start, start + distinct)))
                out.write(same * (stop - start - distinct))
            else:
                out.write(b"".join(record(i) + b"\n" for i in range(start, stop)))


def show(name: str, result: dict[str, object]) -> None:
    outcome = "ok" if result["exit"] == 0 else f"exit {result['exit']}: {str(result['message'])[:110]}"
    print(
        f"  {name:<42} {result['memory']:>8.0f} MB  {result['seconds']:>7.1f} s  tmp {result['temporary']:>7.0f} MB"
        f"  {outcome}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--line-mib", type=int, default=256, help="length of the huge line in MiB")
    parser.add_argument("--lines", type=int, default=2_000_000, help="records of the identical / distinct runs")
    parser.add_argument(
        "--bomb-lines", type=int, default=8_000_000, help="identical lines past the bomb guard (0: skip the case)"
    )
    parser.add_argument("--code", default=str(ROOT / "lambdas"), help="the lambdas/ folder to run")
    parser.add_argument("--workdir", default="/tmp/nova-hostile-benchmark")
    args = parser.parse_args()
    work, code = Path(args.workdir), Path(args.code)
    work.mkdir(parents=True, exist_ok=True)
    model = ["--model", "nova-micro", "--method", "sft"]

    def prepare(data: Path) -> dict[str, object]:
        return measured(code, ["prepare", "--input", str(data), "--output-dir", str(work / "out"), *model], work)

    def validate(data: Path) -> dict[str, object]:
        return measured(code, ["validate", str(data), *model], work)

    print(f"code: {code}")
    long_line, same_size = work / f"long-line-{args.line_mib}.jsonl.gz", work / f"same-size-{args.line_mib}.jsonl.gz"
    if not long_line.exists():
        write_long_line(long_line, args.line_mib)
    if not same_size.exists():
        write_distinct_of_size(same_size, long_line.stat().st_size)
    print(f"one {args.line_mib} MiB line in {long_line.stat().st_size / 1e6:.1f} MB of gzip, against distinct records:")
    line_prepare, base_prepare = prepare(long_line), prepare(same_size)
    show("prepare, huge line", line_prepare)
    show("prepare, distinct records, same gzip size", base_prepare)
    line_validate, base_validate = validate(long_line), validate(same_size)
    show("validate, huge line", line_validate)
    show("validate, distinct records, same gzip size", base_validate)

    identical, distinct = work / f"identical-{args.lines}.jsonl.gz", work / f"distinct-{args.lines}.jsonl.gz"
    if not identical.exists():
        write_lines(identical, args.lines, identical=True)
    if not distinct.exists():
        write_lines(distinct, args.lines, identical=False)
    print(f"{args.lines:,} identical lines ({identical.stat().st_size / 1e6:.1f} MB of gzip) against as many distinct:")
    same_prepare, distinct_prepare = prepare(identical), prepare(distinct)
    show("prepare, identical lines", same_prepare)
    show("prepare, distinct lines", distinct_prepare)

    bomb_prepare = None
    if args.bomb_lines:
        bomb = work / f"identical-{args.bomb_lines}.jsonl.gz"
        if not bomb.exists():
            write_lines(bomb, args.bomb_lines, identical=True)
        print(f"{args.bomb_lines:,} identical lines ({bomb.stat().st_size / 1e6:.1f} MB of gzip), past the guard:")
        bomb_prepare = prepare(bomb)
        show("prepare, identical lines past the guard", bomb_prepare)

    def ratio(a: dict[str, object], b: dict[str, object], key: str) -> str:
        return f"{float(a[key]) / max(float(b[key]), 1e-9):.2f}x"  # type: ignore[arg-type]

    print()
    print(
        f"huge line / same-size distinct: prepare memory {ratio(line_prepare, base_prepare, 'memory')}, time "
        f"{ratio(line_prepare, base_prepare, 'seconds')}; validate memory "
        f"{ratio(line_validate, base_validate, 'memory')}, time {ratio(line_validate, base_validate, 'seconds')}"
    )
    print(
        f"identical / distinct lines: memory {ratio(same_prepare, distinct_prepare, 'memory')}, time "
        f"{ratio(same_prepare, distinct_prepare, 'seconds')}, temporary files "
        f"{ratio(same_prepare, distinct_prepare, 'temporary')}"
    )
    if bomb_prepare:
        print(
            f"past the guard / distinct lines: memory {ratio(bomb_prepare, distinct_prepare, 'memory')}, time "
            f"{ratio(bomb_prepare, distinct_prepare, 'seconds')}"
        )


if __name__ == "__main__":
    main()
