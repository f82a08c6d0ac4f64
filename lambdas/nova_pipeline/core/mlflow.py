"""A small client of the MLflow REST API of a SageMaker managed MLflow tracking server or MLflow app, without the
`mlflow` package (hundreds of MB with its dependencies, too big for a Lambda layer).

How a client reaches SageMaker managed MLflow is what the `sagemaker-mlflow` plugin does (aws/sagemaker-mlflow):
- the URL comes from the ARN (`mlflow_sagemaker_helpers.SageMakerMLflowHostMetadataProvider._get_endpoint`):
  `https://<region>.experiments.sagemaker.aws` for an `mlflow-tracking-server`,
  `https://mlflow.sagemaker.<region>.app.aws` for an `mlflow-app` (partitions `aws` and `aws-us-gov` only);
- every request carries the resource's ARN in a routing header (`mlflow_sagemaker_request_header_provider`):
  `x-mlflow-sm-tracking-server-arn` for a tracking server, `x-sm-mlflow-app-arn` for an app;
- every request is signed with SigV4 (`auth.AuthBoto`, botocore `SigV4Auth`) with the signing name
  `sagemaker-mlflow` for a tracking server and `sagemaker` for an app (`auth_provider._get_auth_service_name`),
  the body's SHA-256 in `X-Amz-Content-SHA256` and spaces of a GET query encoded as `%20`.
The paths and bodies are MLflow's REST API 2.0 (mlflow.org "REST API"; `mlflow/protos/service.proto`).

Requests go through `send`, which tests and the offline twin replace with `use_transport`, as `core.clients` lets
them replace boto3 clients.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

# What the pipeline accepts as `mlflowTrackingArn` (stacks.config.MLFLOW_ARN) with its parts.
_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z\-]*):sagemaker:(?P<region>[a-z0-9\-]+):(?P<account>\d{12}):"
    r"(?P<kind>mlflow-tracking-server|mlflow-app)/(?P<name>[A-Za-z0-9\-]+)$"
)
TRACKING_SERVER, APP = "mlflow-tracking-server", "mlflow-app"
API = "/api/2.0/mlflow/"
# Per `runs/log-batch` request (mlflow/utils/validation.py: MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH,
# MAX_ENTITIES_PER_BATCH).
MAX_METRICS, MAX_PARAMS_OR_TAGS, MAX_ENTITIES = 1000, 100, 1000
# Socket timeouts (connect, read) in seconds: an unreachable server costs the calling function seconds, not minutes.
TIMEOUT = (5, 15)


@dataclass(frozen=True)
class MlflowTarget:
    """Where and how to call the MLflow resource an ARN names."""

    arn: str
    partition: str
    region: str
    kind: str

    @classmethod
    def from_arn(cls, arn: str) -> MlflowTarget:
        match = _ARN.match(arn)
        if match is None:
            raise ValueError(f"{arn!r} is not a SageMaker managed MLflow tracking server or MLflow app ARN")
        if match["partition"] not in ("aws", "aws-us-gov"):
            raise ValueError(f"{arn}: SageMaker managed MLflow is reachable in the aws and aws-us-gov partitions only")
        return cls(arn, match["partition"], match["region"], match["kind"])

    @property
    def url(self) -> str:
        if self.kind == TRACKING_SERVER:
            return f"https://{self.region}.experiments.sagemaker.aws"
        return f"https://mlflow.sagemaker.{self.region}.app.aws"

    @property
    def signing_name(self) -> str:
        return "sagemaker-mlflow" if self.kind == TRACKING_SERVER else "sagemaker"

    @property
    def routing_header(self) -> str:
        return "x-mlflow-sm-tracking-server-arn" if self.kind == TRACKING_SERVER else "x-sm-mlflow-app-arn"


# A transport sends one signed request and answers (HTTP status, body).
Transport = Callable[[AWSRequest], tuple[int, bytes]]


_sessions: list[Any] = []  # one HTTP session per container: its connections are reused across invocations


def _urllib3_transport(request: AWSRequest) -> tuple[int, bytes]:
    if not _sessions:
        from botocore.httpsession import URLLib3Session

        _sessions.append(URLLib3Session(timeout=TIMEOUT))
    response = _sessions[0].send(request.prepare())
    return int(response.status_code), bytes(response.content)


_transport: Transport = _urllib3_transport


def send(request: AWSRequest) -> tuple[int, bytes]:
    return _transport(request)


@contextmanager
def use_transport(transport: Transport) -> Iterator[None]:
    """Send every MLflow request through `transport` for the duration of the block (tests, the offline twin)."""
    global _transport  # noqa: PLW0603 - the one process-wide switch, restored on exit
    previous, _transport = _transport, transport
    try:
        yield
    finally:
        _transport = previous


class MlflowError(Exception):
    """The server refused a request (MLflow's `error_code` and `message`) or answered with something else."""

    def __init__(self, method: str, path: str, status: int, code: str, message: str) -> None:
        self.status, self.code = status, code
        super().__init__(f"MLflow {method} {path}: HTTP {status} {code}: {message}")


class MlflowClient:
    """The few MLflow calls the pipeline makes, signed with the caller's credentials (botocore `Credentials`)."""

    def __init__(self, target: MlflowTarget, credentials: Any) -> None:
        self.target, self._signer = target, SigV4Auth(credentials, target.signing_name, target.region)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **query: str) -> dict[str, Any]:
        url = self.target.url + API + path
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        data = json.dumps(body).encode() if body is not None else b""
        headers = {
            self.target.routing_header: self.target.arn,
            "X-Amz-Content-SHA256": hashlib.sha256(data).hexdigest(),
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        self._signer.add_auth(request)
        status, content = send(request)
        try:
            answer = json.loads(content or b"{}")
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise MlflowError(method, path, status, "UNEXPECTED_RESPONSE", content[:200].decode(errors="replace"))
        if status >= 300:
            raise MlflowError(method, path, status, str(answer.get("error_code", "")), str(answer.get("message", "")))
        return answer

    def experiment_id(self, name: str) -> str:
        """The id of the experiment `name`, created when it does not exist (SageMaker training jobs with
        `MlflowConfig` create theirs the same way, so whichever comes first creates it)."""
        try:
            return str(self.call("GET", "experiments/get-by-name", experiment_name=name)["experiment"]["experiment_id"])
        except MlflowError as error:
            if error.code != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            return str(self.call("POST", "experiments/create", {"name": name})["experiment_id"])
        except MlflowError as error:
            if error.code != "RESOURCE_ALREADY_EXISTS":  # created between the two calls
                raise
        return str(self.call("GET", "experiments/get-by-name", experiment_name=name)["experiment"]["experiment_id"])

    def find_run(self, experiment_id: str, run_name: str) -> dict[str, Any] | None:
        """The oldest run of the experiment named `run_name` (its `info` and `data`), if any. Names are limited to
        letters, digits and `-_./` (jobs.training.mlflow_config), so they need no escaping in the filter."""
        answer = self.call(
            "POST",
            "runs/search",
            {
                "experiment_ids": [experiment_id],
                "filter": f"tags.\"mlflow.runName\" = '{run_name}'",
                "run_view_type": "ACTIVE_ONLY",
                "max_results": 1,
                "order_by": ["attributes.start_time ASC"],
            },
        )
        runs = answer.get("runs") or []
        return dict(runs[0]) if runs else None

    def create_run(self, experiment_id: str, run_name: str, start_time_ms: int, tags: dict[str, str]) -> dict[str, Any]:
        """A new run (its `info`: `run_id`, `artifact_uri`, ...); `mlflow.runName` is sent as a tag too, for servers
        older than the `run_name` field."""
        tags = {"mlflow.runName": run_name, **tags}
        body = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": start_time_ms,
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }
        return dict(self.call("POST", "runs/create", body)["run"])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> int:
        """Log everything in as few `runs/log-batch` requests as the server's per-request limits allow; the number
        of requests sent."""
        param_items = [{"key": key, "value": value} for key, value in params.items()]
        tag_items = [{"key": key, "value": value} for key, value in tags.items()]
        requests = 0
        metric_items = list(metrics)
        while metric_items or param_items or tag_items:
            batch_params, param_items = param_items[:MAX_PARAMS_OR_TAGS], param_items[MAX_PARAMS_OR_TAGS:]
            batch_tags, tag_items = tag_items[:MAX_PARAMS_OR_TAGS], tag_items[MAX_PARAMS_OR_TAGS:]
            room = min(MAX_METRICS, MAX_ENTITIES - len(batch_params) - len(batch_tags))
            batch_metrics, metric_items = metric_items[:room], metric_items[room:]
            self.call(
                "POST",
                "runs/log-batch",
                {"run_id": run_id, "metrics": batch_metrics, "params": batch_params, "tags": batch_tags},
            )
            requests += 1
        return requests

    def finish_run(self, run_id: str, end_time_ms: int) -> None:
        self.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": end_time_ms})
