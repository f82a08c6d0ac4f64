"""Phase 2: duplicates, splits and caps decided on the index alone, then the outputs written from the spools.

1. The index rows of every part are spread over 64 partition files by the top bits of their split order (the
   digest permuted by a key derived from `split.seed`), so each partition holds a contiguous range of the split
   order and every copy of a duplicate lands in the same one.
2. Pass A, partition by partition: exact duplicates dropped (the first occurrence in input order is kept); examples
   counted per label; token histogram; the fixes of dropped duplicates.
3. Allocation: per label (classification) or for the whole set, the examples in split order are given to
   train / validation / test in proportion, at least one per split where there are enough; the training cap and the
   validation limit are shared out over the labels the same way and keep the first examples in that order.
4. Pass B, partitions in split order: each example's rank within its label gives its split code, stored in one
   byte per example.
5. One pass over the spools in input order writes each example in its split's format, hashing as it writes.

Memory: one byte per example, one partition of index rows (1/64 of 48 bytes per example) and the label and token
tables; never the records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, compress, islice
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from nova_pipeline.contract.catalog import MODELS, RFT_MIN_TRAIN_RECORDS, Method, TaskType
from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.prepare.normalize import FIX_KINDS, INDEX_ROW, ChunkResult, PartFiles

SPLITS = ("train", "validation", "test")
TRAIN, VALIDATION, TEST, CAPPED, DUPLICATE = range(5)
PARTITION_BITS = 6
PARTITIONS = 1 << PARTITION_BITS
ROWS_PER_BLOCK = 1 << 16
ROW = np.dtype(
    [
        ("hi", ">u8"),
        ("lo", ">u8"),
        ("pos", "<u8"),
        ("label", "<u4"),
        ("tokens", "<u4"),
        ("fixes", "<u4", (3,)),
        ("pad", "<u4"),
    ]
)
assert ROW.itemsize == INDEX_ROW.size


def split_order(hi: np.ndarray[Any, Any], seed: int) -> np.ndarray[Any, Any]:
    """The seed's permutation of the digests' first 8 bytes (SplitMix64's finalizer over the digest XOR a key from
    the seed): uniform, and a different seed draws an unrelated order."""
    key = np.uint64(int.from_bytes(hashlib.sha256(f"nova-split:{seed}".encode()).digest()[:8], "big"))
    z = hi.astype(np.uint64) ^ key
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class PartInput:
    """A part to finalize; `chunk_base` is added to its chunk numbers (the shards of a fanned-out run)."""

    files: PartFiles
    chunk_base: int = 0


@dataclass
class Limits:
    minimum: int
    max_train: int
    max_validation: int
    validation_allowed: bool

    @classmethod
    def of(cls, run: ExecutionInput) -> Limits:
        model = MODELS[run.base_model or ""]
        minimum = RFT_MIN_TRAIN_RECORDS if run.method is Method.RFT else model.min_train_records
        cap = min(run.split.max_train or model.max_train_records, model.max_train_records)
        allowed = model.validation_allowed and run.method is not Method.RFT
        return cls(minimum, cap, model.max_validation_records, allowed)


def allocate(count: int, ratios: tuple[float, ...]) -> list[int]:
    """Examples per split for one label: proportional, at least one per non-empty split where there are enough."""
    wanted = [i for i, ratio in enumerate(ratios) if ratio > 0]
    sizes = [0] * len(ratios)
    if count >= len(wanted):
        for i in wanted:
            sizes[i] = 1
    remaining = count - sum(sizes)
    shares = [ratios[i] * count - sizes[i] if i in wanted else 0 for i in range(len(ratios))]
    total_share = sum(max(share, 0) for share in shares) or 1
    return _largest_remainder(sizes, [max(share, 0) / total_share * remaining for share in shares], count)


def _largest_remainder(base: list[int], exact: list[float], total: int) -> list[int]:
    """`base` plus the whole parts of `exact`, then one more each to the largest fractions until `total`."""
    sizes = [start + int(value) for start, value in zip(base, exact, strict=True)]
    for i in sorted(range(len(sizes)), key=lambda j: (-(exact[j] - int(exact[j])), j))[: total - sum(sizes)]:
        sizes[i] += 1
    return sizes


def share(sizes: list[int], limit: int) -> list[int]:
    """A cap shared over labels in proportion to their sizes, at least one each where the cap allows."""
    total = sum(sizes)
    if total <= limit:
        return list(sizes)
    present = [i for i, size in enumerate(sizes) if size]
    kept = [1 if size and len(present) <= limit else 0 for size in sizes]
    remaining, spread = limit - sum(kept), total - sum(kept)
    return _largest_remainder(
        kept, [(size - base) * remaining / spread for size, base in zip(sizes, kept, strict=True)], limit
    )


@dataclass
class Index:
    """The partitioned index of every part, and what pass A found."""

    directory: Path
    groups: int
    classification: bool
    label_names: list[str]
    seed: int
    group_counts: np.ndarray[Any, Any] | None = None
    token_histogram: np.ndarray[Any, Any] | None = None
    duplicates: int = 0
    duplicate_fixes: np.ndarray[Any, Any] | None = None

    def _rows(self, name: str) -> np.ndarray[Any, Any]:
        path = self.directory / name
        return np.fromfile(path, dtype=ROW) if path.exists() else np.zeros(0, dtype=ROW)

    def partition(self, number: int) -> np.ndarray[Any, Any]:
        return self._rows(f"{number:02d}.bin")

    def kept(self, number: int) -> np.ndarray[Any, Any]:
        """The partition without duplicates, as pass A saved it."""
        return self._rows(f"{number:02d}.kept.bin")

    def deduplicated(self, number: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The partition's first occurrences and its later copies (same 16-byte digest, higher position)."""
        rows = self.partition(number)
        hi = rows["hi"].astype(np.uint64)
        order = np.argsort(hi)
        tied = np.zeros(len(rows), dtype=bool)
        tied[1:] = hi[order][1:] == hi[order][:-1]
        if not tied.any():
            return rows, rows[:0]
        tied[:-1] |= tied[1:]  # every row that shares its first 8 digest bytes with another
        candidates = order[tied]
        shared = rows[candidates]
        ranked = np.lexsort((shared["pos"], shared["lo"].astype(np.uint64), shared["hi"].astype(np.uint64)))
        ordered = shared[ranked]
        copy = np.zeros(len(ordered), dtype=bool)
        copy[1:] = (ordered["hi"][1:] == ordered["hi"][:-1]) & (ordered["lo"][1:] == ordered["lo"][:-1])
        dropped = candidates[ranked[copy]]
        keep = np.ones(len(rows), dtype=bool)
        keep[dropped] = False
        return rows[keep], rows[dropped]

    def group_of(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return rows["label"].astype(np.int64) if self.classification else np.zeros(len(rows), dtype=np.int64)


def build_index(parts: list[PartInput], directory: Path, run: ExecutionInput) -> Index:
    """Spread every part's index rows over the partition files, with global label ids (1 + sorted position)."""
    names = sorted({label for part in parts for label in part.files.labels})
    global_id = {name: number + 1 for number, name in enumerate(names)}
    directory.mkdir(parents=True, exist_ok=True)
    handles: dict[int, IO[bytes]] = {}
    try:
        for part in parts:
            remap = np.array([0, *(global_id[name] for name in part.files.labels)], dtype=np.uint32)
            with open(part.files.index, "rb") as source:
                while True:
                    rows = np.fromfile(source, dtype=ROW, count=ROWS_PER_BLOCK)
                    if not len(rows):
                        break
                    rows["label"] = remap[rows["label"]]
                    rows["pos"] += np.uint64(part.chunk_base) << np.uint64(32)
                    order_key = split_order(rows["hi"], run.split.seed)
                    target = (order_key >> np.uint64(64 - PARTITION_BITS)).astype(np.int64)
                    order = np.argsort(target, kind="stable")
                    bounds = np.searchsorted(target[order], np.arange(PARTITIONS + 1))
                    for number in range(PARTITIONS):
                        if bounds[number] < bounds[number + 1]:
                            if number not in handles:
                                handles[number] = open(directory / f"{number:02d}.bin", "wb")  # noqa: SIM115
                            handles[number].write(rows[order[bounds[number] : bounds[number + 1]]].tobytes())
    finally:
        for handle in handles.values():
            handle.close()
    classification = run.task is TaskType.CLASSIFICATION
    return Index(directory, len(names) + 1 if classification else 1, classification, names, run.split.seed)


def count(index: Index) -> None:
    """Pass A: examples per group after duplicates, token histogram, duplicates and their fixes."""
    counts = np.zeros(index.groups, dtype=np.int64)
    histogram = np.zeros(1, dtype=np.int64)
    fixes = np.zeros(3, dtype=np.int64)
    for number in range(PARTITIONS):
        kept, copies = index.deduplicated(number)
        partition, saved = index.directory / f"{number:02d}.bin", index.directory / f"{number:02d}.kept.bin"
        if len(copies):
            kept.tofile(saved)
            partition.unlink()
        elif len(kept):
            partition.replace(saved)
        counts += np.bincount(index.group_of(kept), minlength=index.groups)
        tokens = np.bincount(kept["tokens"].astype(np.int64))
        if len(tokens) > len(histogram):
            histogram = np.pad(histogram, (0, len(tokens) - len(histogram)))
        histogram[: len(tokens)] += tokens
        index.duplicates += len(copies)
        fixes += copies["fixes"].sum(axis=0, dtype=np.int64) if len(copies) else 0
    index.group_counts, index.token_histogram, index.duplicate_fixes = counts, histogram, fixes


def label_counts(index: Index) -> dict[str, int]:
    """Examples per class label after duplicates (classification; pass A has run)."""
    if not index.classification or index.group_counts is None:
        return {}
    return {name: int(index.group_counts[number + 1]) for number, name in enumerate(index.label_names)}


@dataclass
class Assignment:
    """The split code of every example (by dense position) and the totals the manifest reports."""

    codes: bytearray
    counts: dict[str, int]
    capped: int
    capped_validation: int
    labels: dict[str, dict[str, int]]


def assign(index: Index, run: ExecutionInput, limits: Limits, offsets: np.ndarray[Any, Any], total: int) -> Assignment:
    """Allocation and pass B: the split code of every example."""
    assert index.group_counts is not None
    split = run.split
    ratios = (split.train, split.validation if limits.validation_allowed else 0.0, split.test)
    sizes = np.array([allocate(int(n), ratios) for n in index.group_counts], dtype=np.int64).reshape(-1, 3)
    kept_train = np.array(share([int(n) for n in sizes[:, 0]], limits.max_train), dtype=np.int64)
    kept_validation = np.array(share([int(n) for n in sizes[:, 1]], limits.max_validation), dtype=np.int64)
    bounds = np.stack(
        [kept_train, sizes[:, 0], sizes[:, 0] + kept_validation, sizes[:, 0] + sizes[:, 1]], axis=1
    )  # rank < bound: train, capped, validation, capped; beyond: test
    codes = np.full(total, DUPLICATE, dtype=np.uint8)
    labels = np.zeros((3, len(index.label_names) + 1), dtype=np.int64)
    seen = np.zeros(index.groups, dtype=np.int64)
    for number in range(PARTITIONS):
        kept = index.kept(number)
        if not len(kept):
            continue
        group = index.group_of(kept)
        order = np.lexsort((kept["lo"].astype(np.uint64), split_order(kept["hi"], index.seed), group))
        kept, group = kept[order], group[order]
        first = np.searchsorted(group, group, side="left")
        rank = seen[group] + (np.arange(len(kept)) - first)
        seen += np.bincount(group, minlength=index.groups)
        limits_of = bounds[group]
        code = np.full(len(kept), TEST, dtype=np.uint8)
        code[rank < limits_of[:, 3]] = CAPPED
        code[rank < limits_of[:, 2]] = VALIDATION
        code[rank < limits_of[:, 1]] = CAPPED
        code[rank < limits_of[:, 0]] = TRAIN
        position = kept["pos"]
        dense = offsets[(position >> np.uint64(32)).astype(np.int64)] + (position & np.uint64(0xFFFFFFFF)).astype(
            np.int64
        )
        codes[dense] = code
        for split_code in (TRAIN, VALIDATION, TEST):
            labels[split_code] += np.bincount(kept["label"][code == split_code], minlength=labels.shape[1])
    distribution = {
        name: {
            label: int(labels[code][number + 1])
            for number, label in enumerate(index.label_names)
            if labels[code][number + 1]
        }
        for code, name in enumerate(SPLITS)
    }
    return Assignment(
        bytearray(codes.tobytes()),
        {name: int((kept_train, kept_validation, sizes[:, 2])[code].sum()) for code, name in enumerate(SPLITS)},
        int((sizes[:, 0] - kept_train).sum()),
        int((sizes[:, 1] - kept_validation).sum()),
        distribution,
    )


def token_stats(histogram: np.ndarray[Any, Any], estimator: str) -> dict[str, Any]:
    total_examples = int(histogram.sum())
    if not total_examples:
        return {"estimator": estimator}
    values = np.nonzero(histogram)[0]
    cumulative = np.cumsum(histogram)
    p95_rank = min(total_examples - 1, int(0.95 * total_examples))
    total_tokens = int((histogram * np.arange(len(histogram))).sum())
    return {
        "estimator": estimator,
        "min": int(values[0]),
        "max": int(values[-1]),
        "mean": round(total_tokens / total_examples, 1),
        "p95": int(np.searchsorted(cumulative, p95_rank + 1)),
        "total": total_tokens,
    }


# ------------------------------------------------------------------------------------------------ output formats
def _answer(turns: list[list[Any]]) -> str:
    return next((turn[1] for turn in reversed(turns) if turn[0] == "assistant"), "")


def _content(turn: list[Any]) -> list[dict[str, Any]]:
    media = turn[2] if len(turn) > 2 else []
    return [{"text": turn[1]}, *media] if turn[1] or not media else list(media)


def conversation(example: list[Any], prompt_only: bool) -> dict[str, Any]:
    system, turns = example[0], example[1]
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    if system:
        record["system"] = [{"text": system}]
    record["messages"] = [
        {"role": turn[0], "content": _content(turn)} for turn in (turns[:1] if prompt_only else turns)
    ]
    return record


def rft(example: list[Any], identifier: str, run: ExecutionInput, labels: list[str]) -> dict[str, Any]:
    system, turns, label, context = example
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": turns[0][1]})
    record: dict[str, Any] = {
        "id": identifier,
        "messages": messages,
        "reference_answer": _answer(turns),
        "task": run.task.value,
        "grader": run.rft.grader,
    }
    if run.rft.grader == "numeric":
        record["numeric_tolerance"] = run.rft.numeric_tolerance
    if context is not None:
        record["context"] = context
    if label is not None:
        record["label"] = label
        record["labels"] = labels
    return record


def evaluation(example: list[Any], identifier: str) -> dict[str, Any]:
    system, turns, label, context = example
    record: dict[str, Any] = {"id": identifier, "system": system, "prompt": turns[0][1], "reference": _answer(turns)}
    if label is not None:
        record["label"] = label
    if context is not None:
        record["context"] = context
    return record


class _Output:
    """One split file: buffered writes, hashed as written."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.sha256 = hashlib.sha256()
        self.buffer: list[bytes] = []
        self.size = 0
        self.records = 0

    def add(self, line: bytes) -> None:
        self.buffer.append(line)
        self.size += len(line)
        self.records += 1
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        data = b"".join(self.buffer)
        self.handle.write(data)
        self.sha256.update(data)
        self.buffer.clear()
        self.size = 0

    def close(self) -> str:
        self.flush()
        self.handle.close()
        return self.sha256.hexdigest()


def _spool_lines(chunks: list[ChunkResult], spools: dict[str, Path], handles: dict[str, IO[bytes]]) -> Iterator[bytes]:
    """Every spooled line in input order; lines are iterated in C (chain, islice), not in a Python loop."""

    def chunk_lines(chunk: ChunkResult) -> Iterator[bytes]:
        handle = handles.get(chunk.part)
        if handle is None:
            handle = handles[chunk.part] = open(spools[chunk.part], "rb")  # noqa: SIM115 - closed by the caller
        handle.seek(chunk.spool_start)
        return islice(handle, chunk.accepted)

    return chain.from_iterable(chunk_lines(chunk) for chunk in chunks if chunk.accepted)


def write_outputs(
    chunks: list[ChunkResult],
    parts: list[PartInput],
    codes: bytearray,
    run: ExecutionInput,
    *,
    label_names: list[str],
    stage: Callable[[str], Path],
    names: list[str],
) -> dict[str, str]:
    """Every example in input order into its split's file; the sha256 of each file."""
    outputs = {name: _Output(stage(f"{name}.jsonl")) for name in names}
    wanted = {SPLITS.index(name): outputs[name] for name in names}
    rft_labels = [name for name in label_names if name]
    spools = {part.files.name: part.files.spool for part in parts}
    selected = bytes(code in wanted for code in range(256))
    handles: dict[str, IO[bytes]] = {}
    try:
        # Lines of capped and duplicate examples are skipped in C: only the written ones reach Python.
        mask = codes.translate(selected)
        lines = compress(_spool_lines(chunks, spools, handles), mask)
        for line, code in zip(lines, compress(codes, mask), strict=True):
            output = wanted[code]
            canonical = line[:-1]
            example = orjson.loads(canonical)
            identifier = hashlib.sha256(canonical).hexdigest()[:16]
            if code == TEST:
                record = evaluation(example, identifier)
            elif run.method is Method.RFT:
                record = rft(example, identifier, run, rft_labels)
            else:
                record = conversation(example, prompt_only=run.method is Method.DISTILLATION)
            output.add(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    finally:
        for handle in handles.values():
            handle.close()
        hashes = {name: output.close() for name, output in outputs.items()}
    return hashes


def fixes_kept(chunks: list[ChunkResult], duplicate_fixes: np.ndarray[Any, Any]) -> dict[str, int]:
    totals = {kind: sum(chunk.fixes.get(kind, 0) for chunk in chunks) for kind in FIX_KINDS}
    kept = {kind: totals[kind] - int(duplicate_fixes[i]) for i, kind in enumerate(FIX_KINDS)}
    return {kind: value for kind, value in sorted(kept.items()) if value}
