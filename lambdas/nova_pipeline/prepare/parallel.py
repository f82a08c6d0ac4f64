"""Phase 1 in worker processes: chunks of the input are normalized by one process per usable CPU.

Built on `multiprocessing.Process` and `Pipe`, which work in AWS Lambda (where `Pool` and `Queue` do not: there is
no /dev/shm for their semaphores). The parent reads and cuts the input and hands each worker at most two chunks at
a time; every worker writes its own part (spool + index). Results come back per chunk and are ordered by chunk, so
the outcome does not depend on which worker took which chunk. The first error in input order is the one raised, as
reading the input in one stream would.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.prepare.normalize import ChunkResult, Normalizer, Part, PartFiles
from nova_pipeline.prepare.reading import Chunk, ChunkBoundaryError, chunk_batches
from nova_pipeline.prepare.records import ConfigurationProblem, record_limit
from nova_pipeline.prepare.sources import SourceError

IN_FLIGHT = 2
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2 CPU quota: "max 100000" or "<quota> <period>"
PROGRESS_SECONDS = 5.0
ERRORS: dict[str, type[Exception]] = {
    "SourceError": SourceError,
    "ConfigurationProblem": ConfigurationProblem,
    "ChunkBoundaryError": ChunkBoundaryError,
}


class WorkerError(Exception):
    """A worker process failed for a reason that is not the data's (killed, out of memory, a bug)."""


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, bounded by a cgroup CPU quota (containers, AWS Lambda)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CPU_MAX.read_text().split()
        if quota != "max":
            count = min(count, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return count


def _work(connection: Connection, run: ExecutionInput, directory: str, name: str, data_bucket: str | None) -> None:
    part = Part(Path(directory), name)
    normalizer = Normalizer(run, part, data_bucket=data_bucket)
    limit = record_limit(run)
    try:
        while (chunk := connection.recv()) is not None:
            try:
                batches = chunk_batches(chunk, run.dataset.delimiter, limit)
                result = normalizer.normalize(chunk.index, chunk.source, chunk.numbering, batches, chunk.header)
            except (SourceError, ConfigurationProblem, ChunkBoundaryError) as error:
                connection.send(("error", chunk.index, type(error).__name__, str(error)))
            else:
                connection.send(("chunk", result))
        connection.send(("done", part.close()))
    except BaseException:
        part.abort()
        connection.send(("crash", traceback.format_exc()))
        raise


@dataclass
class _Worker:
    process: Any
    connection: Connection
    in_flight: int = 0


class _Pool:
    def __init__(self, workers: int, run: ExecutionInput, directory: Path, data_bucket: str | None) -> None:
        methods = multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.workers: list[_Worker] = []
        for number in range(workers):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_work, args=(child_end, run, str(directory), f"w{number}", data_bucket), daemon=True
            )
            process.start()
            child_end.close()
            self.workers.append(_Worker(process, parent_end))
        self.results: dict[int, ChunkResult] = {}
        self.errors: dict[int, Exception] = {}

    @staticmethod
    def _stopped(worker: _Worker) -> WorkerError:
        """The error for a worker whose end of the pipe closed: the process is gone."""
        worker.process.join(5)
        return WorkerError(
            f"a data preparation worker stopped (exit code {worker.process.exitcode}); if it ran out of memory, "
            "give the function more memory or fan out over smaller objects"
        )

    def _send(self, worker: _Worker, message: object) -> None:
        try:
            worker.connection.send(message)
        except OSError:  # broken pipe
            raise self._stopped(worker) from None

    def _receive(self, worker: _Worker) -> tuple[Any, ...]:
        try:
            message: tuple[Any, ...] = worker.connection.recv()
        except (EOFError, OSError):
            raise self._stopped(worker) from None
        if message[0] == "crash":
            raise WorkerError(f"a data preparation worker failed:\n{message[1]}")
        return message

    def collect(self) -> None:
        """Wait for at least one result."""
        busy = {worker.connection: worker for worker in self.workers if worker.in_flight}
        for connection in wait(list(busy)):
            worker = busy[connection]  # type: ignore[index]
            message = self._receive(worker)
            worker.in_flight -= 1
            if message[0] == "chunk":
                self.results[message[1].index] = message[1]
            else:
                _, index, kind, text = message
                self.errors[index] = ERRORS[kind](text)

    def submit(self, chunk: Chunk) -> None:
        worker = min(self.workers, key=lambda candidate: candidate.in_flight)
        while worker.in_flight >= IN_FLIGHT:
            self.collect()
            worker = min(self.workers, key=lambda candidate: candidate.in_flight)
        self._send(worker, chunk)
        worker.in_flight += 1

    def drain(self) -> None:
        while any(worker.in_flight for worker in self.workers):
            self.collect()

    def close(self) -> list[PartFiles]:
        parts = []
        for worker in self.workers:
            self._send(worker, None)
        for worker in self.workers:
            message = self._receive(worker)
            parts.append(message[1])
        return parts

    def stop(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
            worker.process.join(5)
            worker.connection.close()


def normalize_chunks(
    chunks: Iterator[Chunk],
    run: ExecutionInput,
    directory: Path,
    *,
    workers: int,
    data_bucket: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[PartFiles], list[ChunkResult]]:
    """Every chunk normalized by `workers` processes; the parts they wrote and the results in chunk order."""
    pool = _Pool(workers, run, directory, data_bucket)
    last_report, submitted = time.monotonic(), 0
    try:
        try:
            for chunk in chunks:
                if pool.errors:
                    break
                pool.submit(chunk)
                submitted = chunk.index + 1
                if progress and time.monotonic() - last_report > PROGRESS_SECONDS:
                    records = sum(result.records for result in pool.results.values())
                    progress(f"{records:,} records read, {workers} worker processes")
                    last_report = time.monotonic()
        except (SourceError, ChunkBoundaryError) as error:  # reading or cutting the input, after every chunk sent
            pool.errors[submitted] = error
        pool.drain()
        if pool.errors:
            raise pool.errors[min(pool.errors)]
        parts = pool.close()
    finally:
        pool.stop()
    return parts, [pool.results[index] for index in sorted(pool.results)]
