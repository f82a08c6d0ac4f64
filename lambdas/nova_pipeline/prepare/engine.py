"""The preparation engine: raw data in, validated Nova training sets out, in two phases.

1. `normalize(sources)` reads every record once (`normalize.py`): mapping and templates, sanitizing and the
   per-record rules; each accepted example is spooled in canonical form with a 48-byte index row. Large inputs are
   cut into chunks that one worker process per CPU normalizes (`parallel.py`); the Distributed Map runs this phase
   per object (PrepareShard).
2. `finalize(normalized)` (`finalize.py`) drops exact duplicates, assigns splits by keyed hash (stratified by label
   for classification), applies the training cap and the validation limit, checks the count rules, writes each
   split in its method's format and publishes the files with `manifest.json` last.

`prepare()` runs both (the PrepareData Lambda and `nova-pipeline prepare`); MergeShards runs phase 2 over the shards.
The outputs depend only on the input and the configuration: not on chunking, workers or fan-out (tested).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.prepare import finalize as phase2
from nova_pipeline.prepare.labels import label_variants
from nova_pipeline.prepare.normalize import MAX_REPORTED_PROBLEMS, ChunkResult, Normalizer, Part
from nova_pipeline.prepare.parallel import normalize_chunks, usable_cpus
from nova_pipeline.prepare.reading import CHUNK_BYTES, ChunkBoundaryError, open_records, split_chunks
from nova_pipeline.prepare.records import CHARS_PER_TOKEN_ESTIMATE, ConfigurationProblem, record_limit
from nova_pipeline.prepare.sources import (
    MAX_SKIPPED_LISTED,
    OutputLocation,
    Skipped,
    Source,
    SourceError,
    SourceList,
    detect_format,
    sha256_of,
)

ENGINE_VERSION = "2"
PARALLEL_FROM_BYTES = 16 << 20  # below this, starting worker processes costs more than it saves
MIN_CHUNK_BYTES = 256 << 10
MAX_WORKERS = 8
PROGRESS_SECONDS = 5.0
SPLITS = phase2.SPLITS
TOKEN_ESTIMATOR = f"characters / {CHARS_PER_TOKEN_ESTIMATE}, rounded up (conservative)"
Progress = Callable[[str], None]


class InvalidDataset(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """The data breaks the rules of the target model and method; nothing was published."""

    def __init__(self, problems: list[str], total: int) -> None:
        self.problems, self.total = problems, total
        shown = "\n".join(f"  - {problem}" for problem in problems)
        more = f"\n  ... and {total - len(problems)} more" if total > len(problems) else ""
        super().__init__(f"{total} problem(s) in the dataset:\n{shown}{more}")


@dataclass
class DatasetStats:
    """What reading the dataset found (duplicates are known once finalized)."""

    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    fixes: dict[str, int] = field(default_factory=dict)
    media: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, chunks: list[ChunkResult]) -> DatasetStats:
        stats = cls()
        for chunk in chunks:
            stats.records += chunk.records
            stats.accepted += chunk.accepted
            stats.duplicates += chunk.duplicates
            stats.rejected += chunk.rejected
            stats.problems.extend(chunk.problems[: MAX_REPORTED_PROBLEMS - len(stats.problems)])
            stats.media |= chunk.media
        return stats


@dataclass
class Normalized:
    """Phase 1's output: the parts written and the chunk results in input order."""

    parts: list[phase2.PartInput]
    chunks: list[ChunkResult]
    inputs: list[Source]
    skipped: list[Skipped] = field(default_factory=list)  # entries of a local input folder left out

    @property
    def stats(self) -> DatasetStats:
        return DatasetStats.of(self.chunks)


def default_workers() -> int:
    return min(usable_cpus(), MAX_WORKERS)


def _in_process(
    sources: list[Source],
    run: ExecutionInput,
    directory: Path,
    *,
    s3: Any,
    data_bucket: str | None,
    progress: Progress | None,
) -> Normalized:
    part = Part(directory, "p0")
    normalizer = Normalizer(run, part, data_bucket=data_bucket)
    chunks = []
    last_report, done = time.monotonic(), 0

    def report(records: int) -> None:
        nonlocal last_report
        if progress and time.monotonic() - last_report > PROGRESS_SECONDS:
            progress(f"{done + records:,} records read")
            last_report = time.monotonic()

    try:
        for ordinal, source in enumerate(sources):
            fmt = detect_format(source, run.dataset.format)
            with open_records(source, fmt, delimiter=run.dataset.delimiter, s3=s3, limit=record_limit(run)) as stream:
                result = normalizer.normalize(
                    ordinal, source.name, stream.numbering, stream.batches, stream.header, on_batch=report
                )
            chunks.append(result)
            done += result.records
    except BaseException:
        part.abort()
        raise
    return Normalized([phase2.PartInput(part.close())], chunks, sources)


def normalize(
    sources: list[Source],
    run: ExecutionInput,
    directory: Path,
    *,
    s3: Any = None,
    data_bucket: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Normalized:
    """Phase 1 over every source: in worker processes when there are several CPUs and enough data (or `workers`
    asks for them), in this process otherwise. Raises SourceError / ConfigurationProblem for unreadable data."""
    normalized = _normalize(
        sources,
        run,
        directory,
        s3=s3,
        data_bucket=data_bucket,
        progress=progress,
        workers=workers,
        chunk_bytes=chunk_bytes,
    )
    if isinstance(sources, SourceList):
        normalized.skipped = sources.skipped
    return normalized


def _normalize(
    sources: list[Source],
    run: ExecutionInput,
    directory: Path,
    *,
    s3: Any,
    data_bucket: str | None,
    progress: Progress | None,
    workers: int | None,
    chunk_bytes: int,
) -> Normalized:
    size = sum(source.size for source in sources)
    count = workers if workers is not None else (default_workers() if size >= PARALLEL_FROM_BYTES else 1)
    if count > 1:
        # At least four chunks per worker (of 256 KiB or more), so that a small input keeps every worker busy.
        chunk_bytes = min(chunk_bytes, max(MIN_CHUNK_BYTES, size // (count * 4)))

        def chunks() -> Any:
            index = 0
            for source in sources:
                fmt = detect_format(source, run.dataset.format)
                for chunk in split_chunks(
                    source,
                    fmt,
                    first_index=index,
                    delimiter=run.dataset.delimiter,
                    s3=s3,
                    size=chunk_bytes,
                    limit=record_limit(run),
                ):
                    index = chunk.index + 1
                    yield chunk

        (directory / "workers").mkdir(parents=True, exist_ok=True)
        try:
            parts, results = normalize_chunks(
                chunks(), run, directory / "workers", workers=count, data_bucket=data_bucket, progress=progress
            )
            return Normalized([phase2.PartInput(part) for part in parts], results, sources)
        except ChunkBoundaryError as error:
            if progress:
                progress(f"{error}; reading the input in one stream instead")
    (directory / "stream").mkdir(parents=True, exist_ok=True)
    return _in_process(sources, run, directory / "stream", s3=s3, data_bucket=data_bucket, progress=progress)


@dataclass
class PreparedSplit:
    name: str
    uri: str
    records: int


@dataclass
class PrepareResult:
    manifest: dict[str, Any]
    manifest_uri: str
    prefix: str
    splits: dict[str, PreparedSplit]
    stats: DatasetStats

    def state(self) -> dict[str, Any]:
        """The PrepareData / MergeShards output the state machine keeps at `$.data`."""

        def part(name: str) -> dict[str, Any] | None:
            split = self.splits.get(name)
            return {"uri": split.uri, "records": split.records} if split else None

        return {
            "manifestUri": self.manifest_uri,
            "prefix": self.prefix,
            "train": part("train"),
            "validation": part("validation"),
            "test": part("test"),
            "problems": {"count": self.stats.rejected, "first": self.stats.problems},
            "fixes": self.stats.fixes,
            "duplicates": self.stats.duplicates,
        }


def _check_counts(counts: dict[str, int], run: ExecutionInput, minimum: int) -> list[str]:
    problems = []
    if counts["train"] < minimum:
        problems.append(
            f"train split: {counts['train']} records; {run.base_model} {run.method.value} needs at least {minimum}"
        )
    if run.task is not TaskType.GENERATION and counts["test"] == 0 and run.split.test > 0:
        problems.append("test split: no records; evaluation needs a test split (add data or raise split.test)")
    return problems


def _offsets(chunks: list[ChunkResult]) -> tuple[np.ndarray[Any, Any], int]:
    """The dense position of each chunk's first example (examples numbered in input order)."""
    offsets = np.zeros(max((chunk.index for chunk in chunks), default=0) + 1, dtype=np.int64)
    total = 0
    for chunk in chunks:
        offsets[chunk.index] = total
        total += chunk.accepted
    return offsets, total


def check_duplicates(normalized: Normalized, run: ExecutionInput, directory: Path) -> int:
    """Exact duplicates among the valid records (what `nova-pipeline validate` reports): those dropped while reading
    and those the index finds."""
    return check_dataset(normalized, run, directory)[0]


def check_dataset(normalized: Normalized, run: ExecutionInput, directory: Path) -> tuple[int, list[dict[str, Any]]]:
    """Exact duplicates (those dropped while reading and those the index finds) and class-label variants among the
    accepted examples (what `validate` reports)."""
    index = phase2.build_index(normalized.parts, directory / "partitions", run)
    phase2.count(index)
    return normalized.stats.duplicates + index.duplicates, label_variants(phase2.label_counts(index), run.prompt.system)


def finalize(
    normalized: Normalized,
    run: ExecutionInput,
    output: OutputLocation,
    *,
    progress: Progress | None = None,
) -> PrepareResult:
    """Phase 2: duplicates, splits, caps, count rules, outputs; published with the manifest last."""
    stats = normalized.stats
    if stats.rejected and run.dataset.on_invalid == "fail":
        raise InvalidDataset(stats.problems, stats.rejected)
    if len(stats.media) > 1:
        raise InvalidDataset(["dataset: images and videos cannot be mixed in one dataset"], 1)
    limits = phase2.Limits.of(run)
    index = phase2.build_index(normalized.parts, output.stage("partitions"), run)
    phase2.count(index)
    assert index.duplicate_fixes is not None and index.token_histogram is not None
    stats.duplicates += index.duplicates  # to those dropped while reading
    stats.accepted -= index.duplicates
    stats.fixes = phase2.fixes_kept(normalized.chunks, index.duplicate_fixes)
    variants = label_variants(phase2.label_counts(index), run.prompt.system)
    if variants and run.dataset.label_variants == "fail":
        raise InvalidDataset([item["warning"] for item in variants], len(variants))
    offsets, total = _offsets(normalized.chunks)
    assignment = phase2.assign(index, run, limits, offsets, total)
    count_problems = _check_counts(assignment.counts, run, limits.minimum)
    if count_problems:
        raise InvalidDataset(count_problems, len(count_problems))
    names = [
        name
        for name in SPLITS
        if (assignment.counts[name] or name == "train" or (name == "test" and run.split.test > 0))
        and not (name == "validation" and not limits.validation_allowed)
    ]
    if progress:
        progress(f"writing {', '.join(f'{assignment.counts[n]:,} {n}' for n in names)} records")
    hashes = phase2.write_outputs(
        normalized.chunks,
        normalized.parts,
        assignment.codes,
        run,
        label_names=index.label_names,
        stage=output.stage,
        names=names,
    )
    manifest = {
        "engineVersion": ENGINE_VERSION,
        "inputs": [{"uri": source.uri, "bytes": source.size} for source in normalized.inputs],
        "outputs": {
            name: {"file": f"{name}.jsonl", "records": assignment.counts[name], "sha256": hashes[name]}
            for name in names
        },
        "records": {
            "read": stats.records,
            "accepted": stats.accepted,
            "duplicatesDropped": stats.duplicates,
            "rejected": stats.rejected,
            "cappedFromTrain": assignment.capped,
            "cappedFromValidation": assignment.capped_validation,
        },
        "labels": {name: assignment.labels[name] for name in names if assignment.labels[name]},
        "labelVariants": variants,
        "tokens": phase2.token_stats(index.token_histogram, TOKEN_ESTIMATOR),
        "fixes": stats.fixes,
        "problems": {"count": stats.rejected, "first": stats.problems},
        "skipped": {
            "count": len(normalized.skipped),
            "first": [entry.dump() for entry in normalized.skipped[:MAX_SKIPPED_LISTED]],
        },
        "configuration": run.model_dump(mode="json", by_alias=True),
    }
    with open(output.stage("manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False, sort_keys=True)
        handle.write("\n")
    files = [f"{name}.jsonl" for name in names]
    output.publish(
        [*files, "manifest.json"], on_progress=(lambda name: progress(f"wrote {name}")) if progress else None
    )
    splits = {name: PreparedSplit(name, output.uri_of(f"{name}.jsonl"), assignment.counts[name]) for name in names}
    return PrepareResult(manifest, output.uri_of("manifest.json"), output.uri, splits, stats)


def prepare(
    sources: list[Source],
    run: ExecutionInput,
    output: OutputLocation,
    *,
    s3: Any = None,
    data_bucket: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> PrepareResult:
    """Both phases (what PrepareData and `nova-pipeline prepare` run); nothing is published unless all succeeds."""
    try:
        normalized = normalize(
            sources,
            run,
            output.stage("normalized"),
            s3=s3,
            data_bucket=data_bucket,
            progress=progress,
            workers=workers,
            chunk_bytes=chunk_bytes,
        )
        return finalize(normalized, run, output, progress=progress)
    except (SourceError, ConfigurationProblem) as error:
        raise InvalidDataset([str(error)], 1) from None
    finally:
        output.close()


__all__ = [
    "ENGINE_VERSION",
    "DatasetStats",
    "InvalidDataset",
    "Normalized",
    "PrepareResult",
    "check_duplicates",
    "finalize",
    "normalize",
    "prepare",
    "sha256_of",
]
