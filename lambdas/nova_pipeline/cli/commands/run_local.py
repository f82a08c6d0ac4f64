"""`nova-pipeline run-local`: run the synthesized state machine offline against simulated AWS."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, read_json


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_local(args: argparse.Namespace) -> int:
    """Run one execution input end to end offline (moto + the local Bedrock simulator) and print the trace. What
    the run wrote (prepared splits, manifest, predictions, report, requests, logs) is kept in
    .build/twin-runs/<execution>/; a model the run promotes is the one `serve-local` serves next."""
    from nova_pipeline.local.runs import RUNS_DIR, execution_name, failure_summary, function_logs, keep_run

    problems = flag_problems(args)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_INVALID
    from nova_pipeline.local.simulator import SimulatorSettings
    from nova_pipeline.local.twin import OfflineTwin, TwinOptions, format_trace

    execution_input = read_json(args.input)
    name = args.name or execution_name()
    folder = RUNS_DIR / name
    options = TwinOptions(
        environment=args.env,
        fail_at=args.fail_at,
        simulator=SimulatorSettings(
            job_seconds=args.job_seconds,
            deployment_seconds=args.deployment_seconds,
            fail_job=args.fail_job,
            fail_deployment=args.fail_deployment,
            throttle_first_calls=args.throttle_first_calls,
            throttle_rate=args.throttle,
        ),
        log_level="INFO",
        progress=_progress,
        approval=args.approval,
    )
    with OfflineTwin(options) as twin:
        uploaded = twin.upload_example_data()
        _progress(f"uploaded {len(uploaded)} example file(s) to s3://{twin.data_bucket}/raw/ (simulated)")
        given = execution_input.get("dataset", {}).get("uri") if isinstance(execution_input, dict) else None
        execution_input = twin.upload_local_dataset(execution_input, Path(args.input).resolve().parent)
        if execution_input.get("dataset", {}).get("uri") != given:
            uri = execution_input["dataset"]["uri"]
            _progress(f"uploaded the local dataset {given} to s3://{twin.data_bucket}/{uri} (simulated)")
        _progress(f"running execution {name} ...")
        with function_logs(folder / "logs.jsonl", echo=args.verbose):
            result = twin.run(execution_input, name=name)
        keep_run(twin, result, execution_input, folder)
    report = folder / "report.html"
    failure = None if result.status == "SUCCEEDED" else failure_summary(result, folder)
    print(format_trace(result, report if report.is_file() else None, failure))
    print(f"run folder: {_shown(folder)} (prepared data, predictions, report, requests.jsonl, logs.jsonl)")
    if args.output_json:
        _write_json(
            args.output_json,
            {"status": result.status, "output": result.output, "error": result.error, "cause": result.cause},
        )
    return EXIT_OK if result.status == "SUCCEEDED" else EXIT_INVALID


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter to read and to copy)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


REPO_ROOT = Path(__file__).resolve().parents[4]  # the app run-local synthesizes, and its cdk.json
# StartExecution's `name`: 1-80 characters, ASCII letters, digits, hyphens and underscores (Step Functions API
# reference, StartExecution; botocore's stepfunctions model: Name, min 1, max 80).
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_THROTTLE = 0.5


def flag_problems(args: argparse.Namespace) -> list[str]:
    """One line per flag that would do nothing, or that AWS would refuse, checked before anything is synthesized."""
    if str(REPO_ROOT) not in sys.path:  # stacks/ and stepfunctions/, as the twin's synthesis imports them
        sys.path.insert(0, str(REPO_ROOT))
    problems = []
    environments = _environments()
    if args.env not in environments:
        problems.append(
            f"--env {args.env}: not an environment of cdk.json; the environments are {', '.join(environments)}"
        )
    if args.name is not None and not EXECUTION_NAME.match(args.name):
        problems.append(
            f"--name {args.name!r}: an execution name is 1-80 characters, letters, digits, '-' and '_' "
            "(Step Functions refuses anything else)"
        )
    if args.fail_at is not None and args.fail_at not in (states := task_states()):
        problems.append(
            f"--fail-at {args.fail_at}: no Task state of that name; the task states are {', '.join(states)}"
        )
    for flag, value in (("--job-seconds", args.job_seconds), ("--deployment-seconds", args.deployment_seconds)):
        if not (math.isfinite(value) and value >= 0):
            problems.append(f"{flag} {value}: give a number of seconds, 0 or more")
    if not (math.isfinite(args.throttle) and 0 <= args.throttle <= MAX_THROTTLE):
        problems.append(f"--throttle {args.throttle}: give a share of calls from 0 to {MAX_THROTTLE}")
    return problems


def _environments() -> list[str]:
    from stacks.config import CONTEXT_KEY

    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return sorted(context.get(CONTEXT_KEY, {}))


def task_states() -> list[str]:
    """The Task states of the state machine, those inside maps included (each invokes one function)."""
    from stepfunctions.workflow import definition

    def names(document: dict[str, Any]) -> list[str]:
        found = []
        for name, state in document.get("States", {}).items():
            found += [name] if state.get("Type") == "Task" else []
            for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
                found += names(nested) if nested else []
        return found

    return names(definition())


def _write_json(path: str, document: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "run-local",
        help_text="run the state machine offline against simulated AWS (no account needed)",
        description=run_local.__doc__,
        example="nova-pipeline run-local --input examples/sft-text-to-sql-nova-micro.json",
    )
    parser.add_argument("--input", required=True, help="execution input JSON file")
    parser.add_argument("--env", default="dev", help="environment of cdk.json to synthesize (default dev)")
    parser.add_argument(
        "--name", help="execution name: 1-80 letters, digits, '-' and '_' (default: local-<time>-<random>)"
    )
    parser.add_argument(
        "--approval",
        choices=("approve", "reject"),
        default="approve",
        help="the decision the twin sends when the run waits for an approval (default approve)",
    )
    parser.add_argument(
        "--fail-at", metavar="STATE", help="make the function of this task state fail (e.g. CreateDeployment)"
    )
    parser.add_argument("--fail-job", metavar="MESSAGE", help="the simulated customization/training job ends Failed")
    parser.add_argument("--fail-deployment", metavar="MESSAGE", help="the simulated deployment ends Failed")
    parser.add_argument(
        "--throttle",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of simulated Bedrock calls answered with ThrottlingException (0-0.5)",
    )
    parser.add_argument(
        "--throttle-first-calls", action="store_true", help="throttle the first call of every simulated operation"
    )
    parser.add_argument("--job-seconds", type=float, default=1.0, help="simulated training time (default 1 s)")
    parser.add_argument("--deployment-seconds", type=float, default=0.5, help="simulated deployment time")
    parser.add_argument("--output-json", metavar="FILE", help="also write status/output/error to FILE")
    parser.add_argument(
        "--verbose", action="store_true", help="show the functions' logs here too (they always go to logs.jsonl)"
    )
    parser.set_defaults(handler=run_local)
