"""Experiment tracking through the offline twin, with an environment that names a SageMaker managed MLflow tracking
server and its artifact store: what AggregateEvaluation sends (signed as the plugin signs, as its own role), what the
server keeps, the reports as run artifacts, one run per execution whatever the platform, and a server that cannot be
reached leaving the run promoted. Multi-stage runs log each stage at its step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from nova_pipeline.local.simulator import SimulatorSettings
from nova_pipeline.local.twin import OfflineTwin, SynthesizedApp, TwinOptions, synthesize
from stacks.constructs.service_grants import MLFLOW_TRACKING_ACTIONS
from tests.workflow.conftest import FAST, example

MLFLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"
ARTIFACT_STORE = "s3://team-mlflow-artifacts/nova"


@pytest.fixture(scope="module")
def tracked_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    overrides = {"mlflowTrackingArn": MLFLOW_ARN, "mlflowArtifactStoreUri": ARTIFACT_STORE}
    return synthesize("dev", tmp_path_factory.mktemp("twin-cdk-out-mlflow"), overrides)


@pytest.fixture
def tracked_twin(tracked_app: SynthesizedApp) -> Callable[[], Any]:
    @contextmanager
    def make() -> Iterator[OfflineTwin]:
        with OfflineTwin(TwinOptions(simulator=SimulatorSettings(**FAST)), tracked_app) as twin:
            twin.upload_example_data()
            yield twin

    return make


def _aggregate_role(twin: OfflineTwin) -> str:
    [function] = {f.name: f for f in twin.dispatcher.functions.values() if f.handler_dir.name == "aggregate_evaluation"}
    return str(twin.dispatcher.functions[function].role_arn)


def test_a_bedrock_run_is_logged_to_a_run_of_its_own_with_its_figures_and_reports(tracked_twin: Any) -> None:
    with tracked_twin() as twin:
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        evaluation = result.output["evaluation"]
        tracking = evaluation["tracking"]
        assert (tracking["status"], tracking["runCreated"], tracking["step"]) == ("logged", True, 0)
        assert (tracking["experiment"], tracking["runName"]) == ("nova-dev-tickets-micro", result.name)
        run = twin.mlflow.run_named("nova-dev-tickets-micro", result.name)
        assert run["info"]["status"] == "FINISHED"
        assert run["params"]["nova.method"] == "sft" and run["params"]["nova.platform"] == "bedrock"
        assert run["params"]["nova.hyperparameters.epochCount"] == "3"
        metrics = {m["key"]: m for m in run["metrics"]}
        assert metrics["eval.candidate.primary"]["value"] == evaluation["candidate"]
        assert metrics["eval.baseline.primary"]["value"] == evaluation["baseline"]
        assert metrics["eval.candidate.primary"]["step"] == 0
        assert metrics["eval.gate.passed"]["value"] == 1.0 and evaluation["verdict"] == "promoted"
        assert any(k.startswith("eval.candidate.perClass.billing.") for k in metrics)
        assert metrics["eval.cost.totalMonthly"]["value"] == evaluation["monthlyCost"]
        assert run["tags"]["nova.execution"] == result.arn
        assert run["tags"]["nova.verdict"] == "promoted" and run["tags"]["nova.simulated"] == "true"
        assert run["tags"]["nova.report.json"] == evaluation["reportUri"]
        # The reports, as run artifacts under the run's artifact_uri in the server's artifact store
        s3 = boto3.client("s3", region_name="us-east-1")
        artifacts = run["info"]["artifact_uri"] + "/report/"
        assert artifacts.startswith(ARTIFACT_STORE + "/")
        assert tracking["artifacts"] == [artifacts + "report.json", artifacts + "report.html"]
        bucket, prefix = artifacts.removeprefix("s3://").split("/", 1)
        uploaded = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "report.json")["Body"].read())
        data_bucket, report_key = evaluation["reportUri"].removeprefix("s3://").split("/", 1)
        assert uploaded == json.loads(s3.get_object(Bucket=data_bucket, Key=report_key)["Body"].read())
        # Every request: signed for sagemaker-mlflow in the server's region, sent as AggregateEvaluation's role
        requests = twin.mlflow.requests
        assert [r.action for r in requests] == [
            "GetExperimentByName", "CreateExperiment", "SearchRuns", "CreateRun", "LogBatch", "UpdateRun",
        ]  # fmt: skip
        assert {r.principal for r in requests} == {_aggregate_role(twin)}
        assert sorted(f"sagemaker-mlflow:{r.action}" for r in requests) == sorted(MLFLOW_TRACKING_ACTIONS)  # all used
        for request in requests:
            assert "/us-east-1/sagemaker-mlflow/aws4_request" in request.headers["authorization"]
            assert request.headers["x-mlflow-sm-tracking-server-arn"] == MLFLOW_ARN


def test_a_sagemaker_run_logs_its_evaluation_to_the_run_its_training_job_created(tracked_twin: Any) -> None:
    with tracked_twin() as twin:
        result = twin.run(example("sagemaker-lora-sft-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert twin.mlflow.training_failures == []  # the training role's grant covers what the job logs
        tracking = result.output["evaluation"]["tracking"]
        assert (tracking["status"], tracking["runCreated"]) == ("logged", False)
        run = twin.mlflow.run_named("nova-dev-sql-lora", result.name)  # exactly one run of that name
        assert run["info"]["run_id"] == tracking["runId"]
        assert run["tags"]["sagemaker.trainingJobArn"].endswith(result.output["job"]["name"])
        keys = {m["key"] for m in run["metrics"]}
        assert {"train_loss", "eval.candidate.primary"} <= keys  # the job's figures and the evaluation's, together
        assert run["params"]["nova.platform"] == "sagemaker"
        training_role = {r.principal for r in twin.mlflow.requests if r.action == "CreateRun"}
        assert training_role != {_aggregate_role(twin)}
        assert [r.action for r in twin.mlflow.requests if r.principal == _aggregate_role(twin)] == [
            "GetExperimentByName", "SearchRuns", "LogBatch",
        ]  # fmt: skip


def test_each_stage_logs_at_its_step_to_the_executions_first_run(tracked_twin: Any) -> None:
    with tracked_twin() as twin:
        result = twin.run(example("stages-question-quality-nova-2-lite.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        named = sorted(
            (r for r in twin.mlflow.runs.values() if r["tags"].get("mlflow.runName") == result.name),
            key=lambda r: r["info"]["start_time"],
        )
        assert len(named) == 2  # each training job starts a run of the execution's name; the oldest gets the stages
        run = named[0]
        tracking = result.output["evaluation"]["tracking"]
        assert (tracking["runId"], tracking["step"], tracking["runCreated"]) == (run["info"]["run_id"], 1, False)
        steps = sorted(m["step"] for m in run["metrics"] if m["key"] == "eval.candidate.primary")
        assert steps == [0, 1]
        assert (run["params"]["nova.stage1.method"], run["params"]["nova.stage2.method"]) == ("sft", "rft")
        assert run["params"]["nova.stages"] == "2" and "nova.method" not in run["params"]
        stages = result.output["evaluation"]["stages"]
        assert [run["tags"][f"nova.stage{n}.verdict"] for n in (1, 2)] == [s["verdict"] for s in stages]
        assert run["tags"]["nova.stage2.report.json"] == stages[1]["reportUri"]
        chosen = result.output["evaluation"]["chosen"]
        assert (run["tags"]["nova.verdict"], run["tags"]["nova.chosenStage"]) == (
            chosen["verdict"],
            str(chosen["index"] + 1),
        )  # the run's verdict is the chosen stage's, which the gate acted on
        bucket, prefix = (run["info"]["artifact_uri"] + "/report/").removeprefix("s3://").split("/", 1)
        listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=bucket, Prefix=prefix)
        assert sorted(o["Key"].removeprefix(prefix) for o in listed["Contents"]) == [
            "stage-1/report.html", "stage-1/report.json", "stage-2/report.html", "stage-2/report.json",
        ]  # fmt: skip


def test_an_unreachable_server_leaves_the_run_promoted_and_says_why(tracked_twin: Any) -> None:
    with tracked_twin() as twin:
        twin.mlflow.unavailable = "the tracking server is stopped"
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output["verdict"] == "promoted" and result.output["promotion"]["promoted"] is True
        tracking = result.output["evaluation"]["tracking"]
        assert tracking["status"] == "failed"
        assert tracking["reason"] == (
            "MlflowError: MLflow GET experiments/get-by-name: HTTP 503 SERVICE_UNAVAILABLE: the tracking server is "
            "stopped"
        )
        assert twin.mlflow.runs == {}
