"""Where records come from and where outputs go: local paths or S3, read as byte streams, written atomically.

- `list_sources(uri)`: one object, or every data object under a prefix / in a directory, sorted by name.
- `open_binary(source)`: the bytes of one source, gunzipped when its name ends in `.gz` (`reading.py` parses them).
- `OutputLocation`: writes files under a directory or an `s3://` prefix; the caller writes the manifest last.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nova_pipeline.core.s3 import split_s3

DATA_SUFFIXES = (".csv", ".json", ".jsonl")
FORMATS = ("csv", "json", "jsonl")


class SourceError(Exception):
    """A dataset that cannot be read: missing, empty, unknown format, malformed at a given line."""


@dataclass(frozen=True)
class Source:
    uri: str
    name: str
    size: int

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")


def is_data(name: str) -> bool:
    return name.lower().removesuffix(".gz").endswith(DATA_SUFFIXES)


def list_sources(uri: str, s3: Any = None) -> list[Source]:
    """The data objects at `uri` (a file, a directory, an s3 object or an s3 prefix ending in '/')."""
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        if not key.endswith("/") and key:
            head = s3.head_object(Bucket=bucket, Key=key)
            return [Source(uri, key.rsplit("/", 1)[-1], int(head["ContentLength"]))]
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for item in page.get("Contents", []):
                if is_data(item["Key"]) and not item["Key"].endswith("/"):
                    found.append(Source(f"s3://{bucket}/{item['Key']}", item["Key"][len(key) :], int(item["Size"])))
        if not found:
            raise SourceError(f"no .csv, .json or .jsonl objects (optionally .gz) under {uri}")
        return sorted(found, key=lambda source: source.uri)
    path = Path(uri)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_data(p.name))
        if not files:
            raise SourceError(f"no .csv, .json or .jsonl files (optionally .gz) in {uri}")
        return [Source(str(p), str(p.relative_to(path)), p.stat().st_size) for p in files]
    if not path.is_file():
        raise SourceError(f"{uri} does not exist")
    return [Source(str(path), path.name, path.stat().st_size)]


def detect_format(source: Source, declared: str) -> str:
    if declared != "auto":
        return declared
    name = source.name.lower().removesuffix(".gz")
    for fmt in FORMATS:
        if name.endswith(f".{fmt}"):
            return fmt
    raise SourceError(f"{source.name}: cannot tell the format from the name; set dataset.format (csv, json, jsonl)")


class _Readable(io.RawIOBase):
    """A botocore StreamingBody as a raw stream, so that it can be buffered, gunzipped and decoded lazily."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()


def open_binary(source: Source, s3: Any = None) -> IO[bytes]:
    if source.is_s3:
        bucket, key = split_s3(source.uri)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        stream: IO[bytes] = io.BufferedReader(_Readable(body), buffer_size=1 << 20)
    else:
        stream = open(source.uri, "rb")  # noqa: SIM115 - closed by the caller's `with`
    if source.name.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=stream)  # type: ignore[return-value]
    return stream


class OutputLocation:
    """A local directory or an s3:// prefix. Files are staged locally; `publish` moves them into place."""

    def __init__(self, uri: str, s3: Any = None) -> None:
        self.uri = uri.rstrip("/") + "/"
        self.s3 = s3
        self.staging = Path(tempfile.mkdtemp(prefix="nova-prepare-"))

    def stage(self, name: str) -> Path:
        return self.staging / name

    def uri_of(self, name: str) -> str:
        return f"{self.uri}{name}"

    def publish(self, names: list[str], *, on_progress: Callable[[str], None] | None = None) -> None:
        """Move staged files into place in the given order (the manifest last); undo on failure."""
        published: list[str] = []
        try:
            for name in names:
                self._put(name)
                published.append(name)
                if on_progress:
                    on_progress(name)
        except Exception:
            for name in published:
                self.delete(name)
            raise

    def _put(self, name: str) -> None:
        source = self.staging / name
        if self.uri.startswith("s3://"):
            bucket, key = split_s3(self.uri_of(name))
            self.s3.upload_file(str(source), bucket, key)
        else:
            destination = Path(self.uri_of(name))
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, destination)  # atomic, and no copy, on the same file system
            except OSError:
                temporary = destination.with_name(f".{destination.name}.partial")
                shutil.copyfile(source, temporary)
                os.replace(temporary, destination)

    def delete(self, name: str) -> None:
        if self.uri.startswith("s3://"):
            bucket, key = split_s3(self.uri_of(name))
            self.s3.delete_object(Bucket=bucket, Key=key)
        else:
            Path(self.uri_of(name)).unlink(missing_ok=True)

    def existing(self, name: str) -> bool:
        if self.uri.startswith("s3://"):
            bucket, key = split_s3(self.uri_of(name))
            return bool(self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0))
        return Path(self.uri_of(name)).exists()

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
