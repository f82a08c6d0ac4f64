"""The offline twin: the synthesized state machine, run by moto's Step Functions interpreter, with every Lambda
task dispatched in-process to its real handler, S3/SNS/SSM/IAM from moto and Bedrock from the local simulator.

Nothing is re-declared here: the definition, the function list, their handlers and environment variables all come
from the templates the CDK app synthesizes, so a broken `ResultPath` or a missing environment variable fails here
exactly as it would in AWS. Only the poll interval is shortened (about a second instead of minutes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova_pipeline.core import layout
from nova_pipeline.local.eventbridge import EventBus
from nova_pipeline.local.iam import (
    ADMIN,
    Authorizer,
    KeyDirectory,
    PolicyBook,
    acting_as,
    need,
    principals_follow_thread_pools,
)
from nova_pipeline.local.result_writer import results_written_to_s3
from nova_pipeline.local.simulated_model import SIMULATED_LABEL
from nova_pipeline.local.simulator import BedrockSimulator, SimulatorSettings
from nova_pipeline.local.template import ACCOUNT, REGION, CloudAssembly
from nova_pipeline.prepare.sources import walk_folder

REPO_ROOT = Path(__file__).resolve().parents[3]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
EXAMPLE_DATA = REPO_ROOT / "examples" / "data"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class TwinOptions:
    environment: str = "dev"
    fail_at: str | None = None
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    poll_interval_seconds: int = 1
    timeout_seconds: float = 300.0
    log_level: str = "ERROR"
    function_environment: dict[str, str] = field(default_factory=dict)
    # The simulated quota: evaluation is paced to it, as it is to the account's quota in AWS.
    evaluation_requests_per_minute: int = 6000
    # What `run()` answers when an execution waits for an approval: "approve" or "reject" as the operator would
    # with `nova-pipeline approve` / `reject`; None leaves it waiting (a test decides, or the timeout does).
    approval: str | None = None
    # Called with a line for each long step (synthesis on a cold cache, set-up), for a progress display.
    progress: Callable[[str], None] | None = None


@dataclass
class TraceEntry:
    state: str
    entered: float
    exited: float | None = None
    retries: int = 0
    error: str | None = None


@dataclass
class ExecutionResult:
    name: str
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    seconds: float
    trace: list[TraceEntry]
    history: list[dict[str, Any]]


@dataclass(frozen=True)
class SynthesizedApp:
    """Templates by stack name, and the text of the JSON file assets (state machine definitions) by S3 key."""

    templates: dict[str, dict[str, Any]]
    json_assets: dict[str, str]


SYNTH_INPUTS = ("app.py", "cdk.json", "package.json", "requirements-lambda.txt", "stacks", "stepfunctions", "lambdas")
SYNTH_CACHE = REPO_ROOT / ".build" / "twin-assembly"


def synthesis_key(environment: str) -> str:
    """A hash of everything the synthesized templates depend on: the CDK app, its settings, the functions' code."""
    digest = hashlib.sha256(environment.encode())
    for name in SYNTH_INPUTS:
        root = REPO_ROOT / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and _is_source(p))
        for path in files:
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and ".egg-info" not in str(path) and path.suffix != ".pyc"


def synthesis_progress(environment: str) -> str | None:
    """What to tell the user before `cached_synthesis` when it will synthesize (None when the cache holds the app)."""
    if (SYNTH_CACHE / f"{environment}-{synthesis_key(environment)}.json").is_file():
        return None
    changed = any(SYNTH_CACHE.glob(f"{environment}-*.json"))
    why = "its sources changed since the last run" if changed else "first run"
    return f"synthesizing the {environment} app ({why}; 10-60 s, once) ..."


def cached_synthesis(environment: str) -> SynthesizedApp:
    """The synthesized app for `environment`, from `.build/twin-assembly/` when none of its inputs changed (a warm
    `run-local` skips the 10-50 s of synthesis), else synthesized and cached."""
    cache = SYNTH_CACHE / f"{environment}-{synthesis_key(environment)}.json"
    if cache.is_file():
        document = json.loads(cache.read_text(encoding="utf-8"))
        return SynthesizedApp(document["templates"], document["json_assets"])
    with tempfile.TemporaryDirectory(prefix="nova-twin-cdk-") as outdir:
        app = synthesize(environment, Path(outdir))
    SYNTH_CACHE.mkdir(parents=True, exist_ok=True)
    for stale in SYNTH_CACHE.glob(f"{environment}-*.json"):
        stale.unlink()
    temporary = cache.with_suffix(".tmp")
    temporary.write_text(json.dumps({"templates": app.templates, "json_assets": app.json_assets}), encoding="utf-8")
    temporary.replace(cache)
    return app


def synthesize(environment: str, outdir: Path, overrides: dict[str, Any] | None = None) -> SynthesizedApp:
    """Synthesize the CDK app for one environment: its templates and JSON file assets; `overrides`: settings of the
    environment's `cdk.json` block replaced (tests of an optional setting, such as `mlflowTrackingArn`)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    pinned_node = REPO_ROOT / "node_modules" / ".bin"  # jsii runs the CDK in the pinned Node.js 22, however started
    if pinned_node.is_dir() and not os.environ.get("PATH", "").startswith(str(pinned_node)):
        os.environ["PATH"] = f"{pinned_node}{os.pathsep}{os.environ.get('PATH', '')}"
    from aws_cdk import App

    from stacks.app_builder import add_environment
    from stacks.config import CONTEXT_KEY, load_environments

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    if overrides:
        blocks = context[CONTEXT_KEY]
        context[CONTEXT_KEY] = {**blocks, environment: {**blocks[environment], **overrides}}
    app = App(outdir=str(outdir), context={**context, "env": environment})
    [settings] = load_environments(context[CONTEXT_KEY], environment)
    stacks = add_environment(app, settings)
    assembly = app.synth()
    templates = {stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template for stack in stacks.all()}
    json_assets = {
        path.name.removeprefix("asset."): path.read_text(encoding="utf-8")
        for path in Path(assembly.directory).glob("asset.*.json")
    }
    return SynthesizedApp(templates, json_assets)


def defer_moto_batch() -> None:
    """moto's Step Functions interpreter imports `moto.batch.utils` for its Batch task integration, and the package's
    `__init__` imports the Batch and EC2 models: 1-3 s of every run, which uses neither. The package is registered
    without running its `__init__`; `batch_backends` is imported when first asked for (a PEP 562 module
    `__getattr__`), so moto's backend lookup and `from moto.batch import models` work as before."""
    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)

    def batch_attribute(name: str) -> Any:
        if name == "batch_backends":
            from moto.batch.models import batch_backends

            return batch_backends
        raise AttributeError(f"module 'moto.batch' has no attribute {name!r}")

    module.__getattr__ = batch_attribute  # type: ignore[method-assign]
    sys.modules["moto.batch"] = module


class OfflineTwin:
    """Use as a context manager; `run()` executes one input and returns the result with a state-by-state trace."""

    def __init__(self, options: TwinOptions | None = None, app: SynthesizedApp | None = None) -> None:
        self.options = options or TwinOptions()
        self._app = app
        self._stack = ExitStack()
        self.simulator = BedrockSimulator(self.options.simulator)
        self.assembly: CloudAssembly
        self.state_machine_arn = ""
        self.data_bucket = ""
        self.topic_arn = ""
        self.dispatcher: Any = None
        self.authorizer: Authorizer | None = None
        self.mlflow: Any = None
        self.events: EventBus | None = None
        self._started: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------ set-up
    def __enter__(self) -> OfflineTwin:
        if self._app is None:
            message = synthesis_progress(self.options.environment) if self.options.progress else None
            if self.options.progress is not None and message is not None:
                self.options.progress(message)
            self._app = cached_synthesis(self.options.environment)
        if self.options.progress is not None:
            self.options.progress("starting simulated AWS (moto, the Bedrock simulator, IAM from the templates) ...")
        self.assembly = CloudAssembly(self._app.templates)
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self.options.log_level,
            }
        )
        import logging
        import warnings

        from moto import mock_aws

        defer_moto_batch()
        warnings.filterwarnings("ignore", message="No application metrics to publish")

        # moto's interpreter logs every state failure with its internals; the trace says it better.
        logging.getLogger("moto").setLevel(logging.CRITICAL)

        self._stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        from nova_pipeline.local.hooks import LambdaDispatcher, TwinHooks

        # This thread is the operator (set-up, uploads, start and watch executions): unchecked. Lambda invocations,
        # simulated jobs and the interpreter's threads run as the roles of the synthesized templates.
        self._stack.enter_context(acting_as(ADMIN))
        self._stack.enter_context(principals_follow_thread_pools())
        self.authorizer = Authorizer(PolicyBook.from_assembly(self.assembly), KeyDirectory(self.assembly))
        self.simulator.authorizer = self.authorizer
        self._stack.enter_context(results_written_to_s3(self.authorizer))

        from nova_pipeline.core.mlflow import use_transport
        from nova_pipeline.local.mlflow_server import SimulatedMlflow

        self.mlflow = self.simulator.mlflow = SimulatedMlflow(authorizer=self.authorizer)
        self._stack.enter_context(use_transport(self.mlflow.send))
        self.dispatcher = LambdaDispatcher(authorizer=self.authorizer)
        self._stack.enter_context(TwinHooks(self.simulator, self.dispatcher, self.authorizer).installed())
        self._stack.enter_context(self._fresh_clients())
        try:
            self._create_resources()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @contextmanager
    def _fresh_clients(self) -> Iterator[None]:
        import boto3

        from nova_pipeline.core import clients

        with clients.use_client_factory(lambda service: boto3.client(service, region_name=REGION)):
            yield

    def _create_resources(self) -> None:
        import boto3

        from nova_pipeline.local.hooks import LocalFunction

        s3 = boto3.client("s3", region_name=REGION)
        for bucket in self.assembly.of_type("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=bucket.physical_id)
            versioning = bucket.properties.get("VersioningConfiguration", {}).get("Status")
            if versioning == "Enabled":  # object events then carry a version id, as in AWS
                s3.put_bucket_versioning(Bucket=bucket.physical_id, VersioningConfiguration={"Status": "Enabled"})
            if "DataKey" not in bucket.logical_id and bucket.logical_id.startswith("Data"):
                self.data_bucket = bucket.physical_id
        self._bucket_notifications(s3)
        sns = boto3.client("sns", region_name=REGION)
        for topic in self.assembly.of_type("AWS::SNS::Topic"):
            self.topic_arn = sns.create_topic(Name=topic.physical_id)["TopicArn"]
        [machine] = self.assembly.of_type("AWS::StepFunctions::StateMachine")
        definition = self._definition(machine)
        self.definition = json.loads(definition)
        failing = self._injected_failure_target()
        injected = f"failure injected at {self.options.fail_at} by --fail-at"
        for function in self.assembly.of_type("AWS::Lambda::Function"):
            variables = self.assembly.resolve(function.stack, function.properties.get("Environment", {}))
            variables = variables.get("Variables", {})
            service = variables.get("POWERTOOLS_SERVICE_NAME")
            if not service or not (LAMBDAS_DIR / service / "handler.py").is_file():
                continue  # CDK's own helper functions (e.g. bucket auto-delete) are not part of the run
            self._mlflow_server(variables, s3)
            variables["NOVA_POLL_INTERVAL_SECONDS"] = str(self.options.poll_interval_seconds)
            variables["POWERTOOLS_LOG_LEVEL"] = self.options.log_level
            variables["NOVA_SIMULATED"] = "true"
            variables["NOVA_EVALUATION_RPM"] = str(self.options.evaluation_requests_per_minute)
            variables["NOVA_EVALUATION_START_RPM"] = str(self.options.evaluation_requests_per_minute)
            variables.update(self.options.function_environment)
            handler_name = str(function.properties["Handler"]).split(".", 1)[1]
            logging = self.assembly.resolve(function.stack, function.properties.get("LoggingConfig", {}))
            log_group = logging.get("LogGroup")
            log_group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*" if log_group else ""
            local = LocalFunction(
                name=function.physical_id,
                arn=function.arn,
                handler_dir=LAMBDAS_DIR / service,
                handler=handler_name,
                environment={key: str(value) for key, value in variables.items()},
                fail_with=injected if _function_name(function.arn) == failing else None,
                role_arn=str(self.assembly.resolve(function.stack, function.properties["Role"])),
                log_group=log_group_arn,
                tracing=function.properties.get("TracingConfig", {}).get("Mode") == "Active",
            )
            self.dispatcher.add(local)
        # The rules of the app on the default event bus (data-triggered runs), fed by buckets with EventBridge on.
        self.events = EventBus.from_assembly(self.assembly, self.dispatcher.invoke)
        self._stack.enter_context(self.events.receiving_s3_events())
        role_arn = str(self.assembly.resolve(machine.stack, machine.properties["RoleArn"]))
        assert self.authorizer is not None
        self.authorizer.state_machine_role = role_arn
        deployed_name = self.assembly.resolve(machine.stack, machine.properties.get("StateMachineName"))
        self.authorizer.state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{deployed_name}"
        self._state_machine_platform_checks(machine, role_arn)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        self.state_machine_arn = sfn.create_state_machine(
            name=str(deployed_name), definition=definition, roleArn=role_arn
        )["stateMachineArn"]

    def _mlflow_server(self, variables: dict[str, Any], s3: Any) -> None:
        """The environment's MLflow server or app (`mlflowTrackingArn`) exists in the twin, with its artifact store
        (`mlflowArtifactStoreUri`; a bucket of the twin's own otherwise), as it exists in the account."""
        arn, store = variables.get("NOVA_MLFLOW_TRACKING_ARN"), variables.get("NOVA_MLFLOW_ARTIFACT_STORE_URI")
        if not arn or (arn in self.mlflow.servers and not store):  # not every function is told the store
            return
        store = store or "s3://nova-twin-mlflow-artifacts/mlflow"
        bucket = store.removeprefix("s3://").split("/", 1)[0]
        if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=bucket)
        self.mlflow.add_server(arn, store)

    def _bucket_notifications(self, s3: Any) -> None:
        """What CloudFormation does at deploy time with CDK's bucket-notifications custom resource: its handler
        function, under that function's role, puts the bucket's notification configuration (EventBridge delivery
        for data-triggered runs; a managed bucket's handler only puts)."""
        functions = {f.arn: f for f in self.assembly.of_type("AWS::Lambda::Function")}
        for custom in self.assembly.of_type("Custom::S3BucketNotifications"):
            properties = self.assembly.resolve(custom.stack, custom.properties)
            handler = functions[str(properties["ServiceToken"])]
            role_arn = str(self.assembly.resolve(handler.stack, handler.properties["Role"]))
            with acting_as(role_arn):
                s3.put_bucket_notification_configuration(
                    Bucket=properties["BucketName"], NotificationConfiguration=properties["NotificationConfiguration"]
                )

    def _state_machine_platform_checks(self, machine: Any, role_arn: str) -> None:
        """What Step Functions does with the state machine's role when it is created with logging and tracing
        (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs" and "X-Ray")."""
        assert self.authorizer is not None
        needs = []
        if machine.properties.get("LoggingConfiguration"):
            needs += [
                need(f"logs:{action}", "*")
                for action in (
                    "CreateLogDelivery",
                    "GetLogDelivery",
                    "UpdateLogDelivery",
                    "DeleteLogDelivery",
                    "ListLogDeliveries",
                    "PutResourcePolicy",
                    "DescribeResourcePolicies",
                    "DescribeLogGroups",
                )
            ]
        if machine.properties.get("TracingConfiguration", {}).get("Enabled"):
            needs += [
                need(f"xray:{action}", "*")
                for action in ("PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets")
            ]
        self.authorizer.check(role_arn, "Step Functions configures logging and tracing", needs)

    def _definition(self, machine: Any) -> str:
        """The definition CloudFormation would deploy (DefinitionString, or an S3 asset) with its substitutions."""
        assert self._app is not None
        properties = machine.properties
        if "DefinitionString" in properties:
            text = str(self.assembly.resolve(machine.stack, properties["DefinitionString"]))
        else:
            key = self.assembly.resolve(machine.stack, properties["DefinitionS3Location"]["Key"])
            text = self._app.json_assets[key]
        substitutions = self.assembly.resolve(machine.stack, properties.get("DefinitionSubstitutions", {}))
        for name, value in substitutions.items():
            text = text.replace("${" + name + "}", str(value))
        return text

    def _injected_failure_target(self) -> str | None:
        """The name of the function that the Task state named by --fail-at invokes, as the definition says."""
        target = self.options.fail_at
        if not target:
            return None
        tasks = task_functions(self.definition)
        if target not in tasks:
            raise ValueError(f"--fail-at {target}: no Task state of that name; the task states are {sorted(tasks)}")
        return _function_name(tasks[target])

    def upload_example_data(self) -> list[str]:
        """Copy examples/data/<name>/... to s3://<data bucket>/raw/<name>/..., as a user would upload it."""
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        keys = []
        for path in sorted(EXAMPLE_DATA.rglob("*")):
            if path.is_file():
                key = f"raw/{path.relative_to(EXAMPLE_DATA).as_posix()}"
                s3.put_object(Bucket=self.data_bucket, Key=key, Body=path.read_bytes())
                keys.append(key)
        return keys

    def upload_local_dataset(self, execution_input: dict[str, Any], base: Path) -> dict[str, Any]:
        """A `dataset.uri` that is a local file or folder is uploaded to `raw/local/<name>/` of the simulated data
        bucket, as a user would upload it to AWS, and the input points there; any other URI is left as it is (a key
        under `raw/` of the data bucket)."""
        dataset = execution_input.get("dataset")
        if not isinstance(dataset, dict):
            return execution_input
        uri = dataset.get("uri")
        if not isinstance(uri, str) or uri.startswith("s3://"):
            return execution_input
        local = (base / uri).expanduser() if not Path(uri).is_absolute() else Path(uri)
        if not local.exists() or (str(uri).startswith(layout.RAW) and not local.is_relative_to(base)):
            return execution_input
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        prefix = f"{layout.RAW}local/{local.name if local.is_dir() else local.parent.name}/"
        # A folder's links are followed only to files inside it (never to /etc/passwd); what is left out is said.
        files, skipped = walk_folder(local) if local.is_dir() else ([local], [])
        for entry in skipped:
            print(f"not uploaded: {entry.name} ({entry.reason})", file=sys.stderr)
        for path in files:
            relative = path.relative_to(local if local.is_dir() else local.parent).as_posix()
            s3.put_object(Bucket=self.data_bucket, Key=prefix + relative, Body=path.read_bytes())
        target = prefix if local.is_dir() else prefix + local.name
        return {**execution_input, "dataset": {**dataset, "uri": target}}

    def invoke_api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call the deployed inference API's function as API Gateway does (a REST proxy event), under its role."""
        [function] = [f for f in self.dispatcher.functions.values() if f.handler_dir.name == "inference"][:1]
        from nova_pipeline.local.api_server import api_gateway_event

        event = api_gateway_event(method, path, json.dumps(body) if body is not None else None, stage="twin")
        response = self.dispatcher.invoke(function.arn, json.dumps(event).encode())
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        return payload

    def run_schedules(self) -> list[dict[str, Any]]:
        """Fire every EventBridge Scheduler schedule of the app once, as the service does: it invokes the target
        function with the schedule's input as the schedule's role (EventBridge Scheduler user guide, "Set up the
        execution role"). The function's results, in template order."""
        assert self.authorizer is not None
        results = []
        for schedule in self.assembly.of_type("AWS::Scheduler::Schedule"):
            target = self.assembly.resolve(schedule.stack, schedule.properties["Target"])
            self.authorizer.check(
                str(target["RoleArn"]), "EventBridge Scheduler invokes its target",
                [need("lambda:InvokeFunction", str(target["Arn"]))],
            )  # fmt: skip
            response = self.dispatcher.invoke(str(target["Arn"]), str(target.get("Input", "{}")).encode())
            results.append(json.loads(response["Payload"].read()))
        return results

    # -------------------------------------------------------------------------------------------- run
    def run(self, execution_input: dict[str, Any], name: str | None = None) -> ExecutionResult:
        return self.wait(self.start(execution_input, name))

    def start(self, execution_input: dict[str, Any], name: str | None = None) -> str:
        """Start an execution and return its ARN without waiting (see `wait`)."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        name = name or f"local-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self._started[name] = time.monotonic()
        arn: str = sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        return arn

    def approval_pending(self, execution_arn: str) -> bool:
        """Whether the execution has stored an approval's task token (RequestApproval ran). Read from moto's store
        directly: a polling loop of requests would read the process environment while functions change it."""
        from moto.s3.models import s3_backends

        from nova_pipeline.promotion.approval import execution_name

        bucket = s3_backends[ACCOUNT]["aws"].buckets.get(self.data_bucket)
        return bucket is not None and layout.approval(execution_name(execution_arn)) in bucket.keys

    def decide(self, execution_arn: str, *, approve: bool, reason: str | None = None) -> dict[str, Any]:
        """What `nova-pipeline approve` / `reject` do, as the operator."""
        import boto3

        from nova_pipeline.promotion.approval import decide

        return decide(
            stepfunctions=boto3.client("stepfunctions", region_name=REGION),
            s3=boto3.client("s3", region_name=REGION),
            data_bucket=self.data_bucket,
            execution_arn=execution_arn,
            approve=approve,
            by="arn:aws:iam::123456789012:user/twin-operator",
            reason=reason,
        )

    def wait(self, arn: str) -> ExecutionResult:
        """Wait for the execution to end, answering its approval as `options.approval` says."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        name = arn.rsplit(":", 1)[-1]
        started = self._started.get(name, time.monotonic())
        decided = False
        while True:
            description = sfn.describe_execution(executionArn=arn)
            if description["status"] in TERMINAL:
                break
            if self.options.approval and not decided and self.approval_pending(arn):
                self.decide(arn, approve=self.options.approval == "approve", reason=f"{self.options.approval} (twin)")
                decided = True
            if time.monotonic() - started > self.options.timeout_seconds:
                sfn.stop_execution(executionArn=arn, error="TwinTimeout", cause="the offline run took too long")
                description = sfn.describe_execution(executionArn=arn)
                break
            time.sleep(0.2)
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        output = json.loads(description["output"]) if description.get("output") else None
        return ExecutionResult(
            name=name,
            arn=arn,
            status=description["status"],
            output=output,
            error=description.get("error"),
            cause=description.get("cause"),
            seconds=time.monotonic() - started,
            trace=_trace(history),
            history=history,
        )


def task_functions(definition: dict[str, Any]) -> dict[str, str]:
    """The function ARN each Lambda Task state invokes, by state name (states inside Map and Parallel included)."""
    found: dict[str, str] = {}
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            resource = str(state.get("Resource", ""))
            if resource.startswith("arn:aws:states:::lambda:invoke"):
                arguments = state.get("Arguments") or state.get("Parameters") or {}
                resource = str(arguments.get("FunctionName", ""))
            if ":lambda:" in resource:
                found[name] = resource
        for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if nested:
                found.update(task_functions(nested))
    return found


def _function_name(arn: str) -> str:
    """`name` of `arn:aws:lambda:<region>:<account>:function:name[:qualifier]` (or of a bare name)."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def _trace(history: list[dict[str, Any]]) -> list[TraceEntry]:
    entries: list[TraceEntry] = []
    for event in history:
        kind = event["type"]
        timestamp = event["timestamp"].timestamp()
        if kind.endswith("StateEntered"):
            entries.append(TraceEntry(event["stateEnteredEventDetails"]["name"], timestamp))
        elif kind.endswith("StateExited") and entries:
            entries[-1].exited = timestamp
        elif kind in ("LambdaFunctionFailed", "TaskFailed") and entries:
            details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails") or {}
            entries[-1].retries += 1
            entries[-1].error = details.get("error")
    return entries


def format_trace(result: ExecutionResult, report: Path | None = None, why: list[str] | None = None) -> str:
    """The state-by-state trace a user reads after `run-local`; `why`: the lines that say why a run failed
    (default: its error and cause as Step Functions gives them)."""
    lines = [f"execution {result.name}: {result.status} in {result.seconds:.1f} s", ""]
    lines.append(f"  {'state':<24} {'seconds':>8}  notes")
    for entry in result.trace:
        seconds = (entry.exited or entry.entered) - entry.entered
        notes = []
        if entry.retries:
            notes.append(f"{entry.retries} failed attempt(s), last error {entry.error}")
        lines.append(f"  {entry.state:<24} {seconds:>8.2f}  {'; '.join(notes)}")
    lines.append("")
    if result.status == "SUCCEEDED":
        lines.append("output:")
        lines.append(json.dumps(result.output, indent=2))
    else:
        lines += why or [f"error: {result.error}", f"cause: {result.cause}"]
    lines.append("")
    evaluation = (result.output or {}).get("evaluation") or {}
    if evaluation.get("verdict"):
        summary = f"verdict: {evaluation['verdict']}"
        if evaluation.get("primaryMetric"):
            baseline = evaluation.get("baseline")
            shown = "none" if baseline is None else f"{baseline:.3f}"
            if baseline is not None and evaluation.get("simulated"):
                shown += ", a simulated stand-in: see the report's Baseline section"
            summary += f" ({evaluation['primaryMetric']} candidate {evaluation['candidate']:.3f}, baseline {shown})"
        lines.append(summary)
        for failure in evaluation.get("failed", []):
            lines.append(f"  failed: {failure}")
    approval = (result.output or {}).get("approval")
    if approval and approval.get("decision") != "approved":
        lines.append(f"approval: {approval.get('decision')} ({approval.get('reason')}): not promoted")
    elif approval:
        lines.append(f"approval: approved by {approval.get('by')}")
    if report is not None:
        lines.append(f"report: {report}")
    lines.append(f"Model: {SIMULATED_LABEL}.")
    return "\n".join(lines)
