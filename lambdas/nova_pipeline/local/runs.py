"""What a local run leaves behind, in `.build/twin-runs/<execution>/` (the simulated buckets vanish with the twin):

    execution.json         input, status, output, error and cause
    logs.jsonl             the functions' logs (Powertools JSON lines; on the terminal too with --verbose)
    requests.jsonl         every AWS request the run made, with the principal that made it
    prepared/              the prepared splits and manifest.json (`prepared/<execution>/` of the data bucket)
    evaluation/            the evaluation batches and predictions (`evaluation/<execution>/`)
    report.html, report.json
    promoted-model.json    when the run promoted its model: the active-model record and what the simulated model
                           learned, so that `serve-local` serves it

`.build/twin-runs/last-promoted` names the last run that promoted a model.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nova_pipeline.core import layout
from nova_pipeline.local.simulated_model import Example, tokens
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name

if TYPE_CHECKING:
    from nova_pipeline.local.twin import ExecutionResult, OfflineTwin

REPO_ROOT = Path(__file__).resolve().parents[3]
RUNS_DIR = REPO_ROOT / ".build" / "twin-runs"
LAST_PROMOTED = "last-promoted"
PROMOTED_MODEL = "promoted-model.json"


def execution_name() -> str:
    """A new local execution name: `local-<UTC time>-<random>`."""
    return f"local-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


@contextmanager
def function_logs(path: Path, *, echo: bool, level: str = "INFO") -> Iterator[None]:
    """The functions' logs (the one Powertools logger they share) at `level` go to `path`, and with `echo` to
    stderr too. (The logger takes POWERTOOLS_LOG_LEVEL once, when first imported: the level is set here.)"""
    from nova_pipeline.core.observability import logger

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        yield
        return
    with path.open("a", encoding="utf-8") as file:
        previous = _swap_stream(handler, _Tee(file, sys.stderr) if echo else file)
        previous_level = logger.log_level
        logger.setLevel(level)
        try:
            yield
        finally:
            logger.setLevel(previous_level)
            _swap_stream(handler, previous)


def _swap_stream(handler: logging.StreamHandler[Any], stream: Any) -> Any:
    """`handler.setStream` without its flush of the stream it replaces, which may be closed: the handler keeps the
    stdout it was created with (a test's captured stdout, closed after that test, when the functions' logger was
    first imported inside one), and `setStream` then fails with "I/O operation on closed file"."""
    handler.acquire()
    try:
        previous, handler.stream = handler.stream, stream
    finally:
        handler.release()
    return previous


class _Tee:
    """A text stream writing to several: the log file and, with --verbose, the terminal."""

    def __init__(self, *streams: IO[str]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def _download(s3: Any, bucket: str, prefix: str, folder: Path) -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            target = folder / item["Key"].removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            count += 1
    return count


def keep_run(twin: OfflineTwin, result: ExecutionResult, execution_input: Any, folder: Path) -> Path:
    """Copy what the run wrote in the simulated buckets, its requests and its outcome into `folder`."""
    import boto3

    from nova_pipeline.local.template import REGION

    folder.mkdir(parents=True, exist_ok=True)
    s3 = boto3.client("s3", region_name=REGION)
    _download(s3, twin.data_bucket, layout.prepared(result.name), folder / "prepared")
    _download(s3, twin.data_bucket, layout.evaluation(result.name), folder / "evaluation")
    _download(s3, twin.data_bucket, layout.report(result.name), folder)
    outcome = {
        "execution": result.name,
        "status": result.status,
        "seconds": round(result.seconds, 3),
        "input": execution_input,
        "output": result.output,
        "error": result.error,
        "cause": result.cause,
    }
    (folder / "execution.json").write_text(json.dumps(outcome, indent=2, default=str), encoding="utf-8")
    requests = twin.authorizer.requests if twin.authorizer is not None else []
    with (folder / "requests.jsonl").open("w", encoding="utf-8") as file:
        for request in requests:
            line = {"principal": request.principal, "service": request.service, "operation": request.operation}
            file.write(json.dumps({**line, "params": request.params}, default=_short) + "\n")
    if ((result.output or {}).get("promotion") or {}).get("promoted"):
        _keep_promoted_model(twin, folder)
    return folder


def _short(value: Any) -> str:
    """Bodies (bytes, streams) as their size: the requests log holds the calls, not the data."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    return f"<{type(value).__name__}>"


def _keep_promoted_model(twin: OfflineTwin, folder: Path) -> None:
    import boto3

    from nova_pipeline.local.template import REGION

    name = active_model_parameter_name(twin.options.environment)
    value = boto3.client("ssm", region_name=REGION).get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    record = ActiveModelRecord.model_validate_json(value)
    model = twin.simulator.models[record.custom_model_arn].model
    examples = [{"system": e.system, "prompt": e.prompt, "answer": e.answer} for e in model.examples]
    document = {"record": record.model_dump(mode="json", by_alias=True), "examples": examples}
    (folder / PROMOTED_MODEL).write_text(json.dumps(document), encoding="utf-8")
    (folder.parent / LAST_PROMOTED).write_text(folder.name + "\n", encoding="utf-8")


@dataclass(frozen=True)
class PromotedModel:
    """A model a local run promoted, as `serve-local` serves it."""

    run: str
    record: ActiveModelRecord
    examples: list[Example]


class NoPromotedRun(Exception):  # noqa: N818 - the asked run does not exist or promoted nothing
    pass


def promoted_model(run: str | None, runs_dir: Path | None = None) -> PromotedModel | None:
    """The model run `run` promoted, or with no run the last local run that promoted one (None if none did)."""
    runs_dir = runs_dir or RUNS_DIR
    if run is None:
        pointer = runs_dir / LAST_PROMOTED
        if not pointer.is_file():
            return None
        run = pointer.read_text(encoding="utf-8").strip()
    path = runs_dir / run / PROMOTED_MODEL
    if not path.is_file():
        known = sorted(p.parent.name for p in runs_dir.glob(f"*/{PROMOTED_MODEL}")) if runs_dir.is_dir() else []
        raise NoPromotedRun(
            f"run {run!r} promoted no model ({path} is missing); runs that did: {', '.join(known) or 'none'}"
        )
    document = json.loads(path.read_text(encoding="utf-8"))
    examples = [
        Example(e["system"], e["prompt"], e["answer"], frozenset(tokens(f"{e['system']} {e['prompt']}")))
        for e in document["examples"]
    ]
    return PromotedModel(run, ActiveModelRecord.model_validate(document["record"]), examples)


def failure_summary(result: ExecutionResult, folder: Path) -> list[str]:
    """A failed run in four lines: the state that failed, the error, its cause in one line, and where to look."""
    failed = next((entry for entry in reversed(result.trace) if entry.error), None)
    cause = result.cause or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        cause = str(parsed.get("errorMessage") or parsed.get("Cause") or parsed.get("cause") or cause)
    cause = " ".join(cause.split())
    if len(cause) > 300:
        cause = cause[:297] + "..."
    return [
        f"state: {failed.state if failed else (result.trace[-1].state if result.trace else 'none')}",
        f"error: {result.error or (failed.error if failed else 'none')}",
        f"cause: {cause or 'none given'}",
        f"hint: the functions' logs are in {folder / 'logs.jsonl'}; rerun with --verbose to see them here",
    ]
