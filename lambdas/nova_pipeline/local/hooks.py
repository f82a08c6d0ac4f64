"""Routes botocore calls of this process to the simulator and Lambda invocations to in-process handlers.

Installed for every boto3 client, including the ones moto's Step Functions interpreter creates, through botocore's
event system: `before-parameter-build` records the caller's parameters, `before-call` answers. Calls the simulator
does not handle fall through to moto.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from nova_pipeline.local.iam import AccessDenied, Authorizer, acting_as, need, parameter_key_from_request
from nova_pipeline.local.simulator import BedrockSimulator, SimulatedError

_PARAMS_KEY = "nova_twin_params"
SIMULATED_OPERATIONS = {
    "bedrock": {
        "CreateModelCustomizationJob",
        "GetModelCustomizationJob",
        "StopModelCustomizationJob",
        "CreateCustomModel",
        "GetCustomModel",
        "DeleteCustomModel",
        "CreateCustomModelDeployment",
        "GetCustomModelDeployment",
        "DeleteCustomModelDeployment",
        "ListCustomModels",
        "ListTagsForResource",
        "ListCustomModelDeployments",
        "CreateProvisionedModelThroughput",
        "GetProvisionedModelThroughput",
        "DeleteProvisionedModelThroughput",
        "ListProvisionedModelThroughputs",
    },
    "bedrock-runtime": {"Converse", "ConverseStream"},
    "sagemaker": {"CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"},
}


class InjectedFailure(Exception):  # noqa: N818 - the Step Functions error name shown in the trace
    """A failure injected with --fail-at, to exercise the failure path."""


@dataclass
class LocalFunction:
    """A deployed function of the synthesized app, run in-process from its source folder."""

    name: str
    arn: str
    handler_dir: Path
    environment: dict[str, str]
    handler: str = "lambda_handler"
    fail_with: str | None = None
    module: ModuleType | None = None
    role_arn: str = ""
    log_group: str = ""
    tracing: bool = False

    def load(self) -> ModuleType:
        if self.module is None:
            module_name = f"twin_handler_{self.handler_dir.name}"
            spec = importlib.util.spec_from_file_location(module_name, self.handler_dir / "handler.py")
            if spec is None or spec.loader is None:
                raise RuntimeError(f"cannot load {self.handler_dir / 'handler.py'}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            self.module = module
        return self.module


@dataclass
class _Context:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class _SharedEnvironment:
    """The functions' variables in this process's one `os.environ`, counted: executions run at the same time (and a
    Map's items) invoke functions concurrently, and a variable stays set until the last invocation that set it ends.
    Saving and restoring per invocation would unset another invocation's variables under it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, list[str]] = {}  # variable -> the values active invocations set, newest last
        self._before: dict[str, str | None] = {}  # variable -> what it was before the first of them

    def enter(self, variables: dict[str, str]) -> None:
        with self._lock:
            for key, value in variables.items():
                if key not in self._values:
                    self._before[key] = os.environ.get(key)
                self._values.setdefault(key, []).append(value)
                os.environ[key] = value

    def leave(self, variables: dict[str, str]) -> None:
        with self._lock:
            for key, value in variables.items():
                active = self._values[key]
                active.remove(value)
                if active:
                    os.environ[key] = active[-1]
                    continue
                del self._values[key]
                before = self._before.pop(key)
                if before is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = before


@dataclass
class LambdaDispatcher:
    """Answers lambda:Invoke by running the real handler of the named function in this process."""

    functions: dict[str, LocalFunction] = field(default_factory=dict)
    invocations: list[tuple[str, Any]] = field(default_factory=list)
    authorizer: Authorizer | None = None
    _environment: _SharedEnvironment = field(default_factory=_SharedEnvironment)

    def _platform_checks(self, function: LocalFunction) -> None:
        """What the Lambda service does with the function's role on every invocation: write its logs (to the log
        group of its LoggingConfig) and, with active tracing, send its trace segments (Lambda developer guide,
        "Defining Lambda function permissions with an execution role")."""
        if self.authorizer is None or not function.role_arn:
            return
        stream = function.log_group.removesuffix(":*") + ":log-stream:2026/12/02/[$LATEST]twin"
        needs = [need("logs:CreateLogStream", stream), need("logs:PutLogEvents", stream)]
        if function.tracing:
            needs += [need("xray:PutTraceSegments", "*"), need("xray:PutTelemetryRecords", "*")]
        self.authorizer.check(function.role_arn, f"lambda runtime of {function.name}", needs)

    def add(self, function: LocalFunction) -> None:
        self.functions[function.name] = function
        self.functions[function.arn] = function

    def invoke(self, function_name: str, payload: bytes) -> dict[str, Any]:
        function = self.functions.get(function_name) or self.functions.get(function_name.rsplit(":", maxsplit=1)[-1])
        if function is None:
            raise SimulatedError("ResourceNotFoundException", f"Function not found: {function_name}", 404)
        event = json.loads(payload or b"{}")
        self.invocations.append((function.name, event))
        self._environment.enter(function.environment)
        try:
            self._platform_checks(function)
            if function.fail_with:
                raise InjectedFailure(function.fail_with)
            with acting_as(function.role_arn or "admin"):
                module = function.load()
                result = getattr(module, function.handler)(event, _Context(function.name, function.arn))
            return _invoke_response(json.dumps(result).encode(), error=False)
        except Exception as error:
            body = {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            return _invoke_response(json.dumps(body).encode(), error=True)
        finally:
            self._environment.leave(function.environment)


def _invoke_response(body: bytes, *, error: bool) -> dict[str, Any]:
    response: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(_BytesReader(body), len(body)),
    }
    if error:
        response["FunctionError"] = "Unhandled"
    return response


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._offset = data, 0

    def read(self, amount: int | None = None) -> bytes:
        end = len(self._data) if amount is None else self._offset + amount
        chunk, self._offset = self._data[self._offset : end], min(end, len(self._data))
        return chunk

    def close(self) -> None:
        return None


class TwinHooks:
    """The two botocore handlers, active only inside `installed()`."""

    def __init__(
        self, simulator: BedrockSimulator, dispatcher: LambdaDispatcher, authorizer: Authorizer | None = None
    ) -> None:
        self.simulator, self.dispatcher, self.active = simulator, dispatcher, False
        self.authorizer = authorizer

    def remember_params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        if not self.active:
            return
        if service in SIMULATED_OPERATIONS or (service, model.name) == ("lambda", "Invoke"):
            context[_PARAMS_KEY] = json.loads(json.dumps(params, default=_bytes_as_text))
        elif self.authorizer is not None:
            context[_PARAMS_KEY] = {key: value for key, value in params.items() if key != "Body"}

    def _authorize(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if self.authorizer is None:
            return
        self.authorizer.authorize_call(service, operation, params)
        if (service, operation) == ("ssm", "PutParameter"):
            remembered = parameter_key_from_request(params)
            if remembered:
                self.authorizer.keys.parameters[remembered[0]] = remembered[1]

    def answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.active:
            return None
        service, operation = model.service_model.service_name, model.name
        params = context.get(_PARAMS_KEY, {})
        try:
            self._authorize(service, operation, params)
        except AccessDenied as denied:
            code = {"s3": "AccessDenied", "sns": "AuthorizationError"}.get(service, "AccessDeniedException")
            parsed = {"Error": {"Code": code, "Message": str(denied)}, "ResponseMetadata": {"HTTPStatusCode": 403}}
            return AWSResponse("https://simulated.local", 403, {}, None), parsed
        try:
            if (service, operation) == ("stepfunctions", "SendTaskFailure"):
                parsed = _send_task_failure(params)
            elif service == "lambda" and operation == "Invoke":
                payload = params.get("Payload", "")
                parsed = self.dispatcher.invoke(params["FunctionName"], payload.encode())
            elif operation in SIMULATED_OPERATIONS.get(service, ()):
                parsed = self.simulator.handle(service, operation, params)
            else:
                return None
        except SimulatedError as error:
            status = error.status
            parsed = {
                "Error": {"Code": error.code, "Message": error.message},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse("https://simulated.local", status, {}, None), parsed
        parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())})
        return AWSResponse("https://simulated.local", 200, {}, None), parsed

    @contextmanager
    def installed(self) -> Iterator[TwinHooks]:
        handlers: list[tuple[str, Callable[..., Any]]] = [
            ("before-parameter-build", self.remember_params),
            ("before-call", self.answer),
        ]
        botocore.handlers.BUILTIN_HANDLERS.extend(handlers)
        session_events = boto3._get_default_session().events
        for event, handler in handlers:
            session_events.register_first(event, handler, unique_id=f"nova-twin-{event}")
        self.active = True
        try:
            yield self
        finally:
            self.active = False
            for entry in handlers:
                botocore.handlers.BUILTIN_HANDLERS.remove(entry)
            for event, _handler in handlers:
                session_events.unregister(event, unique_id=f"nova-twin-{event}")


def _send_task_failure(params: dict[str, Any]) -> dict[str, Any]:
    """SendTaskFailure with its `cause`: moto's response handler passes the error only, so the cause a rejecting
    approver gives would be lost; the twin hands both to moto's own callback (as Step Functions records both)."""
    from moto.stepfunctions.responses import get_backend

    from nova_pipeline.local.template import ACCOUNT, REGION

    backend: Any = get_backend(ACCOUNT, REGION)  # the interpreter's backend (execute_state_machine), which takes it
    try:
        backend.send_task_failure(params["taskToken"], error=params.get("error"), cause=params.get("cause"))
    except Exception as error:  # moto's TaskTimedOut, InvalidToken, TaskDoesNotExist (codes as AWS names them)
        code = getattr(error, "code", None) or getattr(error, "error_type", None) or type(error).__name__
        raise SimulatedError(str(code), str(getattr(error, "message", error)), 400) from None
    return {}


def _bytes_as_text(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8")
    if hasattr(value, "read"):
        return value.read().decode("utf-8")
    raise TypeError(f"cannot serialize {type(value).__name__}")
