"""The MLflow REST client reaches SageMaker managed MLflow as the sagemaker-mlflow plugin does: the URL from the ARN,
the ARN in the routing header, SigV4 with the resource kind's signing name, the body's SHA-256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nova_pipeline.core.mlflow import MlflowClient, MlflowError, MlflowTarget, use_transport

SERVER = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"
APP = "arn:aws:sagemaker:us-west-2:123456789012:mlflow-app/app-6VUOK5QJS7ZY"
CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


class FakeHttp:
    """Answers each request with the next scripted (status, body) and keeps what was sent."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.sent: list[AWSRequest] = []

    def __call__(self, request: AWSRequest) -> tuple[int, bytes]:
        self.sent.append(request)
        status, body = self.answers.pop(0)
        return status, body if isinstance(body, bytes) else json.dumps(body).encode()

    def bodies(self) -> list[Any]:
        return [json.loads(r.body) if r.body else None for r in self.sent]


@pytest.fixture
def http() -> Iterator[FakeHttp]:
    fake = FakeHttp()
    with use_transport(fake):
        yield fake


def test_the_url_signing_name_and_routing_header_follow_the_resource_kind() -> None:
    server, app = MlflowTarget.from_arn(SERVER), MlflowTarget.from_arn(APP)

    assert (server.url, server.signing_name, server.routing_header) == (
        "https://us-east-1.experiments.sagemaker.aws",
        "sagemaker-mlflow",
        "x-mlflow-sm-tracking-server-arn",
    )
    assert (app.url, app.signing_name, app.routing_header) == (
        "https://mlflow.sagemaker.us-west-2.app.aws",
        "sagemaker",
        "x-sm-mlflow-app-arn",
    )


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("arn:aws:sagemaker:us-east-1:123456789012:model/x", "is not a SageMaker managed MLflow tracking server"),
        (
            "arn:aws-cn:sagemaker:cn-north-1:123456789012:mlflow-tracking-server/x",
            "reachable in the aws and aws-us-gov partitions only",
        ),
    ],
)
def test_an_arn_it_cannot_reach_is_refused_with_the_reason(arn: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MlflowTarget.from_arn(arn)


def test_a_missing_experiment_is_created_with_signed_requests(http: FakeHttp) -> None:
    http.answers += [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment"}),
        (200, {"experiment_id": "7"}),
    ]

    experiment_id = MlflowClient(MlflowTarget.from_arn(SERVER), CREDENTIALS).experiment_id("nova-dev my run")

    assert experiment_id == "7"
    get, create = http.sent
    assert (get.method, get.url) == (
        "GET",
        "https://us-east-1.experiments.sagemaker.aws/api/2.0/mlflow/experiments/get-by-name"
        "?experiment_name=nova-dev%20my%20run",  # spaces as %20, as the plugin re-encodes them
    )
    assert (create.method, create.url) == (
        "POST",
        "https://us-east-1.experiments.sagemaker.aws/api/2.0/mlflow/experiments/create",
    )
    assert http.bodies() == [None, {"name": "nova-dev my run"}]
    for request, body in ((get, b""), (create, b'{"name": "nova-dev my run"}')):
        headers = request.headers
        assert headers["x-mlflow-sm-tracking-server-arn"] == SERVER
        assert headers["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()
        authorization = headers["Authorization"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/us-east-1/sagemaker-mlflow/aws4_request, " in authorization
        assert "x-mlflow-sm-tracking-server-arn" in authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


def test_an_app_is_signed_for_sagemaker_with_its_own_routing_header(http: FakeHttp) -> None:
    http.answers.append((200, {"experiment": {"experiment_id": "3"}}))

    MlflowClient(MlflowTarget.from_arn(APP), CREDENTIALS).experiment_id("nova-dev-x")

    [request] = http.sent
    assert request.url.startswith("https://mlflow.sagemaker.us-west-2.app.aws/api/2.0/mlflow/")
    assert request.headers["x-sm-mlflow-app-arn"] == APP
    assert "/us-west-2/sagemaker/aws4_request, " in request.headers["Authorization"]


def test_an_experiment_created_meanwhile_is_read_again(http: FakeHttp) -> None:
    http.answers += [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}),
        (400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Experiment 'x' already exists."}),
        (200, {"experiment": {"experiment_id": "9"}}),
    ]

    assert MlflowClient(MlflowTarget.from_arn(SERVER), CREDENTIALS).experiment_id("x") == "9"
    assert [r.url.rsplit("/", 1)[-1] for r in http.sent] == [
        "get-by-name?experiment_name=x",
        "create",
        "get-by-name?experiment_name=x",
    ]


def test_a_log_batch_is_split_at_the_servers_per_request_limits(http: FakeHttp) -> None:
    http.answers += [(200, {}), (200, {})]
    metrics = [{"key": f"m{i}", "value": 1.0, "timestamp": 0, "step": 0} for i in range(1200)]
    params = {f"p{i}": "v" for i in range(150)}

    sent = MlflowClient(MlflowTarget.from_arn(SERVER), CREDENTIALS).log_batch("r1", metrics, params, {"t": "1"})

    assert sent == 2
    sizes = [(len(b["metrics"]), len(b["params"]), len(b["tags"])) for b in http.bodies()]
    assert sizes == [(899, 100, 1), (301, 50, 0)]  # at most 1000 entities, 100 params or tags, per request
    assert [m["key"] for b in http.bodies() for m in b["metrics"]] == [m["key"] for m in metrics]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            (403, {"error_code": "PERMISSION_DENIED", "message": "not authorized to perform CreateRun"}),
            "MLflow POST runs/create: HTTP 403 PERMISSION_DENIED: not authorized to perform CreateRun",
        ),
        ((502, b"<html>Bad Gateway</html>"), "MLflow POST runs/create: HTTP 502 UNEXPECTED_RESPONSE: <html>Bad"),
    ],
)
def test_a_refusal_names_the_call_the_status_and_the_servers_message(
    http: FakeHttp, answer: tuple[int, Any], message: str
) -> None:
    http.answers.append(answer)

    with pytest.raises(MlflowError) as raised:
        MlflowClient(MlflowTarget.from_arn(SERVER), CREDENTIALS).create_run("1", "run-1", 0, {})

    assert str(raised.value).startswith(message)
