"""The twin's simulated SageMaker managed MLflow refuses what AWS refuses: a request addressed or signed unlike the
plugin's, a principal without the IAM action, a parameter changed after it was logged."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nova_pipeline.core.mlflow import MlflowClient, MlflowError, MlflowTarget, use_transport
from nova_pipeline.local.iam import Authorizer, KeyDirectory, PolicyBook, Statement, acting_as
from nova_pipeline.local.mlflow_server import SimulatedMlflow

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"
ROLE = "arn:aws:iam::123456789012:role/aggregate"
CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


class _NoAssembly:
    def of_type(self, _: str) -> list[Any]:
        return []


def _server(*actions: str) -> SimulatedMlflow:
    statement = Statement(ROLE, "test#0", tuple(f"sagemaker-mlflow:{a}" for a in actions), (ARN,), {})
    book = PolicyBook(statements={ROLE: [statement]})
    server = SimulatedMlflow(authorizer=Authorizer(book, KeyDirectory(_NoAssembly())))  # type: ignore[arg-type]
    server.add_server(ARN, "s3://store/prefix")
    return server


def test_a_role_without_the_action_is_refused_with_awss_message() -> None:
    server = _server("GetExperimentByName")
    with use_transport(server.send), acting_as(ROLE):
        client = MlflowClient(MlflowTarget.from_arn(ARN), CREDENTIALS)
        with pytest.raises(MlflowError) as raised:
            client.experiment_id("nova-dev-x")  # not found, then CreateExperiment, which the role may not do

    assert str(raised.value).startswith(
        "MLflow POST experiments/create: HTTP 403 PERMISSION_DENIED: User: arn:aws:sts::123456789012:assumed-role/"
        "aggregate/twin is not authorized to perform: sagemaker-mlflow:CreateExperiment on resource: " + ARN
    )
    assert [r.action for r in server.requests] == ["GetExperimentByName", "CreateExperiment"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.headers.replace_header("Authorization", "Bearer x"), "HTTP 403 UNAUTHENTICATED: missing or"),
        (
            lambda r: r.headers.replace_header(
                "Authorization", r.headers["Authorization"].replace("/sagemaker-mlflow/", "/sagemaker/")
            ),
            "HTTP 403 UNAUTHENTICATED: signed for sagemaker in us-east-1, expected sagemaker-mlflow in us-east-1",
        ),
        (lambda r: r.headers.replace_header("X-Amz-Content-SHA256", "0" * 64), "is not the SHA-256 of the body"),
        (
            lambda r: setattr(r, "url", r.url.replace("us-east-1.experiments", "us-west-2.experiments")),
            "HTTP 400 INVALID_PARAMETER_VALUE: " + ARN + " is served at https://us-east-1.experiments.sagemaker.aws",
        ),
    ],
)
def test_a_request_not_addressed_and_signed_as_the_plugin_does_is_refused(change: Any, message: str) -> None:
    server = _server("CreateExperiment")

    def tampered(request: AWSRequest) -> tuple[int, bytes]:
        change(request)
        return server.send(request)

    with use_transport(tampered), acting_as(ROLE), pytest.raises(MlflowError, match=message):
        MlflowClient(MlflowTarget.from_arn(ARN), CREDENTIALS).call("POST", "experiments/create", {"name": "x"})


def test_a_server_the_account_does_not_have_is_not_found() -> None:
    server = _server("GetExperimentByName")
    other = ARN.replace("nova-experiments", "other")
    with use_transport(server.send), acting_as(ROLE), pytest.raises(MlflowError, match="HTTP 404 RESOURCE_DOES_NOT"):
        MlflowClient(MlflowTarget.from_arn(other), CREDENTIALS).experiment_id("x")


def test_a_logged_parameter_cannot_change_as_in_mlflow() -> None:
    server = _server("GetExperimentByName", "CreateExperiment", "CreateRun", "LogBatch")
    with use_transport(server.send), acting_as(ROLE):
        client = MlflowClient(MlflowTarget.from_arn(ARN), CREDENTIALS)
        run_id = client.create_run(client.experiment_id("x"), "run-1", 0, {})["info"]["run_id"]
        client.log_batch(run_id, [], {"nova.method": "sft"}, {})
        client.log_batch(run_id, [], {"nova.method": "sft"}, {})  # the same value again is fine
        with pytest.raises(MlflowError, match="Changing param values is not allowed"):
            client.log_batch(run_id, [], {"nova.method": "rft"}, {})

    assert server.runs[run_id]["info"]["artifact_uri"] == f"s3://store/prefix/1/{run_id}/artifacts"
