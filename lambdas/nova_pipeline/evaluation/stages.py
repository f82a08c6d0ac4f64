"""The evaluation stage of the workflow: PlanEvaluation (batches and pacing), EvaluateBatch (one map item) and
AggregateEvaluation (metrics, cost, verdict, report.json + report.html under `reports/<execution>/`).

Each function takes its clients as parameters; the handlers pass `core.clients.client(...)`.
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

from nova_pipeline.contract.catalog import MODELS, TaskType
from nova_pipeline.contract.events import BatchRequest, BatchResult
from nova_pipeline.contract.execution_input import InferenceConfig, TrafficInput, stage_view
from nova_pipeline.contract.run_state import EvaluationPlan, EvaluationResult, GuardrailRef, RunState, StageOutcome
from nova_pipeline.core import layout
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.evaluation.adaptive import START_REQUESTS_PER_MINUTE, AdaptiveRate, fair_share
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.gate import Thresholds
from nova_pipeline.evaluation.general import (
    BUILTIN_PREFIX,
    builtin_set,
    general_rows,
    general_summary,
    parse_general_set,
)
from nova_pipeline.evaluation.general import KIND as GENERAL
from nova_pipeline.evaluation.predictions import PredictionRow, parse_lines
from nova_pipeline.evaluation.progression import choose, progression, stage_outcome, training_cost
from nova_pipeline.evaluation.report import data_summary, parse_loss_csv, render_html
from nova_pipeline.evaluation.runner import Target, batches, concurrency_for, evaluate_batch, evaluate_rows
from nova_pipeline.evaluation.service import evaluation_report
from nova_pipeline.evaluation.tracking import track_evaluation
from nova_pipeline.promotion.store import read_active

BATCH_ROWS = 10
# A worker's controller lives as long as its item, so items are large: one per worker, up to this many rows. The
# bound keeps an item well inside EvaluateBatch's 15-minute timeout: 50 rows with a baseline and a judge are 150
# requests, 15 minutes at 10 requests/minute for the worker.
MAX_ROWS_PER_ITEM = 50
# Without a ceiling the map runs this many workers, each with up to SLOTS_PER_WORKER requests in flight.
DEFAULT_WORKERS = 10
SLOTS_PER_WORKER = 10
REPORT_URL_SECONDS = 7 * 24 * 3600


def scope(state: RunState) -> str:
    """Where a stage's evaluation and report go: the execution's name, `<execution>/stage-<n>` for later stages."""
    index = state.stage.index
    return state.execution.name if index == 0 else f"{state.execution.name}/stage-{index + 1}"


class EvaluationIncomplete(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """Not every test row was evaluated: no verdict is given on partial results."""


def _read_text(s3: Any, uri: str) -> str:
    bucket, key = split_s3(uri)
    with aws_call("s3", "GetObject"):
        return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))


def _put(s3: Any, bucket: str, key: str, body: str, content_type: str) -> None:
    with aws_call("s3", "PutObject"):
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)


def plan_evaluation(
    state: RunState,
    *,
    data_bucket: str,
    environment: str,
    requests_per_minute: int | None,
    s3: Any,
    ssm: Any,
    start_requests_per_minute: float = START_REQUESTS_PER_MINUTE,
    guardrail: GuardrailRef | None = None,
) -> EvaluationPlan:
    """Write the test split in batches under `evaluation/<execution>/batches/` and size the map; every worker gets
    a fair share of the safe starting rate and of the ceiling `requests_per_minute` (None: no ceiling)."""
    run, data, deployment = state.input, state.data, state.deployment
    assert run is not None and data is not None and deployment is not None and data.test is not None
    text = _read_text(s3, data.test.uri)
    rows = [json.loads(line) for line in text.splitlines() if line.strip()][: run.evaluation.max_rows]
    general = run.evaluation.general
    general_rows = general_rows_for(general.uri, general.max_rows, s3=s3, data_bucket=data_bucket) if general else []
    rows += general_rows
    prefix = layout.evaluation(scope(state))
    wanted = concurrency_for(requests_per_minute) if requests_per_minute else DEFAULT_WORKERS
    size = min(MAX_ROWS_PER_ITEM, max(BATCH_ROWS, math.ceil(len(rows) / wanted)))
    row_batches = batches(rows, size)
    for index, batch in enumerate(row_batches):
        _put(s3, data_bucket, f"{layout.evaluation_batches(scope(state))}batch-{index:05d}.json",
             json.dumps(batch), "application/json")  # fmt: skip
    baseline: str | None = None
    if run.evaluation.baseline == "base-model":
        baseline = MODELS[run.base_model or ""].inference_profile_id
    elif run.evaluation.baseline == "promoted":
        active, _ = read_active(ssm, environment)
        baseline = active.deployment_arn if active else None
    workers = min(wanted, max(1, len(row_batches)))
    start = (
        start_requests_per_minute
        if requests_per_minute is None
        else min(start_requests_per_minute, requests_per_minute)
    )
    return EvaluationPlan(
        bucket=data_bucket,
        prefix=prefix,
        batches_prefix=layout.evaluation_batches(scope(state)),
        rows=len(rows),
        batches=len(row_batches),
        max_concurrency=workers,
        per_worker_requests_per_minute=fair_share(requests_per_minute, workers),
        per_worker_start_requests_per_minute=start / workers,
        slots_per_worker=SLOTS_PER_WORKER,
        requests_per_row=(2 if baseline else 1) + (1 if run.evaluation.judge_model else 0),
        candidate=deployment.deployment_arn,
        baseline=baseline,
        judge_model=run.evaluation.judge_model,
        inference_config=run.evaluation.inference_config,
        guardrail=guardrail,
        general_rows=len(general_rows),
        general_baseline=MODELS[run.base_model or ""].inference_profile_id if general_rows else None,
    )


def general_rows_for(uri: str, max_rows: int, *, s3: Any, data_bucket: str) -> list[dict[str, Any]]:
    """The general set's evaluation rows: the built-in set, or a JSONL object of the data bucket."""
    if uri.startswith(BUILTIN_PREFIX):
        return general_rows(builtin_set(uri.removeprefix(BUILTIN_PREFIX)), max_rows)
    location = uri if uri.startswith("s3://") else f"s3://{data_bucket}/{uri}"
    return general_rows(parse_general_set(_read_text(s3, location), location), max_rows)


def _target(model_id: str, system: str | None, config: InferenceConfig, guardrail: GuardrailRef | None) -> Target:
    return Target(model_id, system, config.max_tokens, config.temperature, config.top_p, guardrail)


def run_batch(request: BatchRequest, *, s3: Any, runtime: Any) -> BatchResult:
    """Candidate (and baseline) answers for one batch at this worker's adaptive rate; predictions as JSON lines."""
    plan, key = request.plan, request.item.key
    rows = json.loads(_read_text(s3, f"s3://{plan.bucket}/{key}"))
    pacer = AdaptiveRate(plan.per_worker_start_requests_per_minute, ceiling=plan.per_worker_requests_per_minute)

    def evaluate(row: dict[str, Any]) -> tuple[list[PredictionRow], list[PredictionRow]]:
        system = row.get("system")  # each row carries its own system prompt (templates are filled per record)
        # A general-set row is asked as it is (no task prompt), of the candidate and of the base model.
        baseline_model = plan.general_baseline if row.get("kind") == GENERAL else plan.baseline
        return evaluate_batch(
            runtime,
            [row],
            candidate=_target(plan.candidate, system, plan.inference_config, plan.guardrail),
            baseline=_target(baseline_model, system, plan.inference_config, plan.guardrail) if baseline_model else None,
            pacer=pacer,
            seed=zlib.crc32(str(row.get("id", "")).encode()),
            judge_model=plan.judge_model,
        )

    candidate_rows, baseline_rows = evaluate_rows(rows, slots=plan.slots_per_worker, evaluate=evaluate)
    name = key.rsplit("/", 1)[-1].replace(".json", ".jsonl")
    for kind, predictions in (("candidate", candidate_rows), ("baseline", baseline_rows)):
        if predictions:
            body = "".join(row.model_dump_json(by_alias=True, exclude_none=True) + "\n" for row in predictions)
            _put(s3, plan.bucket, f"{plan.prefix}predictions/{kind}/{name}", body, "application/x-ndjson")
    errors = sum(1 for row in candidate_rows + baseline_rows if row.error)
    return BatchResult(batch=key, rows=len(rows), errors=errors)


def _predictions(s3: Any, bucket: str, prefix: str) -> list[PredictionRow]:
    keys = sorted(
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    )
    lines: list[str] = []
    for key in keys:
        lines += _read_text(s3, f"s3://{bucket}/{key}").splitlines()
    return parse_lines(lines, prefix) if lines else []


def _loss_curves(state: RunState, s3: Any) -> dict[str, list[tuple[float, float]]]:
    """The loss CSVs a Bedrock job writes under its output prefix (SageMaker jobs write none there)."""
    job = state.job
    if job is None or not job.output_uri or job.platform != "bedrock":
        return {}
    bucket, prefix = split_s3(job.output_uri)
    job_id = job.job_arn.rsplit("/", 1)[-1]
    curves: dict[str, list[tuple[float, float]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if job_id in key and key.endswith(".csv"):
                kind = "validation" if "valid" in key.rsplit("/", 1)[-1] else "training"
                curves[kind] = parse_loss_csv(_read_text(s3, f"s3://{bucket}/{key}"), kind)
    return curves


def _data_summary(state: RunState, s3: Any) -> dict[str, Any] | None:
    """What preparation read, dropped and fixed: its manifest.json, summarized."""
    if state.data is None:
        return None
    return data_summary(json.loads(_read_text(s3, state.data.manifest_uri)), state.data.manifest_uri)


def _training(state: RunState, curves: dict[str, list[tuple[float, float]]]) -> dict[str, Any] | None:
    """The final training loss: the job's own figure (the run output's `job.trainingLoss`), else the curve's last
    point; both are shown when they disagree."""
    reported = state.job.training_loss if state.job else None
    last = curves["training"][-1][1] if curves.get("training") else None
    if reported is None and last is None:
        return None
    if reported is None:
        return {"finalTrainingLoss": last, "source": "the last point of the training loss curve"}
    training: dict[str, Any] = {
        "finalTrainingLoss": reported,
        "source": "reported by the job (trainingMetrics.trainingLoss), the run output's job.trainingLoss",
    }
    if last is not None and abs(last - reported) > 1e-9:
        training["curveLastPoint"] = last
    return training


def _prompting(run: Any) -> str:
    config = run.evaluation.inference_config
    return (
        "each test row's own system prompt and user turn, the same as the candidate's, through ConverseStream with "
        f"maxTokens {config.max_tokens}, temperature {config.temperature:g}, topP {config.top_p:g}"
    )


def aggregate_evaluation(
    state: RunState,
    plan: EvaluationPlan,
    *,
    data_bucket: str,
    environment: str,
    gate_defaults: dict[str, float | None],
    simulated: bool,
    s3: Any,
    ssm: Any,
    tracking_arn: str | None = None,
    artifact_store_uri: str | None = None,
    credentials: Any = None,
) -> EvaluationResult:
    """Metrics, cost and verdict over every prediction; refuses partial results (`EvaluationIncomplete`). With
    `tracking_arn` the stage is also logged to that MLflow server or app (`evaluation.tracking`)."""
    run = state.input
    assert run is not None
    candidate = _predictions(s3, plan.bucket, f"{plan.prefix}predictions/candidate/")
    if len(candidate) != plan.rows:
        raise EvaluationIncomplete(
            f"{len(candidate)} of {plan.rows} test rows have predictions: a batch of the evaluation map failed "
            "(see the EvaluateBatches map run)"
        )
    baseline = _predictions(s3, plan.bucket, f"{plan.prefix}predictions/baseline/")
    general = general_summary(
        [row for row in candidate if row.kind == GENERAL],
        [row for row in baseline if row.kind == GENERAL],
        uri=run.evaluation.general.uri if run.evaluation.general else None,
        base_model=plan.general_baseline,
    )
    candidate = [row for row in candidate if row.kind != GENERAL]
    baseline = [row for row in baseline if row.kind != GENERAL]
    active, active_version = read_active(ssm, environment)
    baseline_is_promoted = run.evaluation.baseline == "promoted" and bool(baseline)
    promoted_primary = active.metrics.candidate if active and active.metrics and not baseline_is_promoted else None
    gate_overrides = {name: getattr(run.gate, name) for name in Thresholds.__dataclass_fields__}
    traffic = run.evaluation.traffic
    curves = _loss_curves(state, s3)
    kind = run.evaluation.baseline
    report = evaluation_report(
        candidate_rows=candidate,
        baseline_rows=baseline or None,
        task=TaskType(run.task),
        model=run.base_model or "",
        prices=load_prices(),
        thresholds=Thresholds.merged(gate_defaults, gate_overrides),
        traffic={
            "queriesPerMonth": traffic.queries_per_month,
            "inputTokens": traffic.input_tokens,
            "outputTokens": traffic.output_tokens,
        },
        promoted_primary=promoted_primary,
        baseline_is_promoted=baseline_is_promoted,
        run={
            "execution": state.execution.arn,
            "environment": environment,
            "baseModel": run.base_model,
            "method": (run.stages[state.stage.index].method if run.stages else run.method).value,
            **({"stage": state.stage.index + 1, "stages": len(run.stages)} if run.stages else {}),
            "platform": run.platform.value,
            "deployment": state.deployment.deployment_arn if state.deployment else None,
            "baselineModel": plan.baseline,
            # The cost guard's estimate before the job (CheckBudget), next to the measured figures below.
            "estimatedTrainingUsd": state.estimate.training_usd if state.estimate else None,
            "estimatedEvaluationUsd": state.estimate.evaluation_usd if state.estimate else None,
        },
        loss_curves=curves,
        simulated=simulated,
        judge_model=run.evaluation.judge_model,
        guardrail=plan.guardrail.model_dump(by_alias=True) if plan.guardrail else None,
        general=general,
        data_mixing=run.data_mixing.model_dump(
            by_alias=True, include={"customer_data_percent", "nova_data_percent", "base_model_arn"}
        )
        if run.data_mixing
        else None,
        baseline_info={
            "kind": kind,
            "model": plan.baseline,
            "prompting": _prompting(run),
            "note": {
                "none": "evaluation.baseline is none",
                "promoted": "no model was promoted yet to compare with",
            }.get(kind, "the baseline gave no predictions"),
        },
        traffic_source=(
            "the default traffic (evaluation.traffic of the execution input left at its defaults)"
            if traffic == TrafficInput()
            else "the execution input's evaluation.traffic"
        ),
        data_summary=_data_summary(state, s3),
        training=_training(state, curves),
        estimate=state.estimate.dump() if state.estimate else None,
    )
    # sagemaker.evaluationRecipes: the Nova evaluation jobs' metrics on the checkpoint (reported, not gated).
    report["sagemakerEvaluation"] = state.sagemaker_evaluation.report() if state.sagemaker_evaluation else None
    key = layout.report(scope(state))
    outcomes, chosen = _stage_outcomes(state, report, f"s3://{data_bucket}/{key}report.json", active_version or 0)
    if outcomes:
        baseline_metrics = report["baseline"]
        measured = report["run"].get("measuredCostPer1kRequests")
        report["stages"] = progression(outcomes, baseline_metrics, chosen, measured)
    report_json, report_html = json.dumps(report, indent=2), render_html(report)
    _put(s3, data_bucket, key + "report.json", report_json, "application/json")
    _put(s3, data_bucket, key + "report.html", report_html, "text/html; charset=utf-8")
    tracking = None
    if tracking_arn:
        tracking = track_evaluation(
            state,
            report,
            tracking_arn=tracking_arn,
            environment=environment,
            report_uris={name: f"s3://{data_bucket}/{key}{name}" for name in ("report.json", "report.html")},
            report_bodies={"report.json": report_json.encode(), "report.html": report_html.encode()},
            artifact_store_uri=artifact_store_uri,
            s3=s3,
            credentials=credentials,
            simulated=simulated,
            chosen=chosen,
        )
    with aws_call("s3", "GeneratePresignedUrl"):
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": data_bucket, "Key": key + "report.html"}, ExpiresIn=REPORT_URL_SECONDS
        )
    result = EvaluationResult(
        verdict=report["gate"]["verdict"],
        failed=report["gate"]["failed"],
        primary_metric=report["primaryMetric"],
        candidate=report["candidate"]["primary"],
        baseline=report["baseline"]["primary"] if report["baseline"] else None,
        error_rate=report["candidate"]["errorRate"],
        monthly_cost=report["cost"]["totalMonthly"],
        report_uri=f"s3://{data_bucket}/{key}report.json",
        report_html_uri=f"s3://{data_bucket}/{key}report.html",
        report_url=url,
        active_version=active_version or 0,
        simulated=simulated,
        stages=outcomes,
        chosen=chosen,
        tracking=tracking,
    )
    if chosen is None:
        return result
    # The gate acts on the chosen stage (its deployment replaces $.deployment in UseChosenStage).
    return result.model_copy(
        update={
            "verdict": chosen.verdict,
            "failed": chosen.failed,
            "candidate": chosen.primary,
            "error_rate": chosen.error_rate,
            # Promote claims the version the chosen stage was compared with, not the one the last stage read.
            "active_version": chosen.active_version,
        }
    )


def _stage_outcomes(
    state: RunState, report: dict[str, Any], report_uri: str, active_version: int
) -> tuple[list[StageOutcome], StageOutcome | None]:
    """Multi-stage runs: the stages evaluated so far (this one appended) and, after the last, the chosen one."""
    run, deployment = state.input, state.deployment
    assert run is not None
    if len(run.stages) < 2 or deployment is None:
        return [], None
    index = state.stage.index
    earlier = state.evaluation.stages if state.evaluation is not None and index > 0 else []
    estimates = state.estimate.stages if state.estimate is not None else []
    estimate = next((e for e in estimates if e.index == index), None)
    cost = training_cost(state.job, stage_view(run, index), estimate, load_prices())
    outcome = stage_outcome(
        index=index,
        method=run.stages[index].method.value,
        job=state.job,
        model_arn=deployment.model_arn,
        deployment_arn=deployment.deployment_arn,
        deployment_name=deployment.deployment_name,
        report=report,
        report_uri=report_uri,
        cost=cost,
    ).model_copy(update={"active_version": active_version})
    outcomes = [*earlier, outcome]
    last = index == len(run.stages) - 1
    return outcomes, choose(outcomes) if last else None
