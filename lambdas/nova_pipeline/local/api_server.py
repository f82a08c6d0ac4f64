"""`nova-pipeline serve-local`: the inference API on 127.0.0.1 with the real handler and a SIMULATED promoted model.

Requests are turned into API Gateway REST proxy events for `lambdas/inference/handler.py`; SSM comes from moto and
Bedrock from the local simulator. The model served is the one a local run promoted (`local.runs.promoted_model`),
or the built-in example: a simulated customized model trained on `examples/data/support-tickets/tickets.jsonl`
(nearest neighbour), with the example's system prompt.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nova_pipeline.local.runs import PromotedModel
from nova_pipeline.local.simulated_model import CustomizedModel, Example, tokens
from nova_pipeline.local.simulator import REGION, BedrockSimulator, SimulatorSettings, _Deployment, _Model, _Provisioned
from nova_pipeline.promotion.record import ActiveModelRecord, active_model_parameter_name

REPO_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENT = "local"
TICKETS = REPO_ROOT / "examples" / "data" / "support-tickets" / "tickets.jsonl"
SYSTEM_PROMPT = json.loads((REPO_ROOT / "examples" / "sft-classification-nova-micro.json").read_text())["prompt"][
    "system"
]
DEPLOYMENT = f"arn:aws:bedrock:{REGION}:123456789012:custom-model-deployment/local0serve"
MODEL = f"arn:aws:bedrock:{REGION}:123456789012:custom-model/amazon.nova-micro-v1:0:128k/local0serve"


def example_model() -> PromotedModel:
    """The built-in example: a simulated customized model that learned the support-ticket examples."""
    examples = []
    for line in TICKETS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        examples.append(
            Example(SYSTEM_PROMPT, row["text"], row["label"], frozenset(tokens(f"{SYSTEM_PROMPT} {row['text']}")))
        )
    record = ActiveModelRecord(
        deployment_arn=DEPLOYMENT,
        custom_model_arn=MODEL,
        base_model="nova-micro",
        system_prompt=SYSTEM_PROMPT,
        promoted_at=datetime.now(UTC),
        version=1,
    )
    return PromotedModel("built-in example", record, examples)


def _promote(simulator: BedrockSimulator, promoted: PromotedModel) -> None:
    import boto3

    record = promoted.record
    model = CustomizedModel(promoted.examples)
    simulator.models[record.custom_model_arn] = _Model(record.custom_model_arn, promoted.run, 0.0, model, "serve-local")
    if ":provisioned-model/" in record.deployment_arn:  # a full-rank model served through Provisioned Throughput
        simulator.provisioned[record.deployment_arn] = _Provisioned(
            record.deployment_arn, promoted.run, record.custom_model_arn, 1, -1e9, None
        )
    else:
        simulator.deployments[record.deployment_arn] = _Deployment(
            record.deployment_arn, promoted.run, record.custom_model_arn, -1e9, None
        )
    ssm = boto3.client("ssm", region_name=REGION)
    name = active_model_parameter_name(ENVIRONMENT)
    ssm.put_parameter(Name=name, Value=record.model_dump_json(by_alias=True), Type="SecureString", Overwrite=True)


@contextmanager
def local_api_environment(
    settings: SimulatorSettings | None = None, promoted: PromotedModel | None = None
) -> Iterator[tuple[Any, BedrockSimulator]]:
    """moto + the simulator + the real inference handler, with `promoted` (default: the built-in example)
    promoted."""
    import boto3
    from moto import mock_aws

    from nova_pipeline.core import clients
    from nova_pipeline.inference import api
    from nova_pipeline.local.hooks import LambdaDispatcher, LocalFunction, TwinHooks

    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "x"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "x"),
            "NOVA_ENVIRONMENT": ENVIRONMENT,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_SERVICE_NAME": "inference",
        }
    )
    simulator = BedrockSimulator(settings or SimulatorSettings())
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        stack.enter_context(TwinHooks(simulator, LambdaDispatcher()).installed())
        stack.enter_context(clients.use_client_factory(lambda service: boto3.client(service, region_name=REGION)))
        api.api_settings.cache_clear()
        api._provider.cache_clear()
        _promote(simulator, promoted or example_model())
        function = LocalFunction("inference", "arn:aws:lambda:local", REPO_ROOT / "lambdas" / "inference", {})
        yield function.load(), simulator
        api.api_settings.cache_clear()
        api._provider.cache_clear()


class _Context:
    function_name = "inference-local"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())


def api_gateway_event(
    method: str,
    path: str,
    body: str | None,
    *,
    headers: dict[str, str] | None = None,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """The REST API proxy event API Gateway sends the inference function for one request."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers if headers is not None else {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": base64_encoded,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": stage,
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "identity": {"sourceIp": source_ip},
        },
    }


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 resets connections when many clients connect at once (a load test, a burst).
    request_queue_size = 256
    daemon_threads = True


def make_server(handler_module: Any, port: int) -> ThreadingHTTPServer:
    lock = threading.Lock()
    # One invocation at a time, as in one Lambda execution environment: the resolver and the metrics object keep
    # per-invocation state, so concurrent connections queue here instead of sharing it.
    invocation = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "nova-serve-local"
        protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway clients use it

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body, encoded = (raw.decode("utf-8") if raw else None), False
            except UnicodeDecodeError:  # a body that is not text reaches the function base64-encoded (a 400)
                body, encoded = base64.b64encode(raw).decode("ascii"), True
            path = self.path.split("?", 1)[0]
            event = api_gateway_event(
                self.command,
                path,
                body,
                headers=dict(self.headers.items()),
                stage="local",
                source_ip=self.client_address[0],
                base64_encoded=encoded,
            )
            with lock:
                self.server.handled += 1  # type: ignore[attr-defined]
            with invocation:
                response = handler_module.lambda_handler(event, _Context())
            payload = (response.get("body") or "").encode("utf-8")
            self.send_response(int(response["statusCode"]))
            headers = dict(response.get("headers") or {})
            headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()})
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        # Every method reaches the function, as through API Gateway's proxy: it answers a wrong method 405 and an
        # unknown route 404 (the base class would answer 501 itself).
        do_GET = _dispatch  # noqa: N815 - BaseHTTPRequestHandler's naming
        do_POST = _dispatch  # noqa: N815
        do_PUT = _dispatch  # noqa: N815
        do_PATCH = _dispatch  # noqa: N815
        do_DELETE = _dispatch  # noqa: N815
        do_OPTIONS = _dispatch  # noqa: N815

    server = _Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.handled = 0  # type: ignore[attr-defined]
    return server
