"""The preparation entry points of the three Lambdas: one-shot, one shard of a fan-out, and the merge."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from nova_pipeline.data_plan import split_dataset_uri
from nova_pipeline.execution_input import ExecutionInput
from nova_pipeline.prepare.engine import (
    InvalidDataset,
    PrepareResult,
    Progress,
    ShardStats,
    finalize,
    normalize,
    prepare,
)
from nova_pipeline.prepare.records import ConfigurationProblem
from nova_pipeline.prepare.sources import OutputLocation, Source, SourceError, list_sources
from nova_pipeline.s3uri import split_s3

RUN_ID_PATTERN = "letters, digits, '-' and '_'"


def run_prefix(data_bucket: str, run_id: str) -> str:
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise InvalidDataset([f"run id {run_id!r}: S3 keys of prepared data allow only {RUN_ID_PATTERN}"], 1)
    return f"s3://{data_bucket}/prepared/{run_id}/"


def _dataset_uri(run: ExecutionInput, data_bucket: str) -> str:
    bucket, key = split_dataset_uri(run.dataset.uri, data_bucket)
    return f"s3://{bucket}/{key}"


def prepare_run(
    run: ExecutionInput, run_id: str, *, s3: Any, data_bucket: str, progress: Progress | None = None
) -> PrepareResult:
    """PrepareData: every object of the dataset, both phases, outputs under prepared/<run id>/."""
    try:
        sources = list_sources(_dataset_uri(run, data_bucket), s3)
    except SourceError as error:
        raise InvalidDataset([str(error)], 1) from None
    output = OutputLocation(run_prefix(data_bucket, run_id), s3)
    return prepare(sources, run, output, s3=s3, data_bucket=data_bucket, progress=progress)


def _shard_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def prepare_shard(
    run: ExecutionInput, run_id: str, object_key: str, size: int, *, s3: Any, data_bucket: str
) -> dict[str, Any]:
    """PrepareShard: normalize one object into prepared/<run id>/_shards/<hash>.jsonl (+ .stats.json)."""
    source = Source(f"s3://{data_bucket}/{object_key}", object_key, size)
    prefix = run_prefix(data_bucket, run_id) + "_shards/"
    name = _shard_name(object_key)
    bucket, key = split_s3(prefix + name)
    with tempfile.TemporaryDirectory(prefix="nova-shard-") as work:
        spool = Path(work) / "shard.jsonl"
        try:
            with open(spool, "w", encoding="utf-8") as handle:
                stats = normalize([source], run, handle, s3=s3, data_bucket=data_bucket)
        except (SourceError, ConfigurationProblem) as error:
            raise InvalidDataset([str(error)], 1) from None
        s3.upload_file(str(spool), bucket, f"{key}.jsonl")
    summary = {
        "source": {"uri": source.uri, "key": object_key, "bytes": size},
        "shard": f"s3://{bucket}/{key}.jsonl",
        "stats": stats.dump(),
    }
    s3.put_object(Bucket=bucket, Key=f"{key}.stats.json", Body=json.dumps(summary).encode())
    return summary


def merge_shards(
    run: ExecutionInput, run_id: str, shards: list[dict[str, Any]], *, s3: Any, data_bucket: str
) -> PrepareResult:
    """MergeShards: the shards in source order, finalized exactly as the one-shot path does; shards removed."""
    broken = [shard for shard in shards if not isinstance(shard, dict) or "shard" not in shard]
    if broken:
        raise InvalidDataset(
            [f"{len(broken)} of {len(shards)} objects failed to prepare (see the PrepareShards map run)"], len(broken)
        )
    ordered = sorted(shards, key=lambda shard: shard["source"]["uri"])
    stats = ShardStats()
    for shard in ordered:
        stats.merge(ShardStats.load(shard["stats"]))
    output = OutputLocation(run_prefix(data_bucket, run_id), s3)
    try:
        spools = []
        for index, shard in enumerate(ordered):
            local = output.stage(f"_shard-{index:05d}.jsonl")
            bucket, key = split_s3(shard["shard"])
            s3.download_file(bucket, key, str(local))
            spools.append(local)
        sources = [Source(s["source"]["uri"], s["source"]["key"], s["source"]["bytes"]) for s in ordered]
        result = finalize(spools, stats, run, output, inputs=sources)
    finally:
        output.close()
    for shard in ordered:
        bucket, key = split_s3(shard["shard"])
        s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_object(Bucket=bucket, Key=key.removesuffix(".jsonl") + ".stats.json")
    return result
