"""`nova-pipeline prepare` and `nova-pipeline validate`: the data preparation engine from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, read_json
from nova_pipeline.contract.catalog import CUSTOMIZABLE_MODELS, Method, TaskType
from nova_pipeline.contract.execution_input import ExecutionInput, parse_execution_input
from nova_pipeline.prepare.engine import InvalidDataset, prepare
from nova_pipeline.prepare.sources import OutputLocation, SourceError, list_sources


def _s3_client(*uris: str) -> Any:
    if any(uri.startswith("s3://") for uri in uris):
        import boto3

        return boto3.client("s3")
    return None


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def _dataset_flags(args: argparse.Namespace, document: dict[str, Any]) -> dict[str, Any]:
    dataset = dict(document.get("dataset", {}))
    dataset["uri"] = args.input or config_input(args.config, dataset.get("uri"))
    columns = dict(dataset.get("columns", {}))
    for flag, key in (
        ("question_column", "question"),
        ("answer_column", "answer"),
        ("label_column", "label"),
        ("context_column", "context"),
        ("system_column", "system"),
    ):
        if getattr(args, flag):
            columns[key] = getattr(args, flag)
    dataset["columns"] = columns
    for flag, key in (
        ("format", "format"),
        ("delimiter", "delimiter"),
        ("sanitize", "sanitize"),
        ("label_variants", "labelVariants"),
    ):
        if getattr(args, flag):
            dataset[key] = getattr(args, flag)
    if args.skip_invalid:
        dataset["onInvalid"] = "skip"
    return dataset


def config_input(config: str | None, uri: object) -> str:
    """The input the configuration names in `dataset.uri`: an s3:// URI, or a local file or folder (relative to the
    configuration's folder, else to the working directory). A key of the data bucket (`raw/...`) cannot be found
    from here: InputProblem."""
    if not config:
        raise InputProblem("give --input PATH_OR_S3, or --config FILE whose dataset.uri names the input")
    if not isinstance(uri, str) or not uri:
        raise InputProblem(f"{config}: dataset.uri is not set; give --input PATH_OR_S3")
    if uri.startswith("s3://"):
        return uri
    for base in (Path(config).resolve().parent, Path.cwd()):
        if (base / uri).exists():
            return str(base / uri)
    raise InputProblem(
        f"{config}: dataset.uri {uri!r} is neither a local file or folder nor an s3:// URI (a key under raw/ is "
        "relative to the data bucket, which prepare does not know)",
        "give --input PATH_OR_S3, or set dataset.uri to a local path or s3://bucket/key",
    )


class InputProblem(Exception):  # noqa: N818 - a problem with the command's input: exit 2 with a hint
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def build_run(args: argparse.Namespace) -> ExecutionInput:
    """An execution input from --config (if any) with the command-line flags on top."""
    document: dict[str, Any] = read_json(args.config) if args.config else {}
    document["dataset"] = _dataset_flags(args, document)
    prompt = dict(document.get("prompt", {}))
    if args.system_prompt_file:
        prompt["system"] = Path(args.system_prompt_file).read_text(encoding="utf-8").strip()
    elif args.system_prompt:
        prompt["system"] = args.system_prompt
    if args.user_template:
        prompt["userTemplate"] = args.user_template
    document["prompt"] = prompt
    for flag, key in (("method", "method"), ("model", "baseModel"), ("task", "task")):
        if getattr(args, flag):
            document[key] = getattr(args, flag)
    split = dict(document.get("split", {}))
    if args.split:
        train, validation, test = (float(part) for part in args.split.split(","))
        split.update({"train": train, "validation": validation, "test": test})
    if args.seed is not None:
        split["seed"] = args.seed
    if args.max_train is not None:
        split["maxTrain"] = args.max_train
    document["split"] = split
    return parse_execution_input(document)


def prepare_command(args: argparse.Namespace) -> int:
    """Validate, sanitize and split a dataset into Nova training files, a test split and manifest.json."""
    from nova_pipeline.core.problems import InputProblemsError

    try:
        run = build_run(args)
    except InputProblemsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except InputProblem as error:
        print(f"error: {error}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return EXIT_INVALID
    s3 = _s3_client(run.dataset.uri, args.output_dir)
    try:
        sources = list_sources(run.dataset.uri, s3)
        output = OutputLocation(args.output_dir, s3)
        result = prepare(sources, run, output, s3=s3, progress=_progress, workers=args.workers)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except InvalidDataset as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    records = result.manifest["records"]
    print(
        f"prepared {records['accepted']:,} of {records['read']:,} records for {run.method.value} of "
        f"{run.base_model} into {result.prefix}"
    )
    for name, split in result.splits.items():
        print(f"  {name + '.jsonl':<17} {split.records:>8,} records")
    print(
        f"  duplicates dropped {records['duplicatesDropped']:,}, rejected {records['rejected']:,}, "
        f"capped {records['cappedFromTrain']:,}; fixes {result.manifest['fixes'] or 'none'}"
    )
    for problem in result.stats.problems:
        print(f"  skipped: {problem}")
    for entry in result.manifest["skipped"]["first"]:
        print(f"  not read: {entry['name']} ({entry['reason']})")
    for item in result.manifest.get("labelVariants", []):
        print(f"warning: {item['warning']} (or stop on them: --label-variants fail)", file=sys.stderr)
    print(f"  manifest: {result.manifest_uri}")
    return EXIT_OK


def workers_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes reading the input (default: one per CPU for inputs of 16 MiB or more; 1 reads in this process)",
    )


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "prepare",
        help_text="validate, sanitize and split a dataset into Nova training files (local or s3)",
        description=prepare_command.__doc__,
        example="nova-pipeline prepare --input examples/data/text-to-sql/ --output-dir /tmp/prepared "
        "--config examples/sft-text-to-sql-nova-micro.json",
    )
    parser.add_argument(
        "--input",
        metavar="PATH_OR_S3",
        help="file, directory, s3://bucket/key or prefix/ (default: dataset.uri of --config, a local path or s3://)",
    )
    parser.add_argument("--output-dir", required=True, metavar="DIR_OR_S3", help="where the outputs are written")
    parser.add_argument("--config", metavar="FILE", help="an execution input JSON: the same settings as in AWS")
    parser.add_argument("--format", choices=("auto", "csv", "json", "jsonl"))
    parser.add_argument("--delimiter", help="CSV delimiter (default ,)")
    parser.add_argument("--question-column")
    parser.add_argument("--answer-column")
    parser.add_argument("--label-column", help="classification label column (default: the answer column)")
    parser.add_argument("--context-column", help="text-to-SQL schema column (CREATE TABLE statements)")
    parser.add_argument("--system-column", help="per-record system prompt column")
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--system-prompt", metavar="TEXT", help="system prompt template with {column} placeholders")
    prompt.add_argument("--system-prompt-file", metavar="F")
    parser.add_argument("--user-template", metavar="T", help="user turn template, default {question}")
    parser.add_argument("--method", choices=[m.value for m in Method])
    parser.add_argument("--model", choices=CUSTOMIZABLE_MODELS)
    parser.add_argument("--task", choices=[t.value for t in TaskType])
    parser.add_argument("--split", metavar="TRAIN,VAL,TEST", help="ratios, e.g. 0.8,0.1,0.1")
    parser.add_argument("--seed", type=int, help="key of the split hash")
    parser.add_argument("--max-train", type=int, help="cap on training records (deterministic sample)")
    parser.add_argument("--sanitize", choices=("fix", "reject"))
    parser.add_argument("--skip-invalid", action="store_true", help="drop invalid records and report them")
    parser.add_argument(
        "--label-variants",
        choices=("warn", "fail"),
        help="labels differing only by case/whitespace/punctuation: warn (default) or fail",
    )
    workers_flag(parser)
    parser.set_defaults(handler=prepare_command)
