"""SageMaker managed MLflow as the offline twin serves it: the MLflow REST API of a tracking server or app, reached
through `core.mlflow.use_transport`, as AWS checks it.

Each request must be addressed as the `sagemaker-mlflow` plugin addresses it (aws/sagemaker-mlflow: the host derived
from the ARN, the ARN in the routing header, SigV4 with the resource kind's signing name over the routing header
and the body's SHA-256); the principal making it must be allowed the `sagemaker-mlflow:<Action>` of the REST call
on the ARN (Service Authorization Reference, "Amazon SageMaker with MLflow"). The server then keeps experiments,
runs, parameters (immutable once logged, as MLflow keeps them), metrics and tags in memory and gives each run an
`artifact_uri` under its artifact store (`s3://<store>/<experiment id>/<run id>/artifacts`, MLflow's layout).
Every request is recorded for the tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.awsrequest import AWSRequest

from nova_pipeline.core.mlflow import API, MAX_ENTITIES, MAX_METRICS, MAX_PARAMS_OR_TAGS, MlflowTarget
from nova_pipeline.local.iam import ADMIN, AccessDenied, Authorizer, need

# REST call -> IAM action (Service Authorization Reference, "Actions defined by Amazon SageMaker with MLflow").
ACTIONS = {
    ("GET", "experiments/get-by-name"): "GetExperimentByName",
    ("POST", "experiments/create"): "CreateExperiment",
    ("POST", "runs/search"): "SearchRuns",
    ("POST", "runs/create"): "CreateRun",
    ("POST", "runs/log-batch"): "LogBatch",
    ("POST", "runs/update"): "UpdateRun",
}
_KEY = re.compile(r"^[/\w.\- ]*$")  # mlflow/utils/validation.py _VALID_PARAM_AND_METRIC_NAMES
_RUN_NAME_FILTER = re.compile(
    r"""^(?:tags\.(?:"mlflow\.runName"|`mlflow\.runName`)|attributes\.run_name)\s*=\s*'([^']*)'$"""
)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=[0-9a-f]{64}$"
)


@dataclass(frozen=True)
class MlflowRequest:
    """One request the simulated server received, as sent."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str]
    principal: str
    action: str | None


class _Refused(Exception):  # noqa: N818 - an HTTP answer, not a failure of the twin
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class SimulatedMlflow:
    """The environment's tracking servers and apps (`servers`: ARN -> artifact store URI)."""

    authorizer: Authorizer | None = None
    servers: dict[str, str] = field(default_factory=dict)
    requests: list[MlflowRequest] = field(default_factory=list)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    training_failures: list[str] = field(default_factory=list)
    unavailable: str | None = None
    """Set to a reason to answer every request with HTTP 503 (an unreachable or stopped server)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_server(self, arn: str, artifact_store_uri: str) -> None:
        self.servers[arn] = artifact_store_uri.rstrip("/")

    # ------------------------------------------------------------------------------------ transport
    def send(self, request: AWSRequest) -> tuple[int, bytes]:
        """`core.mlflow.Transport`: answer one signed request (status, JSON body)."""
        from nova_pipeline.local.iam import current_principal

        principal = self.authorizer.principal() if self.authorizer is not None else current_principal()
        url = urlsplit(request.url)
        path = url.path.removeprefix(API)
        headers = {name.lower(): str(value) for name, value in request.headers.items()}
        body_bytes = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        body = json.loads(body_bytes) if body_bytes else {}
        query = dict(parse_qsl(url.query))
        action = ACTIONS.get((request.method, path))
        with self._lock:
            self.requests.append(MlflowRequest(request.method, path, query, body, headers, principal, action))
        try:
            if self.unavailable:
                raise _Refused(503, "SERVICE_UNAVAILABLE", self.unavailable)
            arn = self._addressed(url.netloc, headers, body_bytes)
            if action is None:
                raise _Refused(404, "ENDPOINT_NOT_FOUND", f"No API endpoint {request.method} {url.path}")
            self._authorize(principal, action, arn)
            with self._lock:
                answer = getattr(self, "_" + action)(arn, body, query)
        except _Refused as refused:
            return refused.status, json.dumps({"error_code": refused.code, "message": refused.message}).encode()
        return 200, json.dumps(answer).encode()

    def _addressed(self, host: str, headers: dict[str, str], body: bytes) -> str:
        """The ARN the request is for, once its host, routing header and signature are as the plugin sends them."""
        arn = headers.get("x-mlflow-sm-tracking-server-arn") or headers.get("x-sm-mlflow-app-arn") or ""
        try:
            target = MlflowTarget.from_arn(arn)
        except ValueError:
            raise _Refused(
                400, "INVALID_PARAMETER_VALUE", f"no MLflow resource ARN in the routing header: {arn!r}"
            ) from None
        if target.routing_header not in headers:
            raise _Refused(400, "INVALID_PARAMETER_VALUE", f"a {target.kind} ARN goes in {target.routing_header}")
        if f"https://{host}" != target.url:
            raise _Refused(400, "INVALID_PARAMETER_VALUE", f"{arn} is served at {target.url}, not https://{host}")
        signature = _AUTHORIZATION.match(headers.get("authorization", ""))
        if signature is None:
            raise _Refused(403, "UNAUTHENTICATED", "missing or malformed SigV4 Authorization header")
        if (signature["region"], signature["service"]) != (target.region, target.signing_name):
            raise _Refused(
                403,
                "UNAUTHENTICATED",
                f"signed for {signature['service']} in {signature['region']}, expected {target.signing_name} in "
                f"{target.region}",
            )
        signed = signature["signed"].split(";")
        missing = [name for name in ("host", "x-amz-date", target.routing_header) if name not in signed]
        if missing:
            raise _Refused(403, "UNAUTHENTICATED", f"the signature does not cover {', '.join(missing)}")
        if headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            raise _Refused(403, "UNAUTHENTICATED", "X-Amz-Content-SHA256 is not the SHA-256 of the body")
        if arn not in self.servers:
            raise _Refused(404, "RESOURCE_DOES_NOT_EXIST", f"MLflow resource {arn} does not exist")
        return arn

    def _authorize(self, principal: str, action: str, arn: str) -> None:
        if self.authorizer is None or principal == ADMIN:
            return
        try:
            self.authorizer.check(principal, f"sagemaker-mlflow:{action}", [need(f"sagemaker-mlflow:{action}", arn)])
        except AccessDenied as denied:
            raise _Refused(403, "PERMISSION_DENIED", str(denied)) from None

    # ----------------------------------------------------------------------------------- REST calls
    def _experiment(self, arn: str, name: str) -> dict[str, Any] | None:
        return next((e for e in self.experiments.values() if e["arn"] == arn and e["name"] == name), None)

    def _GetExperimentByName(self, arn: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        experiment = self._experiment(arn, query.get("experiment_name", ""))
        if experiment is None:
            raise _Refused(404, "RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{query}'")
        return {"experiment": {k: v for k, v in experiment.items() if k != "arn"}}

    def _CreateExperiment(self, arn: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        name = str(body.get("name") or "")
        if not name:
            raise _Refused(400, "INVALID_PARAMETER_VALUE", "Invalid experiment name: ''")
        if self._experiment(arn, name) is not None:
            raise _Refused(400, "RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
        experiment_id = str(len(self.experiments) + 1)
        self.experiments[experiment_id] = {
            "arn": arn,
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": f"{self.servers[arn]}/{experiment_id}",
            "lifecycle_stage": "active",
        }
        return {"experiment_id": experiment_id}

    def _SearchRuns(self, arn: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        match = _RUN_NAME_FILTER.match(str(body.get("filter", "")).strip())
        if match is None:
            raise _Refused(400, "INVALID_PARAMETER_VALUE", f"the twin's MLflow filters by run name only: {body}")
        found = [
            run
            for run in self.runs.values()
            if run["info"]["experiment_id"] in body.get("experiment_ids", [])
            and run["tags"].get("mlflow.runName") == match[1]
        ]
        found.sort(key=lambda run: run["info"]["start_time"])
        return {"runs": [self._view(run) for run in found[: int(body.get("max_results", 1000))]]}

    def _CreateRun(self, arn: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        experiment = self.experiments.get(str(body.get("experiment_id")))
        if experiment is None or experiment["arn"] != arn:
            raise _Refused(404, "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={body.get('experiment_id')} exists")
        run_id = uuid.uuid4().hex
        tags = {tag["key"]: tag["value"] for tag in body.get("tags", [])}
        if body.get("run_name"):
            tags["mlflow.runName"] = body["run_name"]
        self.runs[run_id] = {
            "info": {
                "run_id": run_id,
                "run_uuid": run_id,
                "run_name": tags.get("mlflow.runName", ""),
                "experiment_id": experiment["experiment_id"],
                "status": "RUNNING",
                "start_time": int(body.get("start_time", 0)),
                "artifact_uri": f"{experiment['artifact_location']}/{run_id}/artifacts",
                "lifecycle_stage": "active",
            },
            "params": {},
            "metrics": [],
            "tags": tags,
        }
        return {"run": self._view(self.runs[run_id])}

    def _LogBatch(self, arn: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        run = self._run(str(body.get("run_id")))
        metrics, params, tags = body.get("metrics", []), body.get("params", []), body.get("tags", [])
        if len(metrics) > MAX_METRICS or len(params) > MAX_PARAMS_OR_TAGS or len(tags) > MAX_PARAMS_OR_TAGS:
            raise _Refused(400, "INVALID_PARAMETER_VALUE", "A batch logging request exceeds a per-request limit")
        if len(metrics) + len(params) + len(tags) > MAX_ENTITIES:
            raise _Refused(400, "INVALID_PARAMETER_VALUE", "A batch logging request can contain at most 1000 entities")
        for item in (*metrics, *params, *tags):
            if not _KEY.match(item["key"]) or len(item["key"]) > 250:  # MLflow's key length limit
                raise _Refused(400, "INVALID_PARAMETER_VALUE", f"Invalid name: '{item['key']}'")
        for param in params:
            logged = run["params"].get(param["key"])
            if logged is not None and logged != param["value"]:
                raise _Refused(
                    400,
                    "INVALID_PARAMETER_VALUE",
                    f"Changing param values is not allowed. Param with key='{param['key']}' was already logged "
                    f"with value='{logged}' for run ID='{body['run_id']}'. Attempted logging new value "
                    f"'{param['value']}'.",
                )
        for metric in metrics:
            if not isinstance(metric.get("value"), int | float) or not isinstance(metric.get("step", 0), int):
                raise _Refused(400, "INVALID_PARAMETER_VALUE", f"Got invalid metric {metric}")
        run["params"].update({param["key"]: param["value"] for param in params})
        run["metrics"].extend(metrics)
        run["tags"].update({tag["key"]: tag["value"] for tag in tags})
        return {}

    def _UpdateRun(self, arn: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        run = self._run(str(body.get("run_id")))
        if "status" in body:
            run["info"]["status"] = body["status"]
        if "end_time" in body:
            run["info"]["end_time"] = body["end_time"]
        return {"run_info": dict(run["info"])}

    def _run(self, run_id: str) -> dict[str, Any]:
        if run_id not in self.runs:
            raise _Refused(404, "RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")
        return self.runs[run_id]

    @staticmethod
    def _view(run: dict[str, Any]) -> dict[str, Any]:
        latest: dict[str, dict[str, Any]] = {}
        for metric in run["metrics"]:
            latest[metric["key"]] = metric
        return {
            "info": dict(run["info"]),
            "data": {
                "metrics": list(latest.values()),
                "params": [{"key": k, "value": v} for k, v in run["params"].items()],
                "tags": [{"key": k, "value": v} for k, v in run["tags"].items()],
            },
        }

    # ------------------------------------------------------------------------------- training jobs
    def log_training_job(self, job_arn: str, config: dict[str, str]) -> None:
        """What a SageMaker training job created with `MlflowConfig` logs (SIMULATED), as its execution role: a new
        run named `MlflowRunName` in the experiment `MlflowExperimentName` (found or created), as MLflow's
        `start_run(run_name=...)` does (every job of a multi-stage execution starts one), its loss, FINISHED.
        A server the twin does not know is not logged to; a refusal is kept in `training_failures` (what SageMaker
        does with a job that cannot log is not documented), the job goes on."""
        arn = config["MlflowResourceArn"]
        if arn not in self.servers:
            return
        import boto3

        from nova_pipeline.core.mlflow import MlflowClient, MlflowError

        client = MlflowClient(MlflowTarget.from_arn(arn), boto3.Session().get_credentials())
        try:
            experiment_id = client.experiment_id(config["MlflowExperimentName"])
            now = int(time.time() * 1000)
            tags = {"sagemaker.trainingJobArn": job_arn}
            info = client.create_run(experiment_id, config["MlflowRunName"], now, tags)
            run_id = str(info["info"]["run_id"])
            client.log_batch(run_id, [{"key": "train_loss", "value": 0.5, "timestamp": now, "step": 1}], {}, {})
            client.finish_run(run_id, now)
        except MlflowError as error:
            self.training_failures.append(f"{job_arn}: {error}")

    # ------------------------------------------------------------------------------------- queries
    def run_named(self, experiment: str, run_name: str) -> dict[str, Any]:
        """The run `run_name` of the experiment `experiment` (for tests), with everything logged to it."""
        [experiment_id] = [k for k, e in self.experiments.items() if e["name"] == experiment]
        [run] = [
            r
            for r in self.runs.values()
            if r["info"]["experiment_id"] == experiment_id and r["tags"].get("mlflow.runName") == run_name
        ]
        return run
