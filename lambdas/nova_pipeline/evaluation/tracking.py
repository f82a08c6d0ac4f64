"""Experiment tracking: each evaluated stage's parameters, figures, verdict and report go to the environment's
SageMaker managed MLflow tracking server or app (`mlflowTrackingArn`), into the experiment and run its SageMaker
training jobs log to (`jobs.training.mlflow_config`), so one execution is one MLflow run whatever the platform.

- Experiment `nova-<env>-<runName>`, found or created; run named after the execution, found (a SageMaker training
  job created it) or created (Bedrock runs, and SageMaker runs whose server has not seen the job yet).
- Stages of a multi-stage run share the run: each stage's figures are logged with `step` = the stage's 0-based
  index (MLflow charts a metric over its steps), its parameters and tags under `nova.stage<n>.` (a parameter's
  value cannot change once logged); one-stage runs log at step 0 without the prefix.
- Keys: metrics `eval.<section>.<figure>` (`eval.candidate.accuracy`, `eval.candidate.perClass.<label>.f1`,
  `eval.general.regression`, `eval.cost.totalMonthly`, `eval.gate.passed`, `eval.training.seconds`, ...),
  parameters and tags `nova.*` (so nothing collides with what a training job logs).
- The report: `report.json` and `report.html` are uploaded as run artifacts under `report/` (`report/stage-<n>/` in
  multi-stage runs) when the environment names the server's artifact store (`mlflowArtifactStoreUri`, the only S3
  location the function may write outside its own buckets) and the run's `artifact_uri` lies in it; the run's tags
  always carry the reports' S3 locations.

Tracking never fails an execution: `track_evaluation` turns any error into `{"status": "failed", "reason": ...}`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

from nova_pipeline.contract.run_state import RunState, StageOutcome, TrackingOutcome
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.mlflow import MlflowClient, MlflowTarget
from nova_pipeline.core.observability import logger
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.jobs.training import mlflow_config

# The report's sections whose numbers become metrics (lists, such as wrong answers and latencies, are left out).
METRIC_SECTIONS = ("candidate", "baseline", "general", "cost", "measuredCost", "evaluationCost", "training")
# MLflow's key rules (mlflow/utils/validation.py): letters, digits, `_ - . / space`, at most 250 characters.
_KEY = re.compile(r"[^\w.\- ]")
MAX_KEY, MAX_PARAM_VALUE, MAX_TAG_VALUE = 250, 6000, 5000
ARTIFACT_FILES = (("report.json", "application/json"), ("report.html", "text/html; charset=utf-8"))


def key(*parts: str) -> str:
    """An MLflow metric, parameter or tag key from its parts: other characters become `_` (slashes too, so a key
    never reads as a path)."""
    return _KEY.sub("_", ".".join(parts)).replace("..", "._")[:MAX_KEY]


def _numbers(prefix: str, value: Any, found: dict[str, float]) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            _numbers(f"{prefix}.{name}", item, found)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        found[key(prefix)] = float(value)


def report_metrics(report: Mapping[str, Any], training_seconds: float | None = None) -> dict[str, float]:
    """Every figure of the report by key: both models' metrics (per class too), the general set, the costs, the
    final training loss, the job's duration and the gate (`eval.gate.passed`: 1 promoted, 0 rejected)."""
    found: dict[str, float] = {}
    for section in METRIC_SECTIONS:
        _numbers(f"eval.{section}", report.get(section), found)
    if training_seconds is not None:
        found[key("eval.training.seconds")] = float(training_seconds)
    verdict = (report.get("gate") or {}).get("verdict")
    if verdict in ("promoted", "rejected"):
        found["eval.gate.passed"] = 1.0 if verdict == "promoted" else 0.0
    return found


def stage_prefix(state: RunState) -> str:
    """`nova.` for a one-stage run, `nova.stage<n>.` (1-based) for a stage of a multi-stage run."""
    run = state.input
    return f"nova.stage{state.stage.index + 1}." if run is not None and run.stages else "nova."


def run_params(state: RunState, environment: str) -> dict[str, str]:
    """What the run was: shared settings under `nova.`, the stage's method and hyperparameters under its prefix."""
    run = state.input
    assert run is not None
    stage = run.stages[state.stage.index] if run.stages else None
    prefix = stage_prefix(state)
    params = {
        "nova.environment": environment,
        "nova.task": run.task.value,
        "nova.baseModel": run.base_model or "",
        "nova.platform": run.platform.value,
        "nova.evaluation.baseline": run.evaluation.baseline,
        "nova.evaluation.maxRows": str(run.evaluation.max_rows),
        f"{prefix}method": (stage.method if stage else run.method).value,
    }
    if run.stages:
        params["nova.stages"] = str(len(run.stages))
    hyperparameters = stage.hyperparameters if stage else run.hyperparameters
    for name, value in sorted(hyperparameters.items()):
        params[key(f"{prefix}hyperparameters", name)] = str(value)
    return {key(name): value[:MAX_PARAM_VALUE] for name, value in params.items()}


def run_tags(
    state: RunState,
    report: Mapping[str, Any],
    report_uris: Mapping[str, str],
    simulated: bool,
    chosen: StageOutcome | None = None,
) -> dict[str, str]:
    """The execution and its verdict (after the last stage of a multi-stage run: the chosen stage's, which the gate
    acts on, and `nova.chosenStage`), the reports' S3 locations; a stage's own under its prefix."""
    prefix = stage_prefix(state)
    verdict = chosen.verdict if chosen is not None else str(report["gate"]["verdict"])
    tags = {"nova.execution": state.execution.arn, "nova.verdict": verdict}
    if chosen is not None:
        tags["nova.chosenStage"] = str(chosen.index + 1)
    for name, uri in report_uris.items():
        tags[f"nova.{name}"] = uri  # the latest stage's report
        if prefix != "nova.":
            tags[f"{prefix}{name}"] = uri
    if prefix != "nova.":
        tags[f"{prefix}verdict"] = str(report["gate"]["verdict"])
    if simulated:
        tags["nova.simulated"] = "true"
    return {key(name): value[:MAX_TAG_VALUE] for name, value in tags.items()}


def _artifact_location(run_info: Mapping[str, Any], artifact_store_uri: str | None) -> tuple[str | None, str | None]:
    """(S3 prefix of the run's artifacts, None) when the function may write there, else (None, why not)."""
    artifact_uri = str(run_info.get("artifact_uri") or "")
    if not artifact_store_uri:
        return None, "mlflowArtifactStoreUri is not configured: the run's tags carry the reports' S3 locations"
    store = artifact_store_uri.rstrip("/") + "/"
    if not artifact_uri.startswith(store):
        return None, f"the run's artifact location {artifact_uri or '(none)'} is outside mlflowArtifactStoreUri {store}"
    return artifact_uri.rstrip("/") + "/", None


def log_evaluation(
    state: RunState,
    report: Mapping[str, Any],
    *,
    client: MlflowClient,
    environment: str,
    report_uris: Mapping[str, str],
    report_bodies: Mapping[str, bytes],
    artifact_store_uri: str | None,
    s3: Any,
    simulated: bool = False,
    chosen: StageOutcome | None = None,
    now_ms: int | None = None,
) -> TrackingOutcome:
    """Log one evaluated stage to the execution's MLflow run (raises on any error; see `track_evaluation`).

    `report_uris` and `report_bodies`: the stage's reports by file name (`report.json`, `report.html`)."""
    run = state.input
    assert run is not None
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    names = mlflow_config(client.target.arn, environment, run, state.execution)
    experiment, run_name = names["MlflowExperimentName"], names["MlflowRunName"]
    experiment_id = client.experiment_id(experiment)
    found = client.find_run(experiment_id, run_name)
    created = found is None
    if found is None:
        info = client.create_run(experiment_id, run_name, now_ms, {"nova.createdBy": "nova-pipeline"})["info"]
    else:
        info = found["info"]
    run_id = str(info["run_id"])
    training_seconds = state.job.training_seconds if state.job else None
    metrics = [
        {"key": name, "value": value, "timestamp": now_ms, "step": state.stage.index}
        for name, value in report_metrics(report, training_seconds).items()
    ]
    params = run_params(state, environment)
    client.log_batch(run_id, metrics, params, run_tags(state, report, report_uris, simulated, chosen))
    location, skipped = _artifact_location(info, artifact_store_uri)
    artifacts: list[str] = []
    if location is not None:
        folder = f"report/stage-{state.stage.index + 1}/" if run.stages else "report/"
        for name, content_type in ARTIFACT_FILES:
            body = report_bodies.get(name)
            if body is None:
                continue
            target_bucket, target_key = split_s3(location + folder + name)
            with aws_call("s3", "PutObject"):
                s3.put_object(Bucket=target_bucket, Key=target_key, Body=body, ContentType=content_type)
            artifacts.append(f"s3://{target_bucket}/{target_key}")
    # A run the pipeline created ends with its last logged stage; a training job's run is the job's to end.
    tags = (found or {}).get("data", {}).get("tags", [])
    if created or any(tag.get("key") == "nova.createdBy" for tag in tags):
        client.finish_run(run_id, now_ms)
    return TrackingOutcome(
        status="logged",
        tracking_arn=client.target.arn,
        experiment=experiment,
        experiment_id=experiment_id,
        run_name=run_name,
        run_id=run_id,
        run_created=created,
        step=state.stage.index,
        metrics=len(metrics),
        params=len(params),
        artifacts=artifacts,
        artifacts_skipped=skipped,
    )


def track_evaluation(
    state: RunState,
    report: Mapping[str, Any],
    *,
    tracking_arn: str,
    environment: str,
    report_uris: Mapping[str, str],
    report_bodies: Mapping[str, bytes],
    artifact_store_uri: str | None,
    s3: Any,
    credentials: Any = None,
    simulated: bool = False,
    chosen: StageOutcome | None = None,
) -> TrackingOutcome:
    """`log_evaluation`, or `status: failed` with the reason when MLflow (or the artifact store) cannot be reached
    or refuses: experiment tracking is a record, never a reason to fail or hold back a run."""
    try:
        if credentials is None:  # the function's own (its role's), as boto3 finds them
            import boto3

            credentials = boto3.Session().get_credentials()
        client = MlflowClient(MlflowTarget.from_arn(tracking_arn), credentials)
        return log_evaluation(
            state,
            report,
            client=client,
            environment=environment,
            report_uris=report_uris,
            report_bodies=report_bodies,
            artifact_store_uri=artifact_store_uri,
            s3=s3,
            simulated=simulated,
            chosen=chosen,
        )
    except Exception as error:  # any failure of tracking is reported, none fails the run
        reason = f"{type(error).__name__}: {error}"
        logger.warning("MLflow tracking failed; the run goes on without it", extra={"reason": reason})
        return TrackingOutcome(status="failed", tracking_arn=tracking_arn, reason=reason[:1000])
