"""Reading what a Distributed Map's ResultWriter wrote: the manifest, then its SUCCEEDED and FAILED result files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nova_pipeline.contract.run_state import MapResults
from nova_pipeline.core.errors import aws_call


@dataclass(frozen=True)
class MapOutcome:
    outputs: list[Any]  # each succeeded item's output, parsed
    failed: int  # items that failed or never ran


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    with aws_call("s3", "GetObject"):
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_map_results(s3: Any, results: MapResults) -> MapOutcome:
    """Every item's output from the result files the manifest lists (Step Functions developer guide, ResultWriter)."""
    bucket, key = results.result_writer_details.bucket, results.result_writer_details.key
    files = _read_json(s3, bucket, key).get("ResultFiles", {})
    outputs: list[Any] = []
    failed = 0
    for status in ("SUCCEEDED", "FAILED", "PENDING"):
        for entry in files.get(status, []):
            items = _read_json(s3, bucket, entry["Key"])
            if status == "SUCCEEDED":
                outputs += [json.loads(item["Output"]) for item in items]
            else:
                failed += len(items)
    return MapOutcome(outputs, failed)
