"""Evaluate stage: PlanEvaluation (batches + concurrency), EvaluateBatch (one Distributed Map item) and
AggregateEvaluation (metrics, cost, gate verdict, report.json + report.html under reports/<execution>/).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.catalog import MODELS, TaskType
from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core import layout
from nova_pipeline.core.clients import client
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.gate import Thresholds
from nova_pipeline.evaluation.predictions import parse_lines
from nova_pipeline.evaluation.report import parse_loss_csv, render_html
from nova_pipeline.evaluation.runner import Pacer, Target, batches, concurrency_for, evaluate_batch
from nova_pipeline.evaluation.service import evaluation_report
from nova_pipeline.promotion.store import read_active

BATCH_ROWS = 10


class EvaluationIncomplete(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """Not every test row was evaluated: no verdict is given on partial results."""


REPORT_URL_SECONDS = 7 * 24 * 3600


def _read_text(uri: str) -> str:
    bucket, key = split_s3(uri)
    with aws_call("s3", "GetObject"):
        return str(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))


def _put(bucket: str, key: str, body: str, content_type: str) -> None:
    with aws_call("s3", "PutObject"):
        client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def plan_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    state = RunState.model_validate(event)
    run, data, deployment = state.input, state.data, state.deployment
    assert run is not None and data is not None and deployment is not None and data.test is not None
    rows = [json.loads(line) for line in _read_text(data.test.uri).splitlines() if line.strip()][
        : run.evaluation.max_rows
    ]
    bucket = settings.require("data_bucket")
    prefix = layout.evaluation(state.execution.name)
    for index, batch in enumerate(batches(rows, BATCH_ROWS)):
        _put(bucket, f"{prefix}batches/batch-{index:05d}.json", json.dumps(batch), "application/json")
    baseline: str | None = None
    if run.evaluation.baseline == "base-model":
        baseline = MODELS[run.base_model or ""].inference_profile_id
    elif run.evaluation.baseline == "promoted":
        active, _ = read_active(client("ssm"), settings.environment)
        baseline = active.deployment_arn if active else None
    requests_per_row = (2 if baseline else 1) + (1 if run.evaluation.judge_model else 0)
    workers = min(concurrency_for(settings.evaluation_rpm), max(1, len(batches(rows, BATCH_ROWS))))
    inference = run.evaluation.inference_config
    plan = {
        "bucket": bucket,
        "prefix": prefix,
        "batchesPrefix": f"{prefix}batches/",
        "rows": len(rows),
        "batches": len(batches(rows, BATCH_ROWS)),
        "maxConcurrency": workers,
        "perWorkerRequestsPerMinute": settings.evaluation_rpm / workers,
        "requestsPerRow": requests_per_row,
        "candidate": deployment.deployment_arn,
        "baseline": baseline,
        "judgeModel": run.evaluation.judge_model,
        "inferenceConfig": {
            "maxTokens": inference.max_tokens,
            "temperature": inference.temperature,
            "topP": inference.top_p,
        },
    }
    logger.info("Evaluation planned", extra=plan)
    return plan


def _target(model_id: str, system: str | None, config: dict[str, Any]) -> Target:
    return Target(model_id, system, int(config["maxTokens"]), float(config["temperature"]), float(config["topP"]))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def batch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan, key = event["plan"], event["object"]["Key"]
    rows = json.loads(_read_text(f"s3://{plan['bucket']}/{key}"))
    config = plan["inferenceConfig"]
    runtime = client("bedrock-runtime")
    pacer = Pacer(float(plan["perWorkerRequestsPerMinute"]))
    candidate_rows: list[Any] = []
    baseline_rows: list[Any] = []
    for row in rows:  # each row carries its own system prompt (templates are filled per record)
        system = row.get("system")
        one_candidate, one_baseline = evaluate_batch(
            runtime,
            [row],
            candidate=_target(plan["candidate"], system, config),
            baseline=_target(plan["baseline"], system, config) if plan.get("baseline") else None,
            pacer=pacer,
            judge_model=plan.get("judgeModel"),
        )
        candidate_rows += one_candidate
        baseline_rows += one_baseline
    name = key.rsplit("/", 1)[-1].replace(".json", ".jsonl")
    for kind, predictions in (("candidate", candidate_rows), ("baseline", baseline_rows)):
        if predictions:
            body = "".join(row.model_dump_json(by_alias=True, exclude_none=True) + "\n" for row in predictions)
            _put(plan["bucket"], f"{plan['prefix']}predictions/{kind}/{name}", body, "application/x-ndjson")
    errors = sum(1 for row in candidate_rows + baseline_rows if row.error)
    return {"batch": key, "rows": len(rows), "errors": errors}


def _predictions(bucket: str, prefix: str) -> list[Any]:
    s3 = client("s3")
    keys = sorted(
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    )
    lines: list[str] = []
    for key in keys:
        lines += _read_text(f"s3://{bucket}/{key}").splitlines()
    return parse_lines(lines, prefix) if lines else []


def _loss_curves(state: RunState) -> dict[str, list[tuple[float, float]]]:
    job = state.job
    if job is None or not job.output_uri or job.platform != "bedrock":
        return {}
    bucket, prefix = split_s3(job.output_uri)
    job_id = job.job_arn.rsplit("/", 1)[-1]
    s3 = client("s3")
    curves: dict[str, list[tuple[float, float]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if job_id in key and key.endswith(".csv"):
                kind = "validation" if "valid" in key.rsplit("/", 1)[-1] else "training"
                curves[kind] = parse_loss_csv(_read_text(f"s3://{bucket}/{key}"), kind)
    return curves


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def aggregate_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    state = RunState.model_validate(event)
    plan = event["evaluationPlan"]
    run = state.input
    assert run is not None
    candidate = _predictions(plan["bucket"], f"{plan['prefix']}predictions/candidate/")
    if len(candidate) != plan["rows"]:
        raise EvaluationIncomplete(
            f"{len(candidate)} of {plan['rows']} test rows have predictions: a batch of the evaluation map failed "
            "(see the EvaluateBatches map run)"
        )
    baseline = _predictions(plan["bucket"], f"{plan['prefix']}predictions/baseline/")
    active, _ = read_active(client("ssm"), settings.environment)
    baseline_is_promoted = run.evaluation.baseline == "promoted" and bool(baseline)
    promoted_primary = active.metrics.candidate if active and active.metrics and not baseline_is_promoted else None
    gate_overrides = {name: getattr(run.gate, name) for name in Thresholds.__dataclass_fields__}
    report = evaluation_report(
        candidate_rows=candidate,
        baseline_rows=baseline or None,
        task=TaskType(run.task),
        model=run.base_model or "",
        prices=load_prices(),
        thresholds=Thresholds.merged(settings.gate_defaults, gate_overrides),
        traffic={
            "queriesPerMonth": run.evaluation.traffic.queries_per_month,
            "inputTokens": run.evaluation.traffic.input_tokens,
            "outputTokens": run.evaluation.traffic.output_tokens,
        },
        promoted_primary=promoted_primary,
        baseline_is_promoted=baseline_is_promoted,
        run={
            "execution": state.execution.arn,
            "environment": settings.environment,
            "baseModel": run.base_model,
            "method": run.method.value,
            "platform": run.platform.value,
            "deployment": state.deployment.deployment_arn if state.deployment else None,
            "baselineModel": plan.get("baseline"),
        },
        loss_curves=_loss_curves(state),
        simulated=settings.simulated,
        judge_model=run.evaluation.judge_model,
    )
    bucket = settings.require("data_bucket")
    key = layout.report(state.execution.name)
    _put(bucket, key + "report.json", json.dumps(report, indent=2), "application/json")
    _put(bucket, key + "report.html", render_html(report), "text/html; charset=utf-8")
    with aws_call("s3", "GeneratePresignedUrl"):
        url = client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key + "report.html"}, ExpiresIn=REPORT_URL_SECONDS
        )
    result = {
        "verdict": report["gate"]["verdict"],
        "failed": report["gate"]["failed"],
        "primaryMetric": report["primaryMetric"],
        "candidate": report["candidate"]["primary"],
        "baseline": report["baseline"]["primary"] if report["baseline"] else None,
        "errorRate": report["candidate"]["errorRate"],
        "monthlyCost": report["cost"]["totalMonthly"],
        "reportUri": f"s3://{bucket}/{key}report.json",
        "reportHtmlUri": f"s3://{bucket}/{key}report.html",
        "reportUrl": url,
        "simulated": settings.simulated,
    }
    logger.info("Evaluation aggregated", extra={k: v for k, v in result.items() if k != "reportUrl"})
    metrics.add_metric(
        name="CandidatesPromoted" if result["verdict"] == "promoted" else "CandidatesRejected", unit="Count", value=1
    )
    return result
