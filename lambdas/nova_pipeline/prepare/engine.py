"""The preparation engine: raw data in, validated Nova training sets out, in two phases.

1. `normalize(sources)` streams every record once: mapping and templates, sanitizing, per-record rules, exact
   duplicate removal. Accepted examples are spooled as JSON lines (one shard per source when fanned out).
2. `finalize(shards)` assigns every example to train / validation / test with a keyed hash (stratified by label
   for classification), caps the training set by deterministic sampling, checks the count rules, writes the
   method's output format and the evaluation split, and publishes them with `manifest.json` last.

`prepare()` runs both in one process (the PrepareData Lambda and the CLI); the Distributed Map runs `normalize`
per object (PrepareShard) and `finalize` once (MergeShards). Memory is flat in the record count apart from 8 bytes
of hash per example (and a 16-byte digest per example for duplicate detection).
"""

from __future__ import annotations

import hashlib
import json
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from nova_pipeline.catalog import MODELS, RFT_MIN_TRAIN_RECORDS, Method, TaskType
from nova_pipeline.execution_input import ExecutionInput
from nova_pipeline.prepare.records import (
    CHARS_PER_TOKEN_ESTIMATE,
    ConfigurationProblem,
    Example,
    Fixes,
    RecordProblem,
    check,
    from_chat,
    from_raw,
    media_kinds,
    record_format,
    sanitize,
)
from nova_pipeline.prepare.sources import (
    OutputLocation,
    Source,
    SourceError,
    detect_format,
    read_records,
    sha256_of,
)

ENGINE_VERSION = "1"
MAX_REPORTED_PROBLEMS = 20
SPLITS = ("train", "validation", "test")
Progress = Callable[[str], None]


class InvalidDataset(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """The data breaks the rules of the target model and method; nothing was published."""

    def __init__(self, problems: list[str], total: int) -> None:
        self.problems, self.total = problems, total
        shown = "\n".join(f"  - {problem}" for problem in problems)
        more = f"\n  ... and {total - len(problems)} more" if total > len(problems) else ""
        super().__init__(f"{total} problem(s) in the dataset:\n{shown}{more}")


@dataclass
class ShardStats:
    """What normalizing one or more sources found."""

    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    fixes: Counter[str] = field(default_factory=Counter)
    media: set[str] = field(default_factory=set)

    def merge(self, other: ShardStats) -> None:
        self.records += other.records
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.problems.extend(other.problems[: MAX_REPORTED_PROBLEMS - len(self.problems)])
        self.fixes.update(other.fixes)
        self.media |= other.media

    def dump(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "problems": self.problems,
            "fixes": dict(sorted(self.fixes.items())),
            "media": sorted(self.media),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> ShardStats:
        return cls(
            data["records"],
            data["accepted"],
            data["duplicates"],
            data["rejected"],
            list(data["problems"]),
            Counter(data["fixes"]),
            set(data["media"]),
        )


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).digest()


def _keyed(seed: int, purpose: str, key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8, key=f"{seed}:{purpose}".encode()).digest(), "big")


def _example(record: dict[str, Any], run: ExecutionInput, fixes: Fixes) -> tuple[Example, bool]:
    fmt = record_format(record, run.dataset.record_format)
    bedrock = fmt == "bedrock-conversation"
    example = from_raw(record, run) if fmt == "raw" else from_chat(record, run, bedrock)
    policy = run.dataset.sanitize
    if example.system is not None:
        example.system = sanitize(example.system, "system[0].text" if bedrock else "system", policy, fixes) or None
    example.turns = [
        (
            role,
            sanitize(
                text,
                f"messages[{i}].content[0].text" if bedrock or fmt == "raw" else f"messages[{i}].content",
                policy,
                fixes,
            ),
        )
        for i, (role, text) in enumerate(example.turns)
    ]
    assistant = [text for role, text in example.turns if role == "assistant"]
    example.answer = assistant[-1] if assistant else example.answer
    if example.label is not None:
        example.label = example.label.strip()
    return example, bedrock or fmt == "raw"


def normalize(
    sources: Iterable[Source],
    run: ExecutionInput,
    spool: IO[str],
    *,
    s3: Any = None,
    data_bucket: str | None = None,
    progress: Progress | None = None,
    seen: set[bytes] | None = None,
) -> ShardStats:
    """Phase 1: every record of `sources` checked and spooled (one JSON line per accepted example)."""
    stats = ShardStats()
    seen = set() if seen is None else seen
    last_report = time.monotonic()
    for source in sources:
        fmt = detect_format(source, run.dataset.format)
        for line, record in read_records(source, fmt, delimiter=run.dataset.delimiter, s3=s3):
            stats.records += 1
            fixes = Fixes()
            where = f"{source.name} {'record' if fmt == 'json' else 'line'} {line}"
            try:
                example, bedrock_paths = _example(record, run, fixes)
                check(example, run, bedrock_paths=bedrock_paths, data_bucket=data_bucket)
            except RecordProblem as problem:
                stats.rejected += 1
                if len(stats.problems) < MAX_REPORTED_PROBLEMS:
                    stats.problems.append(f"{where}: {problem}")
                continue
            except ConfigurationProblem as problem:
                raise ConfigurationProblem(f"{where}: {problem}") from None
            key = _digest(example.system, example.turns, example.label, example.context)
            if key in seen:
                stats.duplicates += 1
                continue
            seen.add(key)
            stats.fixes.update(fixes.counts)
            stats.media |= media_kinds(example)
            stats.accepted += 1
            spool.write(
                _dumps(
                    {
                        "key": key.hex(),
                        "source": where,
                        "system": example.system,
                        "turns": example.turns,
                        "answer": example.answer,
                        "label": example.label,
                        "context": example.context,
                        "tokens": example.estimated_tokens(),
                        "media": bool(example.media),
                    }
                )
                + "\n"
            )
            if progress and time.monotonic() - last_report > 5:
                progress(f"{stats.records:,} records read, {stats.accepted:,} accepted")
                last_report = time.monotonic()
    return stats


# ------------------------------------------------------------------------------------------------ splitting
def _allocate(count: int, ratios: tuple[float, ...]) -> list[int]:
    """Records per split for one label: proportional, at least one per non-empty split where there are enough."""
    wanted = [i for i, ratio in enumerate(ratios) if ratio > 0]
    sizes = [0] * len(ratios)
    if count >= len(wanted):
        for i in wanted:
            sizes[i] = 1
    remaining = count - sum(sizes)
    shares = [ratios[i] * count - sizes[i] if i in wanted else 0 for i in range(len(ratios))]
    total_share = sum(max(share, 0) for share in shares) or 1
    exact = [max(share, 0) / total_share * remaining for share in shares]
    for i in range(len(ratios)):
        sizes[i] += int(exact[i])
    leftover = count - sum(sizes)
    for i in sorted(range(len(ratios)), key=lambda j: (-(exact[j] - int(exact[j])), j))[:leftover]:
        sizes[i] += 1
    return sizes


@dataclass
class Assignment:
    """The split of every spooled example (0 train, 1 validation, 2 test, 3 dropped by a cap)."""

    codes: bytearray
    capped: int
    capped_validation: int = 0


def _cap(codes: bytearray, keys: array[int], seed: int, *, split_code: int, limit: int) -> int:
    """Keep `limit` members of a split, chosen by a keyed hash (deterministic sampling); drop the rest."""
    members = [i for i, code in enumerate(codes) if code == split_code]
    if len(members) <= limit:
        return 0
    ranked = sorted(members, key=lambda i: _keyed(seed, f"cap-{split_code}", keys[i].to_bytes(8, "big")))
    for index in ranked[limit:]:
        codes[index] = 3
    return len(members) - limit


def assign_splits(
    keys: array[int],
    labels: list[int],
    run: ExecutionInput,
    *,
    max_train: int,
    max_validation: int,
    validation_allowed: bool,
) -> Assignment:
    split = run.split
    validation = split.validation if validation_allowed else 0.0
    ratios = (split.train, validation, split.test)
    hashes = array("Q", (_keyed(split.seed, "split", key.to_bytes(8, "big")) for key in keys))
    codes = bytearray(len(keys))
    if run.task is TaskType.CLASSIFICATION:
        by_label: dict[int, list[int]] = {}
        for index, label in enumerate(labels):
            by_label.setdefault(label, []).append(index)
        for members in by_label.values():
            members.sort(key=lambda i: hashes[i])
            sizes = _allocate(len(members), ratios)
            position = 0
            for code, size in enumerate(sizes):
                for index in members[position : position + size]:
                    codes[index] = code
                position += size
    else:
        bounds = (ratios[0], ratios[0] + ratios[1])
        for index, value in enumerate(hashes):
            u = value / 2**64
            codes[index] = 0 if u < bounds[0] else (1 if u < bounds[1] else 2)
    capped = _cap(codes, keys, split.seed, split_code=0, limit=max_train)
    capped_validation = _cap(codes, keys, split.seed, split_code=1, limit=max_validation)
    return Assignment(codes, capped, capped_validation)


# ------------------------------------------------------------------------------------------------ outputs
def _conversation(example: dict[str, Any], prompt_only: bool) -> dict[str, Any]:
    turns = example["turns"][:1] if prompt_only else example["turns"]
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    if example["system"]:
        record["system"] = [{"text": example["system"]}]
    record["messages"] = [{"role": role, "content": [{"text": text}]} for role, text in turns]
    return record


def _rft(example: dict[str, Any], run: ExecutionInput, labels: list[str]) -> dict[str, Any]:
    messages = []
    if example["system"]:
        messages.append({"role": "system", "content": example["system"]})
    messages.append({"role": "user", "content": example["turns"][0][1]})
    record: dict[str, Any] = {
        "id": example["key"][:16],
        "messages": messages,
        "reference_answer": example["answer"],
        "task": run.task.value,
        "grader": run.rft.grader,
    }
    if run.rft.grader == "numeric":
        record["numeric_tolerance"] = run.rft.numeric_tolerance
    if example["context"] is not None:
        record["context"] = example["context"]
    if example["label"] is not None:
        record["label"] = example["label"]
        record["labels"] = labels
    return record


def _evaluation(example: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": example["key"][:16],
        "system": example["system"],
        "prompt": example["turns"][0][1],
        "reference": example["answer"],
    }
    if example["label"] is not None:
        record["label"] = example["label"]
    if example["context"] is not None:
        record["context"] = example["context"]
    return record


def _output_record(example: dict[str, Any], split: str, run: ExecutionInput, labels: list[str]) -> dict[str, Any]:
    if split == "test":
        return _evaluation(example)
    if run.method is Method.RFT:
        return _rft(example, run, labels)
    return _conversation(example, prompt_only=run.method is Method.DISTILLATION)


def _limits(run: ExecutionInput) -> tuple[int, int, int, bool]:
    model = MODELS[run.base_model or ""]
    minimum = RFT_MIN_TRAIN_RECORDS if run.method is Method.RFT else model.min_train_records
    cap = min(run.split.max_train or model.max_train_records, model.max_train_records)
    validation_allowed = model.validation_allowed and run.method is not Method.RFT
    return minimum, cap, model.max_validation_records, validation_allowed


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
    stats: ShardStats

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
            "fixes": dict(sorted(self.stats.fixes.items())),
            "duplicates": self.stats.duplicates,
        }


def _dumps(record: dict[str, Any]) -> str:
    """One JSON line (orjson: compact, UTF-8, key order as built, so the outputs are byte-stable)."""
    return orjson.dumps(record).decode()


def _spooled(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                yield orjson.loads(line)


def _check_counts(counts: Counter[str], run: ExecutionInput, minimum: int) -> list[str]:
    model = run.base_model
    problems = []
    if counts["train"] < minimum:
        problems.append(f"train split: {counts['train']} records; {model} {run.method.value} needs at least {minimum}")
    if run.task is not TaskType.GENERATION and counts["test"] == 0 and run.split.test > 0:
        problems.append("test split: no records; evaluation needs a test split (add data or raise split.test)")
    return problems


def _index_spools(
    spools: list[Path], stats: ShardStats
) -> tuple[array[int], list[int], dict[str, int], array[int], bytearray]:
    """Hash, label and token count of every spooled example; duplicates across shards are dropped here."""
    keys: array[int] = array("Q")
    label_index: dict[str, int] = {}
    labels: list[int] = []
    tokens: array[int] = array("I")
    kept = bytearray()
    seen: set[str] = set()
    for example in _spooled(spools):
        if example["key"] in seen:  # the same example in two shards of a fanned-out run
            kept.append(0)
            stats.duplicates += 1
            stats.accepted -= 1
            continue
        seen.add(example["key"])
        kept.append(1)
        keys.append(int(example["key"][:16], 16))
        labels.append(label_index.setdefault(example["label"] or "", len(label_index)))
        tokens.append(example["tokens"])
    return keys, labels, label_index, tokens, kept


def finalize(
    spools: list[Path],
    stats: ShardStats,
    run: ExecutionInput,
    output: OutputLocation,
    *,
    inputs: list[Source],
    progress: Progress | None = None,
) -> PrepareResult:
    """Phase 2: split, cap, check counts, write the outputs and publish them with the manifest last."""
    if stats.rejected and run.dataset.on_invalid == "fail":
        raise InvalidDataset(stats.problems, stats.rejected)
    if len(stats.media) > 1:
        raise InvalidDataset(["dataset: images and videos cannot be mixed in one dataset"], 1)
    minimum, cap, max_validation, validation_allowed = _limits(run)
    keys, labels, label_index, tokens, kept = _index_spools(spools, stats)
    assignment = assign_splits(
        keys, labels, run, max_train=cap, max_validation=max_validation, validation_allowed=validation_allowed
    )
    counts: Counter[str] = Counter(SPLITS[code] for code in assignment.codes if code < len(SPLITS))
    count_problems = _check_counts(counts, run, minimum)
    if count_problems:
        raise InvalidDataset(count_problems, len(count_problems))
    names = [name for name in SPLITS if counts[name] or name == "train" or (name == "test" and run.split.test > 0)]
    names = [n for n in names if not (n == "validation" and not validation_allowed)]
    label_names = sorted(name for name in label_index if name)
    distribution: dict[str, Counter[str]] = {name: Counter() for name in names}
    handles = {name: open(output.stage(f"{name}.jsonl"), "w", encoding="utf-8") for name in names}  # noqa: SIM115
    try:
        index = -1
        for position, example in enumerate(_spooled(spools)):
            if not kept[position]:
                continue
            index += 1
            code = assignment.codes[index]
            if code >= len(SPLITS) or SPLITS[code] not in handles:
                continue
            split = SPLITS[code]
            handles[split].write(_dumps(_output_record(example, split, run, label_names)) + "\n")
            if example["label"] is not None:
                distribution[split][example["label"]] += 1
    finally:
        for handle in handles.values():
            handle.close()
    files = [f"{name}.jsonl" for name in names]
    manifest = {
        "engineVersion": ENGINE_VERSION,
        "inputs": [{"uri": source.uri, "bytes": source.size} for source in inputs],
        "outputs": {
            name: {"file": f"{name}.jsonl", "records": counts[name], "sha256": sha256_of(output.stage(f"{name}.jsonl"))}
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
        "labels": {name: dict(sorted(distribution[name].items())) for name in names if distribution[name]},
        "tokens": _token_stats(tokens),
        "fixes": dict(sorted(stats.fixes.items())),
        "problems": {"count": stats.rejected, "first": stats.problems},
        "configuration": run.model_dump(mode="json", by_alias=True),
    }
    with open(output.stage("manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False, sort_keys=True)
        handle.write("\n")
    output.publish(
        [*files, "manifest.json"], on_progress=(lambda name: progress(f"wrote {name}")) if progress else None
    )
    splits = {name: PreparedSplit(name, output.uri_of(f"{name}.jsonl"), counts[name]) for name in names}
    return PrepareResult(manifest, output.uri_of("manifest.json"), output.uri, splits, stats)


def _token_stats(tokens: array[int]) -> dict[str, Any]:
    if not tokens:
        return {"estimator": f"characters / {CHARS_PER_TOKEN_ESTIMATE}, rounded up (conservative)"}
    ordered = sorted(tokens)
    return {
        "estimator": f"characters / {CHARS_PER_TOKEN_ESTIMATE}, rounded up (conservative)",
        "min": ordered[0],
        "max": ordered[-1],
        "mean": round(sum(ordered) / len(ordered), 1),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "total": sum(ordered),
    }


def prepare(
    sources: list[Source],
    run: ExecutionInput,
    output: OutputLocation,
    *,
    s3: Any = None,
    data_bucket: str | None = None,
    progress: Progress | None = None,
) -> PrepareResult:
    """Both phases in one process: what PrepareData and `nova-pipeline prepare` run."""
    spool = output.stage("_spool.jsonl")
    try:
        with open(spool, "w", encoding="utf-8") as handle:
            stats = normalize(sources, run, handle, s3=s3, data_bucket=data_bucket, progress=progress)
        return finalize([spool], stats, run, output, inputs=sources, progress=progress)
    except (SourceError, ConfigurationProblem) as error:
        raise InvalidDataset([str(error)], 1) from None
    finally:
        output.close()
