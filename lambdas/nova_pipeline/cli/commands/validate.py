"""`nova-pipeline validate`: check a file `prepare` wrote (or one written the same way) without rewriting it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from itertools import islice
from pathlib import Path
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command
from nova_pipeline.cli.commands.prepare import workers_flag
from nova_pipeline.contract.catalog import CUSTOMIZABLE_MODELS, MODELS, RFT_MIN_TRAIN_RECORDS, Method, TaskType
from nova_pipeline.prepare.kinds import DESCRIPTIONS, FileKind, NotPreparedData, check_records, detect, wrong_kind
from nova_pipeline.prepare.reading import DEFAULT_LIMIT, RecordLimit, bounded_lines
from nova_pipeline.prepare.sources import Source, SourceError, list_sources, open_binary

RFT_MODEL = "nova-2-lite"  # the only model Bedrock reinforcement fine-tuning takes (NOVA_FACTS.md, section 1)


def _s3_client(uri: str) -> Any:
    if uri.startswith("s3://"):
        import boto3

        return boto3.client("s3")
    return None


def _first_line(source: Source, s3: Any) -> bytes:
    """The first non-empty line, read in bounded blocks (a huge line is refused, never held whole)."""
    with open_binary(source, s3) as stream:
        for line in islice(bounded_lines(stream, source.name, DEFAULT_LIMIT), 1000):
            if line.strip():
                return line
    return b""


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def _refuse(message: str, hint: str | None = None) -> int:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return EXIT_INVALID


def _report(name: str, what: str, listed: list[str], rejected: int, counts: list[str]) -> int:
    """`listed`: the first problems of the `rejected` records; `counts`: problems of the file as a whole."""
    if not rejected and not counts:
        print(f"{name}: {what}")
        return EXIT_OK
    print(f"{name}: {rejected + len(counts)} problem(s)", file=sys.stderr)
    for problem in [*listed, *counts]:
        print(f"  - {problem}", file=sys.stderr)
    return EXIT_INVALID


def validate_command(args: argparse.Namespace) -> int:
    """Check a file `nova-pipeline prepare` wrote: an SFT, RFT or distillation training file, or an evaluation split
    (test.jsonl). The kind is told from the first record; --method says which kind it must be, and a file of another
    kind is refused. The file is never rewritten."""
    s3 = _s3_client(args.file)
    try:
        sources = list_sources(args.file, s3)
        found = detect(sources[0].uri, _first_line(sources[0], s3))
    except SourceError as error:
        return _refuse(str(error))
    except NotPreparedData as error:
        return _refuse(str(error), error.hint)
    kind = FileKind(args.method) if args.method else found
    refusal = wrong_kind(args.file, found, kind)
    if refusal is not None:
        return _refuse(str(refusal), refusal.hint)
    if kind in (FileKind.RFT, FileKind.EVALUATION):
        return _check_kind(args, sources, kind, s3)
    if not args.model:
        return _refuse(
            f"{args.file} is {DESCRIPTIONS[found]}; its limits depend on the model",
            f"add --model ({', '.join(CUSTOMIZABLE_MODELS)})",
        )
    return _check_training(args, sources, kind, s3)


def _check_kind(args: argparse.Namespace, sources: list[Source], kind: FileKind, s3: Any) -> int:
    """RFT training files and evaluation splits: every record against the rules of its kind."""
    from nova_pipeline.contract.execution_input import parse_execution_input
    from nova_pipeline.core.problems import InputProblemsError

    model = args.model or RFT_MODEL
    if kind is FileKind.RFT:
        try:  # is RFT available for this model? (the execution input's own rule)
            parse_execution_input(
                {
                    "dataset": {"uri": "raw/x.jsonl"},
                    "baseModel": model,
                    "method": "rft",
                    "split": {"train": 0.9, "validation": 0.0, "test": 0.1},
                }
            )
        except InputProblemsError as error:
            return _refuse(str(error), f"RFT trains {RFT_MODEL}: use --model {RFT_MODEL}")
    listed: list[str] = []
    problems: list[str] = []
    records = valid = 0
    for source in sources:
        with open_binary(source, s3) as stream:
            try:
                lines = bounded_lines(stream, source.name, RecordLimit.of_context(model, MODELS[model].context_tokens))
                checked = check_records(source.name, lines, kind, MODELS[model].context_tokens)
            except SourceError as error:
                return _refuse(str(error))
        records, valid = records + checked.records, valid + checked.valid
        listed += checked.problems
    rejected = records - valid
    if kind is FileKind.RFT:
        minimum, maximum = RFT_MIN_TRAIN_RECORDS, MODELS[model].max_train_records
        if valid < minimum:
            problems.append(f"{args.file}: {valid} valid records; {model} rft needs at least {minimum}")
        if valid > maximum:
            problems.append(f"{args.file}: {valid} records; at most {maximum} are accepted")
        what = f"{records:,} records valid for rft of {model}"
    else:
        if not records:
            problems.append(f"{args.file}: no records; evaluation needs at least one")
        what = f"{records:,} records valid as an evaluation split"
    return _report(args.file, what, listed, rejected, problems)


def _check_training(args: argparse.Namespace, sources: list[Source], kind: FileKind, s3: Any) -> int:
    """SFT and distillation files: the training-data engine's per-record rules and the model's count rules."""
    from nova_pipeline.contract.execution_input import parse_execution_input
    from nova_pipeline.core.problems import InputProblemsError
    from nova_pipeline.prepare.engine import check_dataset, normalize
    from nova_pipeline.prepare.records import ConfigurationProblem

    document = {
        "dataset": {"uri": args.file, "format": "jsonl", "sanitize": "reject", "onInvalid": "fail"},
        "baseModel": args.model,
        "method": kind.value,
        "task": args.task,
        "split": {"train": 0.9, "validation": 0.0, "test": 0.1} if args.model == RFT_MODEL else {},
    }
    if kind is FileKind.DISTILLATION:
        document["distillation"] = {"teacherModel": "nova-pro"}
    try:
        run = parse_execution_input(document)
    except InputProblemsError as error:
        return _refuse(str(error))
    with tempfile.TemporaryDirectory(prefix="nova-validate-") as work:
        try:
            normalized = normalize(sources, run, Path(work), s3=s3, progress=_progress, workers=args.workers)
            duplicates, variants = check_dataset(normalized, run, Path(work))
        except (SourceError, ConfigurationProblem) as error:
            return _refuse(str(error))
    stats = normalized.stats
    model = MODELS[args.model]
    problems: list[str] = []
    valid = stats.accepted + stats.duplicates  # copies dropped while reading are valid records too
    if valid < model.min_train_records:
        problems.append(
            f"{args.file}: {valid} valid records; {args.model} {kind.value} needs at least {model.min_train_records}"
        )
    unique = valid - duplicates  # `duplicates` counts the copies dropped while reading too
    if unique > model.max_train_records:
        problems.append(f"{args.file}: {unique} records; at most {model.max_train_records} are accepted")
    for item in variants:
        print(f"warning: {item['warning']}", file=sys.stderr)
    what = f"{stats.records:,} records valid for {kind.value} of {args.model} ({duplicates} exact duplicates)"
    return _report(args.file, what, list(stats.problems), stats.rejected, problems)


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "validate",
        help_text="check a file prepare wrote (SFT, RFT, distillation, evaluation split) without rewriting it",
        description=validate_command.__doc__,
        example="nova-pipeline validate /tmp/prepared/train.jsonl --model nova-micro --method sft",
    )
    parser.add_argument("file", help="JSONL file (local or s3://)")
    parser.add_argument("--model", choices=CUSTOMIZABLE_MODELS, help="needed for SFT and distillation files")
    parser.add_argument(
        "--method",
        choices=[m.value for m in Method],
        help="the kind the file must be (default: told from its first record); a file of another kind is refused",
    )
    parser.add_argument("--task", default="generation", choices=[t.value for t in TaskType])
    workers_flag(parser)
    parser.set_defaults(handler=validate_command)
