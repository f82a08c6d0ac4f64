"""Where records come from and where outputs go: local paths or S3, read as byte streams, written atomically.

- `list_sources(uri)`: one object, or every data object under a prefix / in a directory, sorted by name. In a local
  directory, symbolic links are followed only to files inside it; every entry left out is listed with its reason
  (`SourceList.skipped`, reported in the manifest).
- `open_binary(source)`: the bytes of one source, gunzipped when its name ends in `.gz` (`reading.py` parses them).
  Gunzipping is guarded: data that is not gzip, is truncated or corrupt, or expands more than `MAX_GZIP_RATIO` times
  its compressed size (above `GZIP_RATIO_FLOOR`) or beyond `MAX_DECOMPRESSED_BYTES` raises `SourceError` naming the
  file and the line reached.
- `OutputLocation`: writes files under a directory or an `s3://` prefix; the caller writes the manifest last.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nova_pipeline.core.s3 import split_s3

DATA_SUFFIXES = (".csv", ".json", ".jsonl")
FORMATS = ("csv", "json", "jsonl")
# Decompression-bomb guard. Datasets gzip far less than 200x (the shipped examples 11x, generated records with
# repeated JSON keys 14-32x); gzip cannot exceed ~1,032x, which only runs of identical bytes approach. Below the
# floor nothing is checked (such an input is small whatever its ratio); the absolute cap is PrepareData's /tmp
# (10 GiB), which holds about the decompressed size again as spool.
MAX_GZIP_RATIO = 200
GZIP_RATIO_FLOOR = 256 << 20
MAX_DECOMPRESSED_BYTES = 10 << 30
MAX_SKIPPED_LISTED = 100


class SourceError(Exception):
    """A dataset that cannot be read: missing, empty, unknown format, malformed at a given line."""


@dataclass(frozen=True)
class Skipped:
    """An entry of a local input folder that was not read, and why."""

    name: str
    reason: str

    def dump(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


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


class SourceList(list[Source]):
    """The sources of a dataset, and the entries of its local folder that were left out (`skipped`)."""

    def __init__(self, sources: list[Source], skipped: list[Skipped] | None = None) -> None:
        super().__init__(sources)
        self.skipped = skipped or []


def walk_folder(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Every regular file under `root` (sorted), and what was left out: symbolic links that lead out of `root`,
    dangling or to a directory (never followed: a loop or a way out), and anything that is not a regular file.
    A link to a file inside `root` is read (its name is the link's)."""
    base = root.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []
    for folder, directories, names in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in sorted(directories):
            if (here / name).is_symlink():
                relative = str((here / name).relative_to(root))
                skipped.append(Skipped(relative, "symbolic link to a folder, not followed"))
        for name in names:
            path = here / name
            relative = str(path.relative_to(root))
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    target = path.resolve(strict=True)
                    if not target.is_relative_to(base):
                        skipped.append(Skipped(relative, "symbolic link to a file outside the input folder"))
                        continue
                    mode = os.stat(target).st_mode
            except (OSError, RuntimeError):  # dangling link, a link loop, or unreadable
                skipped.append(Skipped(relative, "dangling or unreadable symbolic link"))
                continue
            if not stat.S_ISREG(mode):
                skipped.append(Skipped(relative, "not a regular file"))
                continue
            files.append(path)
    return sorted(files), sorted(skipped, key=lambda entry: entry.name)


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
        regular, skipped = walk_folder(path)
        files = [p for p in regular if is_data(p.name)]
        skipped += [
            Skipped(str(p.relative_to(path)), "not .csv, .json or .jsonl (optionally .gz)")
            for p in regular
            if not is_data(p.name)
        ]
        if not files:
            listed = "; ".join(f"{entry.name}: {entry.reason}" for entry in skipped[:5])
            raise SourceError(
                f"no .csv, .json or .jsonl files (optionally .gz) in {uri}" + (f" (skipped {listed})" if listed else "")
            )
        return SourceList(
            [Source(str(p), str(p.relative_to(path)), p.stat().st_size) for p in files],
            sorted(skipped, key=lambda entry: entry.name),
        )
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


class _Gunzipped(io.RawIOBase):
    """The decompressed bytes of a gzip stream, with every way it can go wrong turned into a `SourceError` that
    names the file and the line reached (lines counted as they are decompressed), and the bomb guard."""

    def __init__(self, compressed: IO[bytes], source: Source) -> None:
        self._compressed = compressed
        self._gzip = gzip.GzipFile(fileobj=compressed)
        self._name = source.name
        self._limit = min(MAX_DECOMPRESSED_BYTES, max(GZIP_RATIO_FLOOR, MAX_GZIP_RATIO * max(source.size, 1)))
        self._compressed_size = source.size
        self._produced = 0
        self._lines = 0

    def readable(self) -> bool:
        return True

    def _where(self) -> str:
        return f"{self._name} line {self._lines + 1}"

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._gzip.read1(len(buffer))  # one read of compressed input at a time: the line is exact
        except gzip.BadGzipFile as error:
            if self._produced:  # a bad CRC or length after good data
                raise SourceError(f"{self._where()}: corrupt gzip data ({error})") from None
            raise SourceError(
                f"{self._where()}: not gzip data ({error}); the name ends in .gz, so the file must be gzip-compressed "
                "(rename it or compress it)"
            ) from None
        except EOFError:
            raise SourceError(
                f"{self._where()}: the gzip data ends early (a truncated file or an interrupted upload); "
                "upload the whole file again"
            ) from None
        except (zlib.error, OSError) as error:
            raise SourceError(f"{self._where()}: corrupt gzip data ({error})") from None
        self._produced += len(data)
        self._lines += data.count(b"\n")
        if self._produced > self._limit:
            ratio = f"{MAX_GZIP_RATIO}x its compressed size of {self._compressed_size:,} bytes"
            raise SourceError(
                f"{self._where()}: decompresses to more than {self._limit:,} bytes (the limit is {ratio}, at least "
                f"{GZIP_RATIO_FLOOR >> 20} MiB and at most {MAX_DECOMPRESSED_BYTES >> 30} GiB): a decompression "
                "bomb, or data so repetitive it should be deduplicated first; upload large inputs uncompressed or "
                "in several objects"
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gzip.close()
        self._compressed.close()  # GzipFile leaves a file object it was given open
        super().close()


def open_binary(source: Source, s3: Any = None) -> IO[bytes]:
    if source.is_s3:
        bucket, key = split_s3(source.uri)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        stream: IO[bytes] = io.BufferedReader(_Readable(body), buffer_size=1 << 20)
    else:
        stream = open(source.uri, "rb")  # noqa: SIM115 - closed by the caller's `with`
    if source.name.lower().endswith(".gz"):
        return io.BufferedReader(_Gunzipped(stream, source), buffer_size=1 << 20)
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
