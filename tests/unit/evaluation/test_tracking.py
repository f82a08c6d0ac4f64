"""Each evaluated stage goes to the execution's MLflow run: the exact REST calls, what is logged, where the reports
go, and that a failure of MLflow is reported instead of failing the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import EndpointConnectionError

from nova_pipeline.contract.execution_input import ExecutionInput
from nova_pipeline.contract.run_state import ExecutionRef, JobState, RunState, StageCursor
from nova_pipeline.core.mlflow import MlflowClient, MlflowTarget, use_transport
from nova_pipeline.evaluation import tracking
from nova_pipeline.evaluation.tracking import key, log_evaluation, report_metrics, track_evaluation
from tests.unit.core.test_mlflow import FakeHttp

ROOT = Path(__file__).resolve().parents[3]
ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"
STORE = "s3://team-mlflow-artifacts/nova"
EXECUTION = ExecutionRef(name="run-1", arn="arn:aws:states:us-east-1:123456789012:execution:nova-dev:run-1")
URIS = {"report.json": "s3://data/reports/run-1/report.json", "report.html": "s3://data/reports/run-1/report.html"}
BODIES = {"report.json": b'{"gate": {}}', "report.html": b"<html></html>"}
NOW = 1_764_000_000_000
REPORT: dict[str, Any] = {
    "candidate": {
        "primaryMetric": "macroF1",
        "primary": 0.8,
        "macroF1": 0.8,
        "errorRate": 0.0,
        "perClass": {"billing/refund": {"f1": 0.75, "support": 4}},
        "latency": {"ttftP90Ms": 120.0},
        "wrongAnswers": [{"id": "1"}],
        "guardrailInterventionRate": None,
    },
    "baseline": {"primary": 0.5, "macroF1": 0.5},
    "general": {"set": "builtin:general-v1", "candidate": {"accuracy": 0.9}, "base": {"accuracy": 0.92}},
    "cost": {"totalMonthly": 12.5, "model": "nova-micro"},
    "measuredCost": {"costPer1kRequests": 0.04},
    "evaluationCost": {"total": 0.01},
    "training": {"finalTrainingLoss": 0.3, "source": "reported by the job"},
    "gate": {"verdict": "promoted", "failed": []},
}


def _state(document: str = "sft-classification-nova-micro.json", stage: int = 0) -> RunState:
    run = ExecutionInput.model_validate(json.loads((ROOT / "examples" / document).read_text()))
    job = JobState(platform="bedrock", job_arn="arn:job", job_name="job", training_seconds=600.0)
    return RunState(execution=EXECUTION, input=run, stage=StageCursor(index=stage), job=job)


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> dict[str, Any]:  # noqa: N803
        self.objects[(Bucket, Key)] = (Body, ContentType)
        return {}


def _client() -> MlflowClient:
    return MlflowClient(MlflowTarget.from_arn(ARN), Credentials("AKIDEXAMPLE", "secret"))


def _run(run_id: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    info = {"run_id": run_id, "artifact_uri": f"{STORE}/4/{run_id}/artifacts", "status": "FINISHED"}
    return {"info": info, "data": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}


def test_a_bedrock_run_creates_the_executions_run_and_logs_the_stage_to_it() -> None:
    http = FakeHttp(
        (200, {"experiment": {"experiment_id": "4"}}),
        (200, {}),  # no run of that name yet: a Bedrock job logs nothing itself
        (200, {"run": _run("abc")}),
        (200, {}),
        (200, {"run_info": {}}),
    )
    s3 = FakeS3()

    with use_transport(http):
        outcome = log_evaluation(
            _state(), REPORT, client=_client(), environment="dev", report_uris=URIS, report_bodies=BODIES,
            artifact_store_uri=STORE, s3=s3, now_ms=NOW,
        )  # fmt: skip

    paths = [(r.method, r.url.split("/api/2.0/mlflow/")[1]) for r in http.sent]
    assert paths == [
        ("GET", "experiments/get-by-name?experiment_name=nova-dev-tickets-micro"),
        ("POST", "runs/search"),
        ("POST", "runs/create"),
        ("POST", "runs/log-batch"),
        ("POST", "runs/update"),
    ]
    _, search, create, batch, update = http.bodies()
    assert search == {
        "experiment_ids": ["4"],
        "filter": "tags.\"mlflow.runName\" = 'run-1'",
        "run_view_type": "ACTIVE_ONLY",
        "max_results": 1,
        "order_by": ["attributes.start_time ASC"],
    }
    assert create == {
        "experiment_id": "4",
        "run_name": "run-1",
        "start_time": NOW,
        "tags": [{"key": "mlflow.runName", "value": "run-1"}, {"key": "nova.createdBy", "value": "nova-pipeline"}],
    }
    assert batch["run_id"] == "abc"
    metrics = {m["key"]: (m["value"], m["step"], m["timestamp"]) for m in batch["metrics"]}
    assert metrics == {
        "eval.candidate.primary": (0.8, 0, NOW),
        "eval.candidate.macroF1": (0.8, 0, NOW),
        "eval.candidate.errorRate": (0.0, 0, NOW),
        "eval.candidate.perClass.billing_refund.f1": (0.75, 0, NOW),
        "eval.candidate.perClass.billing_refund.support": (4.0, 0, NOW),
        "eval.candidate.latency.ttftP90Ms": (120.0, 0, NOW),
        "eval.baseline.primary": (0.5, 0, NOW),
        "eval.baseline.macroF1": (0.5, 0, NOW),
        "eval.general.candidate.accuracy": (0.9, 0, NOW),
        "eval.general.base.accuracy": (0.92, 0, NOW),
        "eval.cost.totalMonthly": (12.5, 0, NOW),
        "eval.measuredCost.costPer1kRequests": (0.04, 0, NOW),
        "eval.evaluationCost.total": (0.01, 0, NOW),
        "eval.training.finalTrainingLoss": (0.3, 0, NOW),
        "eval.training.seconds": (600.0, 0, NOW),
        "eval.gate.passed": (1.0, 0, NOW),
    }
    assert {p["key"]: p["value"] for p in batch["params"]} == {
        "nova.environment": "dev",
        "nova.task": "classification",
        "nova.baseModel": "nova-micro",
        "nova.platform": "bedrock",
        "nova.evaluation.baseline": "base-model",
        "nova.evaluation.maxRows": "500",
        "nova.method": "sft",
        "nova.hyperparameters.epochCount": "3",
        "nova.hyperparameters.learningRate": "1e-05",
    }
    assert {t["key"]: t["value"] for t in batch["tags"]} == {
        "nova.execution": EXECUTION.arn,
        "nova.verdict": "promoted",
        "nova.report.json": URIS["report.json"],
        "nova.report.html": URIS["report.html"],
    }
    assert update == {"run_id": "abc", "status": "FINISHED", "end_time": NOW}
    folder = "nova/4/abc/artifacts/report/"  # under the run's artifact_uri
    assert s3.objects == {
        ("team-mlflow-artifacts", folder + "report.json"): (BODIES["report.json"], "application/json"),
        ("team-mlflow-artifacts", folder + "report.html"): (BODIES["report.html"], "text/html; charset=utf-8"),
    }
    assert outcome.dump() == {
        "status": "logged",
        "trackingArn": ARN,
        "reason": None,
        "experiment": "nova-dev-tickets-micro",
        "experimentId": "4",
        "runName": "run-1",
        "runId": "abc",
        "runCreated": True,
        "step": 0,
        "metrics": 16,
        "params": 9,
        "artifacts": [
            "s3://team-mlflow-artifacts/nova/4/abc/artifacts/report/report.json",
            "s3://team-mlflow-artifacts/nova/4/abc/artifacts/report/report.html",
        ],
        "artifactsSkipped": None,
    }


def test_the_run_a_training_job_created_is_reused_and_left_for_the_job_to_end() -> None:
    http = FakeHttp(
        (200, {"experiment": {"experiment_id": "4"}}),
        (200, {"runs": [_run("job-run", {"mlflow.runName": "run-1"})]}),
        (200, {}),
    )

    with use_transport(http):
        outcome = log_evaluation(
            _state(), REPORT, client=_client(), environment="dev", report_uris=URIS, report_bodies=BODIES,
            artifact_store_uri=None, s3=FakeS3(), now_ms=NOW,
        )  # fmt: skip

    assert [r.url.rsplit("/", 1)[-1] for r in http.sent[1:]] == ["search", "log-batch"]  # no create, no update
    assert http.bodies()[2]["run_id"] == "job-run"
    assert (outcome.run_id, outcome.run_created, outcome.artifacts) == ("job-run", False, [])
    assert outcome.artifacts_skipped == (
        "mlflowArtifactStoreUri is not configured: the run's tags carry the reports' S3 locations"
    )


def test_a_later_stage_logs_at_its_step_with_its_own_parameters_and_report_folder() -> None:
    http = FakeHttp(
        (200, {"experiment": {"experiment_id": "4"}}),
        (200, {"runs": [_run("abc", {"nova.createdBy": "nova-pipeline"})]}),
        (200, {}),
        (200, {"run_info": {}}),
    )
    s3 = FakeS3()
    state = _state("stages-question-quality-nova-2-lite.json", stage=1)
    method = state.input.stages[1].method.value if state.input else ""

    with use_transport(http):
        log_evaluation(
            state, REPORT, client=_client(), environment="dev", report_uris=URIS, report_bodies=BODIES,
            artifact_store_uri=STORE + "/", s3=s3, now_ms=NOW,
        )  # fmt: skip

    batch = http.bodies()[2]
    assert {m["step"] for m in batch["metrics"]} == {1}
    params = {p["key"]: p["value"] for p in batch["params"]}
    assert params["nova.stage2.method"] == method and "nova.method" not in params
    assert params["nova.stages"] == str(len(state.input.stages if state.input else []))
    tags = {t["key"]: t["value"] for t in batch["tags"]}
    assert tags["nova.stage2.verdict"] == "promoted" and tags["nova.stage2.report.json"] == URIS["report.json"]
    assert sorted(key for _, key in s3.objects) == [
        "nova/4/abc/artifacts/report/stage-2/report.html",
        "nova/4/abc/artifacts/report/stage-2/report.json",
    ]
    assert http.sent[-1].url.endswith("runs/update")  # the pipeline's own run ends with its last logged stage


def test_a_run_whose_artifacts_live_elsewhere_gets_no_upload() -> None:
    elsewhere = {"info": {"run_id": "abc", "artifact_uri": "s3://other-bucket/1/abc/artifacts"}, "data": {}}
    http = FakeHttp((200, {"experiment": {"experiment_id": "4"}}), (200, {"runs": [elsewhere]}), (200, {}))
    s3 = FakeS3()

    with use_transport(http):
        outcome = log_evaluation(
            _state(), REPORT, client=_client(), environment="dev", report_uris=URIS, report_bodies=BODIES,
            artifact_store_uri=STORE, s3=s3, now_ms=NOW,
        )  # fmt: skip

    assert s3.objects == {}
    assert outcome.artifacts_skipped == (
        "the run's artifact location s3://other-bucket/1/abc/artifacts is outside mlflowArtifactStoreUri "
        "s3://team-mlflow-artifacts/nova/"
    )


def test_an_unreachable_server_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(tracking.logger, "warning", lambda message, extra: warnings.append((message, extra)))

    def unreachable(request: Any) -> tuple[int, bytes]:
        raise EndpointConnectionError(endpoint_url=request.url)

    with use_transport(unreachable):
        outcome = track_evaluation(
            _state(), REPORT, tracking_arn=ARN, environment="dev", report_uris=URIS, report_bodies=BODIES,
            artifact_store_uri=STORE, s3=FakeS3(), credentials=Credentials("AKIDEXAMPLE", "secret"),
        )  # fmt: skip

    assert outcome.status == "failed"
    assert outcome.reason == (
        "EndpointConnectionError: Could not connect to the endpoint URL: "
        '"https://us-east-1.experiments.sagemaker.aws/api/2.0/mlflow/experiments/get-by-name'
        '?experiment_name=nova-dev-tickets-micro"'
    )
    assert outcome.run_id is None
    assert warnings == [("MLflow tracking failed; the run goes on without it", {"reason": outcome.reason})]


def test_keys_keep_to_mlflows_characters_and_never_read_as_paths() -> None:
    assert key("eval.candidate.perClass", "a/b: c?", "f1") == "eval.candidate.perClass.a_b_ c_.f1"
    assert key("x", "", "y") == "x._y"  # never ".." (MLflow refuses keys that normalize to another path)
    assert report_metrics({"candidate": {"flag": True, "nan": float("nan"), "n": 1}}) == {"eval.candidate.n": 1.0}
