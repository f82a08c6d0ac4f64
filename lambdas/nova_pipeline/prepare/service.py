"""The preparation entry points of the three Lambdas: one-shot, one object of a fan-out, and the merge.

A shard is what PrepareShard leaves under `prepared/<run id>/_shards/<hash>/`: the spool and index of every part
its process (or its workers) wrote, and `shard.json` with the chunk results and label tables. The Map's result per
object stays small (the key and the shard's URI), so a thousand objects fit in the state's 256 KiB.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.run_state import MapResults
from nova_pipeline.core import layout
from nova_pipeline.core.map_results import read_map_results
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.prepare.engine import (
    InvalidDataset,
    Normalized,
    PrepareResult,
    Progress,
    finalize,
    normalize,
    prepare,
)
from nova_pipeline.prepare.finalize import PartInput
from nova_pipeline.prepare.normalize import ChunkResult, PartFiles
from nova_pipeline.prepare.plan import split_dataset_uri
from nova_pipeline.prepare.records import ConfigurationProblem
from nova_pipeline.prepare.sources import OutputLocation, Source, SourceError, is_data, list_sources

RUN_ID_PATTERN = "letters, digits, '-' and '_'"


def run_prefix(data_bucket: str, run_id: str) -> str:
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise InvalidDataset([f"run id {run_id!r}: S3 keys of prepared data allow only {RUN_ID_PATTERN}"], 1)
    return f"s3://{data_bucket}/{layout.prepared(run_id)}"


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


def _shard_prefix(data_bucket: str, run_id: str, object_key: str) -> str:
    return f"{run_prefix(data_bucket, run_id)}_shards/{hashlib.sha256(object_key.encode()).hexdigest()[:24]}/"


def prepare_shard(
    run: ExecutionInput, run_id: str, object_key: str, size: int, *, s3: Any, data_bucket: str
) -> dict[str, Any]:
    """PrepareShard: phase 1 for one object; objects that are not data (by extension) are skipped."""
    if object_key.endswith("/") or not is_data(object_key):
        return {"key": object_key, "shard": None}
    _, dataset_key = split_dataset_uri(run.dataset.uri, data_bucket)
    name = object_key[len(dataset_key) :] if dataset_key.endswith("/") and object_key.startswith(dataset_key) else None
    source = Source(f"s3://{data_bucket}/{object_key}", name or object_key.rsplit("/", 1)[-1], size)
    prefix = _shard_prefix(data_bucket, run_id, object_key)
    bucket, key = split_s3(prefix)
    with tempfile.TemporaryDirectory(prefix="nova-shard-") as work:
        try:
            normalized = normalize([source], run, Path(work), s3=s3, data_bucket=data_bucket)
        except (SourceError, ConfigurationProblem) as error:
            raise InvalidDataset([str(error)], 1) from None
        for part in normalized.parts:
            s3.upload_file(str(part.files.spool), bucket, f"{key}{part.files.name}.spool.jsonl")
            s3.upload_file(str(part.files.index), bucket, f"{key}{part.files.name}.index.bin")
    document = {
        "source": {"uri": source.uri, "name": source.name, "bytes": size},
        "parts": [part.files.dump() for part in normalized.parts],
        "chunks": [chunk.dump() for chunk in normalized.chunks],
    }
    s3.put_object(Bucket=bucket, Key=f"{key}shard.json", Body=json.dumps(document).encode())
    return {"key": object_key, "shard": f"{prefix}shard.json", "records": normalized.stats.records}


def _load_shards(documents: list[dict[str, Any]], prefixes: list[str], output: OutputLocation, s3: Any) -> Normalized:
    """The shards' parts downloaded into the output's staging area, chunks renumbered in source order."""
    parts, chunks, sources = [], [], []
    base = 0
    for number, (document, prefix) in enumerate(zip(documents, prefixes, strict=True)):
        bucket, key = split_s3(prefix)
        renamed = {}
        for part in document["parts"]:
            local = f"s{number}-{part['name']}"
            renamed[part["name"]] = local
            spool, index = output.stage(f"{local}.spool.jsonl"), output.stage(f"{local}.index.bin")
            s3.download_file(bucket, f"{key}{part['name']}.spool.jsonl", str(spool))
            s3.download_file(bucket, f"{key}{part['name']}.index.bin", str(index))
            parts.append(PartInput(PartFiles(local, spool, index, part["labels"]), chunk_base=base))
        for data in document["chunks"]:
            chunk = ChunkResult.load(data)
            chunk.index += base
            chunk.part = renamed[chunk.part]
            chunks.append(chunk)
        base += max((data["index"] for data in document["chunks"]), default=-1) + 1
        source = document["source"]
        sources.append(Source(source["uri"], source["name"], source["bytes"]))
    return Normalized(parts, sorted(chunks, key=lambda chunk: chunk.index), sources)


def merge_map_results(
    run: ExecutionInput, run_id: str, results: MapResults, *, s3: Any, data_bucket: str
) -> PrepareResult:
    """MergeShards: the shard summaries the PrepareShards map wrote to S3, merged (any failed object fails)."""
    outcome = read_map_results(s3, results)
    if outcome.failed:
        total = outcome.failed + len(outcome.outputs)
        raise InvalidDataset(
            [f"{outcome.failed} of {total} objects failed to prepare (see the PrepareShards map run)"], outcome.failed
        )
    return merge_shards(run, run_id, outcome.outputs, s3=s3, data_bucket=data_bucket)


def merge_shards(
    run: ExecutionInput, run_id: str, shards: list[dict[str, Any]], *, s3: Any, data_bucket: str
) -> PrepareResult:
    """The shards in source order, finalized exactly as the one-shot path does; shards removed."""
    broken = [shard for shard in shards if not isinstance(shard, dict) or "shard" not in shard]
    if broken:
        raise InvalidDataset(
            [f"{len(broken)} of {len(shards)} objects failed to prepare (see the PrepareShards map run)"], len(broken)
        )
    uris = [shard["shard"] for shard in shards if shard["shard"]]
    if not uris:
        raise InvalidDataset(["no .csv, .json or .jsonl objects (optionally .gz) under the dataset prefix"], 1)
    documents = []
    for uri in uris:
        bucket, key = split_s3(uri)
        documents.append(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    order = sorted(range(len(uris)), key=lambda i: documents[i]["source"]["uri"])
    output = OutputLocation(run_prefix(data_bucket, run_id), s3)
    try:
        normalized = _load_shards(
            [documents[i] for i in order], [uris[i].removesuffix("shard.json") for i in order], output, s3
        )
        result = finalize(normalized, run, output)
    finally:
        output.close()
    bucket, key = split_s3(f"{run_prefix(data_bucket, run_id)}_shards/")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    return result
