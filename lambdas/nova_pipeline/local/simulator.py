"""Local Bedrock (and SageMaker training) simulator for the offline twin. SIMULATED: nothing here calls AWS.

It answers botocore calls in-process through botocore's own event hooks (`before-parameter-build` to see the
caller's parameters, `before-call` to answer), the mechanism botocore's `Stubber` uses. Requests are therefore
serialized and validated against the real service model before the simulator sees them, and the caller's code is
the production code, unchanged. Everything else (S3, SSM, SNS, IAM, Step Functions) is served by moto.

Simulated behaviour:
- customization jobs: `InProgress` for `job_seconds`, then `Completed` (the model is trained on the job's training
  file: see `simulated_model.py`) or `Failed` with the injected message; loss CSVs are written to the output URI.
- RFT jobs (`customizationConfig.rftConfig`): before the job completes, the grader Lambda named in
  `graderConfig.lambdaGrader.lambdaArn` is invoked as Bedrock invokes it (`lambda:Invoke` through a boto3 client,
  which the twin routes to the in-process handler): batches of samples in the documented shape (the training
  record's fields at the top level, a sample `id`, the generated answer as the last assistant turn), two rollouts per
  sampled prompt (the base model's answer and the trained model's). The job fails, with a `failureMessage` naming the
  problem, if the grader errors or answers outside the contract (`grading.rewards.check_grader_output`), or if it
  gives 0 to every rollout identical to its record's `reference_answer` (it does not see the reference: a check
  stricter than Bedrock, which would train on such rewards). The mean reward goes into the step-wise metrics CSV.
- SageMaker training jobs: the same lifecycle; on completion `output/output.tar.gz` holds a `manifest.json` whose
  `checkpoint_s3_bucket` `CreateCustomModel` accepts. A job with the Nova evaluation image runs its recipe on the
  checkpoint's simulated model: `mmlu` on the shipped general set, `gen_qa` on its `train` channel (exact match,
  token F1), writing `eval-result/results_<time>.json` (marked simulated) in `output/output.tar.gz`; other tasks fail.
- serverless jobs with a Nova Forge data mix (`ServerlessJobConfig`, `customer_data_percent`): the role reads the
  Forge recipe bucket (the subscription check), and the model learns from the customer data and from a simulated
  Nova share of general multiple-choice questions (`evaluation.general.write_builtin` with another seed) in the
  mix's proportion; the manifest is written as `output/output/manifest.json`.
- custom models and deployments: `Creating` for `deployment_seconds`, then `Active` (or `Failed` when injected);
  Provisioned Throughput (full-rank models): `Creating`, then `InService` (or `Failed`); Converse on its ARN answers
  with its custom model.
- Converse / ConverseStream: the deployment's customized model or the simulated base model; optional TTFT and
  output-token rate; an optional account quota the caller does not know: requests and tokens (input + output)
  per minute, metered over a sliding window as Bedrock meters them, answered with ThrottlingException (429).
- throttling: every operation's first call (`throttle_first_calls`) and/or a share of all calls (`throttle_rate`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from nova_pipeline.core.s3 import split_s3
from nova_pipeline.grading.rewards import check_grader_output
from nova_pipeline.local.iam import ADMIN, AccessDenied, Authorizer, acting_as, model_invocation, need
from nova_pipeline.local.simulated_model import (
    BaseModel,
    CustomizedModel,
    estimate_tokens,
    examples_from_jsonl,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
Response = tuple[Any, dict[str, Any]]


class SimulatedError(Exception):
    """An AWS error the simulator returns as the service would (code, message, HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class _Job:
    arn: str
    name: str
    token: str | None
    request: dict[str, Any]
    created: float
    status: str = "InProgress"
    failure: str | None = None
    output_model_arn: str | None = None
    end: float | None = None
    stopped: bool = False
    # RFT: mean grader reward of the rollouts of the base model (start of training) and of the trained model.
    rewards: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # The last points of the loss curves the job wrote: what GetModelCustomizationJob reports as its final losses.
    final_losses: dict[str, float] = field(default_factory=dict)


@dataclass
class _Model:
    arn: str
    name: str
    created: float
    model: CustomizedModel
    source: str
    status: str = "Active"
    job_arn: str | None = None
    kms_key: str | None = None
    failure: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class _Deployment:
    arn: str
    name: str
    model_arn: str
    created: float
    token: str | None
    fail: str | None = None
    deleted: bool = False
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Provisioned:
    """A Provisioned Throughput (botocore bedrock `GetProvisionedModelThroughputResponse`)."""

    arn: str
    name: str
    model_arn: str
    model_units: int
    created: float
    token: str | None
    commitment: str | None = None
    fail: str | None = None
    deleted: bool = False
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SimulatorSettings:
    """Knobs of the simulation (seconds are wall-clock seconds of the offline run)."""

    job_seconds: float = 1.0
    deployment_seconds: float = 0.5
    fail_job: str | None = None
    # "<Operation>:<ErrorCode>": that create call is accepted (the job exists and bills) and then answered the error,
    # once: ServiceUnavailableException is a 503 after acceptance (retried); any non-retryable code stands for the
    # function dying or timing out between "accepted" and "recorded" (the Task fails without writing $.job).
    accept_then_fail: str | None = None
    fail_deployment: str | None = None
    fail_provisioned_throughput: str | None = None
    throttle_first_calls: bool = False
    throttle_rate: float = 0.0
    ttft_ms: float = 0.0
    output_tokens_per_second: float = 0.0
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    quota_window_seconds: float = 60.0
    fail_converse_every: int = 0
    rft_prompts: int = 32
    rft_batch_size: int = 16
    # Simulated guardrails by identifier: each blocks a user turn or an answer holding one of its denied words
    # (case-insensitive), as a Bedrock guardrail's word filter does. An unknown identifier is refused.
    guardrails: dict[str, tuple[str, ...]] = field(default_factory=dict)


# What a simulated guardrail answers instead (Bedrock's default blocked messaging).
GUARDRAIL_BLOCKED = "Sorry, the model cannot answer this question."


@dataclass
class BedrockSimulator:
    """Process-wide simulated Bedrock control plane, runtime and SageMaker training jobs."""

    settings: SimulatorSettings = field(default_factory=SimulatorSettings)
    s3_client: Callable[[], Any] | None = None
    lambda_client: Callable[[], Any] | None = None
    # With an authorizer, what a simulated job reads, writes and invokes is checked as the service role passed to it.
    authorizer: Authorizer | None = None
    # The twin's simulated SageMaker managed MLflow (local.mlflow_server): training jobs with MlflowConfig log there.
    mlflow: Any = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    jobs: dict[str, _Job] = field(default_factory=dict)
    training_jobs: dict[str, _Job] = field(default_factory=dict)
    models: dict[str, _Model] = field(default_factory=dict)
    deployments: dict[str, _Deployment] = field(default_factory=dict)
    provisioned: dict[str, _Provisioned] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    _seen_operations: set[str] = field(default_factory=set)
    _call_count: int = 0
    _minute_window: deque[float] = field(default_factory=deque)
    _token_window: deque[tuple[float, int]] = field(default_factory=deque)
    _window_tokens: int = 0
    quota_throttles: int = 0
    _escrow_sources: dict[str, list[str]] = field(default_factory=dict)
    """Checkpoint -> the training files it learnt from (a later stage's checkpoint adds its own to the previous)."""
    _converse_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ----------------------------------------------------------------- dispatch
    def handle(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one call, or raise SimulatedError."""
        with self._lock:
            self.calls.append((service, operation, params))
            self._maybe_throttle(service, operation)
        method = getattr(self, f"_{service.replace('-', '_')}_{operation}", None)
        if method is None:
            raise SimulatedError("UnknownOperationException", f"{service}:{operation} is not simulated", 400)
        result: dict[str, Any] = method(params)
        self._fail_after_accepting(operation)
        return result

    def _fail_after_accepting(self, operation: str) -> None:
        target, _, code = (self.settings.accept_then_fail or "").partition(":")
        if target == operation:
            self.settings.accept_then_fail = None  # once
            status = 503 if code in ("ServiceUnavailableException", "ServiceUnavailable") else 500
            raise SimulatedError(code, f"{operation} accepted, then failed (simulated {code})", status)

    def count(self, service: str, operation: str) -> int:
        return sum(1 for s, o, _ in self.calls if (s, o) == (service, operation))

    def _maybe_throttle(self, service: str, operation: str) -> None:
        key = f"{service}:{operation}"
        first = key not in self._seen_operations
        self._seen_operations.add(key)
        if self.settings.throttle_first_calls and first:
            raise SimulatedError("ThrottlingException", f"Rate exceeded (simulated first call of {key})", 429)
        rate = self.settings.throttle_rate
        count = self._call_count
        self._call_count += 1
        if rate > 0 and int((count + 1) * rate) > int(count * rate):
            raise SimulatedError("ThrottlingException", f"Rate exceeded (simulated {rate:.0%} of calls)", 429)
        if service == "bedrock-runtime":
            self._admit()

    def _admit(self) -> None:
        """The account quota: refuse a request when the window holds the quota's requests or tokens."""
        rpm, tpm = self.settings.requests_per_minute, self.settings.tokens_per_minute
        if not rpm and not tpm:
            return
        now, window = self.clock(), self.settings.quota_window_seconds
        while self._minute_window and now - self._minute_window[0] >= window:
            self._minute_window.popleft()
        while self._token_window and now - self._token_window[0][0] >= window:
            self._window_tokens -= self._token_window.popleft()[1]
        if (rpm and len(self._minute_window) >= rpm) or (tpm and self._window_tokens >= tpm):
            self.quota_throttles += 1
            raise SimulatedError("ThrottlingException", "Too many requests, please wait (simulated quota)", 429)
        self._minute_window.append(now)

    def _meter_tokens(self, tokens: int) -> None:
        if self.settings.tokens_per_minute:
            with self._lock:
                self._token_window.append((self.clock(), tokens))
                self._window_tokens += tokens

    # ------------------------------------------------------ customization jobs
    def _bedrock_CreateModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        token = params.get("clientRequestToken")
        for job in self.jobs.values():
            if token and job.token == token:
                return {"jobArn": job.arn}
            if job.name == params["jobName"]:
                raise SimulatedError("ValidationException", f"A job named {job.name} already exists")
        job_id = _short_id(params["jobName"])
        base = params["baseModelIdentifier"]
        if ":custom-model/" in base:
            # Bedrock fine-tunes "a foundation model or a previously customized model (fine-tuned or distilled)"
            # (Bedrock user guide, "Submit a model customization job"); its RFT starts from Nova 2 Lite itself.
            self._model(base)
            if params.get("customizationType", "FINE_TUNING") != "FINE_TUNING":
                raise SimulatedError(
                    "ValidationException", f"{params['customizationType']} cannot start from a custom model (simulated)"
                )
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/{_base_id(base)}/{job_id}"
        self._assume(params["roleArn"], "bedrock.amazonaws.com", arn)
        self.jobs[arn] = _Job(arn, params["jobName"], token, params, self.clock(), tags=_tag_map(params, "jobTags"))
        self._register_tags(self.jobs[arn].tags, arn, _named_arn("model-customization-job", params["jobName"]))
        return {"jobArn": arn}

    def _job(self, identifier: str) -> _Job:
        for job in self.jobs.values():
            if identifier in (job.arn, job.name):
                return job
        raise SimulatedError("ResourceNotFoundException", f"Job {identifier} not found", 404)

    def _bedrock_GetModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self._job(params["jobIdentifier"])
        self._advance_job(job)
        request = job.request
        response: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": request["customModelName"],
            "roleArn": request["roleArn"],
            "status": job.status,
            "creationTime": _iso(job.created, self.clock),
            "lastModifiedTime": _iso(job.end or job.created, self.clock),
            "baseModelArn": request["baseModelIdentifier"]
            if request["baseModelIdentifier"].startswith("arn:")
            else f"arn:aws:bedrock:{REGION}::foundation-model/{request['baseModelIdentifier']}",
            "hyperParameters": request.get("hyperParameters", {}),
            "trainingDataConfig": request["trainingDataConfig"],
            "outputDataConfig": request["outputDataConfig"],
            "validationDataConfig": request.get("validationDataConfig", {"validators": []}),
            "customizationType": request.get("customizationType", "FINE_TUNING"),
        }
        if job.token:
            response["clientRequestToken"] = job.token
        if job.end is not None:
            response["endTime"] = _iso(job.end, self.clock)
        if job.failure:
            response["failureMessage"] = job.failure
        if job.output_model_arn:
            response["outputModelArn"] = job.output_model_arn
            # The final losses are the last points of the curves the job wrote, as one run reports one figure.
            if "training" in job.final_losses:
                response["trainingMetrics"] = {"trainingLoss": job.final_losses["training"]}
            if "validation" in job.final_losses and request.get("validationDataConfig", {}).get("validators"):
                response["validationMetrics"] = [{"validationLoss": job.final_losses["validation"]}]
        return response

    def _bedrock_StopModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self._job(params["jobIdentifier"])
        self._advance_job(job)
        if job.status != "InProgress":
            raise SimulatedError("ValidationException", f"Job {job.name} is {job.status} and cannot be stopped")
        job.status, job.stopped, job.end = "Stopped", True, self.clock()
        return {}

    def _ends_now(self, job: _Job) -> bool:
        """Whether a running job's simulated training time is over; an injected failure ends it as Failed."""
        if job.status != "InProgress" or self.clock() - job.created < self.settings.job_seconds:
            return False
        job.end = self.clock()
        if self.settings.fail_job:
            job.status, job.failure = "Failed", self.settings.fail_job
            return False
        return True

    def _advance_job(self, job: _Job) -> None:
        if self._ends_now(job):
            self._work_as(job, job.request["roleArn"], self._train_bedrock_job, "Insufficient permissions for the role")

    def _work_as(self, job: _Job, role_arn: str, work: Callable[[_Job], None], denied_prefix: str) -> None:
        """Run a job's work as the role passed to it; an authorization failure fails the job, as the service does."""
        try:
            with acting_as(role_arn):
                work(job)
        except Exception as error:
            if not (isinstance(error, AccessDenied) or _denied(error)):
                raise
            job.status, job.failure = "Failed", f"{denied_prefix}: {error}"

    def _assume(self, role_arn: str, service: str, source_arn: str) -> None:
        """The service assumes the role passed to it; a trust policy that refuses fails the request as AWS does."""
        if self.authorizer is None:
            return
        try:
            self.authorizer.assume(role_arn, service, source_arn)
        except AccessDenied:
            raise SimulatedError(
                "ValidationException", f"{service} cannot assume the role {role_arn}: check its trust policy", 400
            ) from None

    def _service_check(self, call: str, needs: list[Any]) -> None:
        """A check AWS makes on the service role for work the twin does not perform as an API call."""
        if self.authorizer is not None:
            from nova_pipeline.local.iam import current_principal

            self.authorizer.check(current_principal(), call, needs)

    def _train_bedrock_job(self, job: _Job) -> None:
        """The job's work, as its service role: read the training data, use the key, write the outputs."""
        request = job.request
        key = request.get("customModelKmsKeyId")
        if key:  # Bedrock user guide, "Encryption of custom models": the customization role uses the model's key
            self._service_check(
                "bedrock customization job encrypts the model",
                [need(a, key) for a in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")],
            )
        # Bedrock lists and reads the training data, and lists the output location (its service-role policy grants
        # s3:ListBucket on both: Bedrock user guide, "Create a service role for model customization").
        self._list(request["trainingDataConfig"]["s3Uri"])
        self._list(request["outputDataConfig"]["s3Uri"])
        lines = self._read_lines(request["trainingDataConfig"]["s3Uri"])
        examples = examples_from_jsonl(lines)
        for validator in request.get("validationDataConfig", {}).get("validators", []):
            self._read_lines(validator["s3Uri"])
        if request.get("customizationType") == "DISTILLATION":
            teacher_id = request["customizationConfig"]["distillationConfig"]["teacherModelConfig"][
                "teacherModelIdentifier"
            ]
            # The teacher is invoked as the service role (Bedrock user guide, "Prerequisites for model distillation").
            self._service_check(
                "bedrock distillation invokes the teacher",
                [need("bedrock:InvokeModel", resource) for resource in model_invocation(teacher_id)],
            )
            teacher = BaseModel()
            examples = [
                type(e)(e.system, e.prompt, e.answer or _concise(teacher.answer(e.system, e.prompt)), e.prompt_tokens)
                for e in examples
            ]
        base = request["baseModelIdentifier"]
        if ":custom-model/" in base:  # continued fine-tuning: the new examples on top of what the base learnt
            examples = examples + self._model(base).model.examples
        trained = CustomizedModel(examples)
        grader_arn = _grader_arn(request)
        if grader_arn is not None:
            failure = self._rft_rollouts(job, grader_arn, lines, trained)
            if failure is not None:
                job.status, job.failure = "Failed", failure
                return
        model_arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/{_base_id(base)}/" + _short_id(
            request["customModelName"]
        )
        self._write_loss_curves(request["outputDataConfig"]["s3Uri"], job, len(examples))
        self.models[model_arn] = _Model(
            model_arn,
            request["customModelName"],
            self.clock(),
            trained,
            "job",
            job_arn=job.arn,
            kms_key=key,
            tags=_tag_map(request, "customModelTags"),
        )
        self._register_key(model_arn, key)
        self._register_tags(self.models[model_arn].tags, model_arn)
        job.status, job.output_model_arn = "Completed", model_arn

    # ------------------------------------------------- RFT: the grader Lambda, called as Bedrock calls it
    # Kept apart from the job lifecycle: these are the calls Bedrock makes as the job's service role.
    def _rft_rollouts(self, job: _Job, grader_arn: str, lines: list[str], trained: CustomizedModel) -> str | None:
        """Grade rollouts of the job's prompts with the grader Lambda; the job's failure message, or None."""
        records = [json.loads(line) for line in lines if line.strip()][: self.settings.rft_prompts]
        samples = self._rft_samples(records, trained)
        rewards: dict[str, float] = {}
        size = max(1, self.settings.rft_batch_size)
        for start in range(0, len(samples), size):
            batch = samples[start : start + size]
            results, problem = self._invoke_grader(grader_arn, batch)
            if problem is not None:
                return f"The reward function {grader_arn} {problem}"
            rewards.update({str(r["id"]): float(r["aggregate_reward_score"]) for r in results})
        for rollout in ("base", "trained"):
            scores = [rewards[str(s["id"])] for s in samples if str(s["id"]).endswith(f"-{rollout}")]
            job.rewards[rollout] = sum(scores) / len(scores) if scores else 0.0
        exact = [
            rewards[str(sample["id"])]
            for sample in samples
            if _generated(sample) == _reference_text(sample.get("reference_answer"))
        ]
        if exact and max(exact) <= 0.0:
            return (
                f"The reward function {grader_arn} scored 0 for all {len(exact)} generated answers identical to their "
                "record's reference_answer: it does not see the reference answer (each sample carries the training "
                "record's fields, reference_answer included, at its top level) [simulated check]"
            )
        return None

    @staticmethod
    def _rft_samples(records: list[dict[str, Any]], trained: CustomizedModel) -> list[dict[str, Any]]:
        """Samples in the documented shape: the record's fields at the top level, a sample `id`, and its prompt with
        a generated answer appended as the last assistant turn (string content); two rollouts per record."""
        base = BaseModel()
        samples = []
        for index, record in enumerate(records):
            prompt = [m for m in record.get("messages", []) if m.get("role") in ("system", "user")]
            system = " ".join(str(m.get("content", "")) for m in prompt if m["role"] == "system")
            question = " ".join(str(m.get("content", "")) for m in prompt if m["role"] == "user")
            fields = {key: value for key, value in record.items() if key not in ("id", "messages")}
            for rollout, model in (("base", base), ("trained", trained)):
                answer = model.answer(system, question)
                samples.append(
                    {
                        **fields,
                        "id": f"sample-{index}-{rollout}",
                        "messages": [*prompt, {"role": "assistant", "content": answer}],
                    }
                )
        return samples

    def _invoke_grader(self, grader_arn: str, samples: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        """One `lambda:Invoke` of the grader with a batch; its results, or what is wrong with its answer."""
        try:
            response = self._lambda().invoke(FunctionName=grader_arn, Payload=json.dumps(samples).encode())
        except Exception as error:  # any failure to invoke fails the job, as in Bedrock
            return [], f"could not be invoked: {type(error).__name__}: {error}"
        raw = response["Payload"].read()
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            return [], f"returned a payload that is not JSON: {raw[:200]!r}"
        if response.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            kind = payload.get("errorType", "error") if isinstance(payload, dict) else "error"
            return [], f"failed on a batch of {len(samples)} samples: {kind}: {message}"
        problems = check_grader_output(samples, payload)
        if problems:
            return [], "returned an invalid response: " + "; ".join(problems[:5])
        return payload, None

    def _write_loss_curves(self, output_uri: str, job: _Job, records: int) -> None:
        epochs = int(job.request.get("hyperParameters", {}).get("epochCount", 2))
        steps = max(1, records) * epochs
        stride = max(1, steps // 40)
        seed = int(hashlib.sha256(job.name.encode()).hexdigest()[:8], 16)
        reward = job.rewards
        lines = ["step_number,epoch_number,training_loss" + (",mean_reward" if reward else "")]
        validation = ["step_number,epoch_number,validation_loss"]
        for step in range(stride, steps + 1, stride):
            progress = step / steps
            noise = ((seed * step) % 97) / 97 * 0.05
            training_loss = round(2.4 * (0.08**progress) + 0.1 + noise, 4)
            validation_loss = round(2.4 * (0.12**progress) + 0.18, 4)
            line = f"{step},{int(progress * epochs - 1e-9)},{training_loss:.4f}"
            if reward:  # RFT: from the base model's measured mean reward to the trained model's
                line += f",{reward['base'] + (reward['trained'] - reward['base']) * progress:.4f}"
            lines.append(line)
            validation.append(f"{step},{int(progress * epochs - 1e-9)},{validation_loss:.4f}")
            job.final_losses = {"training": training_loss, "validation": validation_loss}
        prefix = f"{output_uri.rstrip('/')}/{job.arn.rsplit('/', 1)[-1]}/training_artifacts/"
        self._write(prefix + "step_wise_training_metrics.csv", "\n".join(lines) + "\n")
        self._write(prefix + "validation_metrics.csv", "\n".join(validation) + "\n")

    # ------------------------------------------------------ SageMaker training
    def _sagemaker_CreateTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["TrainingJobName"]
        if name in self.training_jobs:
            raise SimulatedError("ResourceInUse", f"Training job {name} already exists")
        # The Nova training images read the channels `train`, `validation` (optional) and `recipe` only.
        unknown = sorted({c["ChannelName"] for c in params["InputDataConfig"]} - {"train", "validation", "recipe"})
        if unknown:
            raise SimulatedError("ValidationException", f"Nova recipes read no channel named {', '.join(unknown)}")
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}"
        self._assume(params["RoleArn"], "sagemaker.amazonaws.com", arn)
        tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags", [])}
        self.training_jobs[name] = _Job(arn, name, None, params, self.clock(), tags=tags)
        self._register_tags(tags, arn)
        return {"TrainingJobArn": arn}

    def _sagemaker_DescribeTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self.training_jobs.get(params["TrainingJobName"])
        if job is None:
            raise SimulatedError("ValidationException", f"Requested resource not found: {params['TrainingJobName']}")
        self._advance_training_job(job)
        output_path = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        response: dict[str, Any] = {
            "TrainingJobName": job.name,
            "TrainingJobArn": job.arn,
            "TrainingJobStatus": job.status,
            "SecondaryStatus": {"InProgress": "Training", "Completed": "Completed"}.get(job.status, job.status),
            **{k: job.request[k] for k in ("AlgorithmSpecification", "ServerlessJobConfig") if k in job.request},
            "HyperParameters": job.request.get("HyperParameters", {}),
            "CreationTime": _iso(job.created, self.clock),
            "ModelArtifacts": {"S3ModelArtifacts": f"{output_path}/{job.name}/output/model.tar.gz"},
        }
        if job.failure:
            response["FailureReason"] = job.failure
        if job.end is not None:  # simulated seconds, per instance
            response["TrainingTimeInSeconds"] = response["BillableTimeInSeconds"] = max(1, round(job.end - job.created))
        return response

    def _sagemaker_StopTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self.training_jobs[params["TrainingJobName"]]
        job.status, job.stopped, job.end = "Stopped", True, self.clock()
        return {}

    def _advance_training_job(self, job: _Job) -> None:
        if self._ends_now(job):
            self._work_as(job, job.request["RoleArn"], self._run_training_job, "ClientError")

    def _run_training_job(self, job: _Job) -> None:
        """The training job's work, as its execution role: pull the image, read every channel, log, write output."""
        request = job.request
        if "ServerlessJobConfig" in request:
            self._run_serverless_job(job)
            return
        image = request["AlgorithmSpecification"]["TrainingImage"]
        registry, repository = image.split("/", 1)
        image_account, image_region = registry.split(".")[0], registry.split(".")[3]
        repository_arn = f"arn:aws:ecr:{image_region}:{image_account}:repository/{repository.split(':')[0]}"
        log_stream = (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs:log-stream:{job.name}/algo-1"
        )
        # SageMaker developer guide, "How to use SageMaker AI execution roles" (CreateTrainingJob permissions).
        self._service_check(
            "sagemaker training job starts",
            [
                need("ecr:GetAuthorizationToken", "*"),
                need("ecr:BatchGetImage", repository_arn),
                need("ecr:GetDownloadUrlForLayer", repository_arn),
                need("ecr:BatchCheckLayerAvailability", repository_arn),
                need("logs:CreateLogStream", log_stream),
                need("logs:PutLogEvents", log_stream),
                need("cloudwatch:PutMetricData", "*", cloudwatch__namespace="/aws/sagemaker/TrainingJobs"),
            ],
        )
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
        for uri in channels.values():
            self._read_prefix(uri)
        if repository.startswith("nova-evaluation-repo:"):
            self._run_evaluation_job(job, channels)
            return
        if "MlflowConfig" in request and self.mlflow is not None:
            self.mlflow.log_training_job(job.arn, request["MlflowConfig"])
        reward_arn = request.get("HyperParameters", {}).get("reward_lambda_arn")
        if reward_arn:  # RFT: the rollouts are graded by the reward Lambda, invoked as the execution role
            lines = self._read_lines(channels["train"])
            failure = self._rft_rollouts(job, reward_arn, lines, CustomizedModel(examples_from_jsonl(lines)))
            if failure is not None:
                job.status, job.failure = "Failed", failure
                return
        key = request["OutputDataConfig"].get("KmsKeyId")
        if key:  # SageMaker API reference, OutputDataConfig.KmsKeyId: the role must be allowed kms:Encrypt
            self._service_check("sagemaker training job encrypts its output", [need("kms:Encrypt", key)])
        escrow_bucket = f"customer-escrow-{ACCOUNT}-smtj-{_short_id(job.name)}"
        escrow = f"s3://{escrow_bucket}/{job.name}/checkpoints/"
        with acting_as(ADMIN):  # the Amazon-managed escrow bucket: written by SageMaker itself, not by the role
            self._ensure_bucket(escrow_bucket)
            self._write(escrow + "adapter_model.safetensors", b"simulated checkpoint")
        # A later stage trains from the previous checkpoint (hyperparameter base_model_location, set from the
        # recipe's run.model_name_or_path by the SageMaker SDK): its model knows both stages' data.
        previous = request.get("HyperParameters", {}).get("base_model_location")
        earlier = self._escrow_sources.get(previous, []) if previous else []
        self._escrow_sources[escrow] = [channels["train"], *earlier]
        manifest = json.dumps({"checkpoint_s3_bucket": escrow}).encode()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size = len(manifest)
            tar.addfile(info, io.BytesIO(manifest))
        output_path = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        self._write(f"{output_path}/{job.name}/output/output.tar.gz", archive.getvalue())
        job.status = "Completed"

    def _run_evaluation_job(self, job: _Job, channels: dict[str, str]) -> None:
        """A Nova evaluation recipe (SIMULATED): mmlu on the shipped general set, gen_qa on the `train` channel,
        answered by the checkpoint's simulated model; `results_<time>.json` in output/output.tar.gz as documented."""
        request = job.request
        recipe_name = request["HyperParameters"]["sagemaker_recipe_local_path"].rsplit("/", 1)[-1]
        recipe = yaml.safe_load("\n".join(self._read_lines(channels["recipe"].rstrip("/") + "/" + recipe_name)))
        model_path = recipe["run"]["model_name_or_path"]
        if model_path.startswith("s3://"):
            if model_path not in self._escrow_sources:
                job.status, job.failure = "Failed", f"{model_path} is not a checkpoint of a completed training job"
                return
            with acting_as(ADMIN):  # the escrow checkpoint, read by the service
                lines = [line for source in self._escrow_sources[model_path] for line in self._read_lines(source)]
                model: CustomizedModel | BaseModel = CustomizedModel(examples_from_jsonl(lines))
        else:
            model = BaseModel()
        task = recipe["evaluation"]["task"]
        if task == "mmlu":
            metrics = _simulated_mmlu(model)
            results = {"all": metrics, f"custom|mmlu_{recipe['evaluation']['strategy']}|0": metrics}
        elif task == "gen_qa":
            metrics = _simulated_gen_qa(model, self._read_lines(channels["train"]))
            results = {"custom|gen_qa_gen_qa|0": metrics}
        else:
            job.status = "Failed"
            job.failure = f"SIMULATED: the offline twin runs the mmlu and gen_qa evaluation recipes only, not {task}"
            return
        key = request["OutputDataConfig"].get("KmsKeyId")
        if key:
            self._service_check("sagemaker evaluation job encrypts its output", [need("kms:Encrypt", key)])
        document = json.dumps(
            {"results": results, "simulated": True, "note": "SIMULATED: scored by the offline twin's models"}
        ).encode()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            info = tarfile.TarInfo(f"eval-result/results_{datetime.fromtimestamp(0, UTC):%Y-%m-%dT%H-%M-%S}.json")
            info.size = len(document)
            tar.addfile(info, io.BytesIO(document))
        output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        self._write(f"{output_path}/{job.name}/output/output.tar.gz", archive.getvalue())
        job.status = "Completed"

    def _run_serverless_job(self, job: _Job) -> None:
        """A serverless Nova SFT job with a data mix, as its execution role. SIMULATED Nova share: general
        multiple-choice questions of the shipped set's kinds (another seed than `builtin:general-v1`), as many as
        the mix asks for beside the customer's records (`customer_data_percent`), capped at the pool."""
        request = job.request
        config = request["ServerlessJobConfig"]
        if not config.get("AcceptEula"):  # a Nova base model from the Hub is gated by its EULA
            job.status, job.failure = "Failed", "AcceptEula must be true to fine-tune this gated model"
            return
        mix = request.get("HyperParameters", {})
        # Nova 2 user guide, "Data mixing on SageMaker Training Jobs": the execution role reads the Nova Forge
        # subscription buckets so that the service can validate the subscription (simulated bucket name matching
        # the recipe-bucket pattern of "IAM policy requirements for Amazon Nova recipes").
        self._service_check(
            "sagemaker serverless job checks the Nova Forge subscription",
            [need("s3:GetObject", f"arn:aws:s3:::{FORGE_RECIPES_BUCKET}/{DATAMIX_RECIPE_KEY}")],
        )
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
        for uri in channels.values():
            self._read_prefix(uri)
        sources = [channels["train"]]
        if "customer_data_percent" in mix:
            customer = float(mix["customer_data_percent"])
            records = len([line for line in self._read_lines(channels["train"]) if line.strip()])
            pool = _nova_share_pool()
            wanted = len(pool) if customer <= 0 else round(records * (100 - customer) / customer)
            share = pool[: min(len(pool), wanted)]
            if share:
                uri = f"s3://{NOVA_DATA_BUCKET}/{job.name}/nova-share.jsonl"
                with acting_as(ADMIN):  # Amazon's curated data: read by the service, never by the customer's role
                    self._ensure_bucket(NOVA_DATA_BUCKET)
                    self._write(uri, "".join(json.dumps(record) + "\n" for record in share))
                sources.append(uri)
        escrow_bucket = f"customer-escrow-{ACCOUNT}-smtj-{_short_id(job.name)}"
        escrow = f"s3://{escrow_bucket}/{job.name}/checkpoints/"
        with acting_as(ADMIN):
            self._ensure_bucket(escrow_bucket)
            self._write(escrow + "adapter_model.safetensors", b"simulated checkpoint")
        self._escrow_sources[escrow] = sources
        output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        self._write(
            f"{output_path}/{job.name}/output/output/manifest.json", json.dumps({"checkpoint_s3_bucket": escrow})
        )
        job.status = "Completed"

    # ----------------------------------------------------------- custom models
    def _bedrock_CreateCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        token = params.get("clientRequestToken")
        for model in self.models.values():
            if model.name == params["modelName"]:
                if token and model.source == token:
                    return {"modelArn": model.arn}
                raise SimulatedError("ConflictException", f"A model named {model.name} already exists")
        uri = params["modelSourceConfig"]["s3DataSource"]["s3Uri"]
        training_uris = self._escrow_sources.get(uri)
        if training_uris is None:
            raise SimulatedError("ValidationException", f"{uri} is not a checkpoint of a completed training job")
        with acting_as(ADMIN):  # what the simulated model learns from: the job's (and earlier stages') data
            examples = [
                e for training_uri in training_uris for e in examples_from_jsonl(self._read_lines(training_uri))
            ]
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/imported/{_short_id(params['modelName'])}"
        # The source ARN Bedrock sends when it assumes the role for an import: the trust policy allows the model
        # and the documented model-import-job ARNs (Bedrock user guide, model import service role).
        self._assume(params["roleArn"], "bedrock.amazonaws.com", arn)
        key = params.get("modelKmsKeyArn")
        model = _Model(arn, params["modelName"], self.clock(), CustomizedModel(examples), token or "", kms_key=key)
        model.status, model.tags = "Creating", _tag_map(params, "modelTags")
        self.models[arn] = model
        self._register_tags(model.tags, arn)
        try:  # Bedrock reads the checkpoint from the escrow bucket as the role passed in (model-import IAM role)
            with acting_as(params["roleArn"]):
                self._read_prefix(uri)
                if key:
                    self._service_check(
                        "bedrock import encrypts the model",
                        [need(a, key) for a in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")],
                    )
        except Exception as error:
            if not (isinstance(error, AccessDenied) or _denied(error)):
                raise
            model.status, model.failure = "Failed", f"Amazon Bedrock could not read the model artifacts: {error}"
        self._register_key(arn, key)
        return {"modelArn": arn}

    def _bedrock_GetCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        model = self._model(params["modelIdentifier"])
        if model.status == "Creating" and self.clock() - model.created >= self.settings.deployment_seconds:
            model.status = "Active"
        return {
            "modelArn": model.arn,
            "modelName": model.name,
            "modelStatus": model.status,
            **({"failureMessage": model.failure} if model.failure else {}),
            "creationTime": _iso(model.created, self.clock),
            "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0",
        }

    def _bedrock_DeleteCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        model = self._model(params["modelIdentifier"])
        if any(d.model_arn == model.arn and not d.deleted for d in self.deployments.values()):
            raise SimulatedError("ValidationException", f"Model {model.name} is used by a deployment (simulated)")
        if any(p.model_arn == model.arn and not p.deleted for p in self.provisioned.values()):
            raise SimulatedError(
                "ValidationException", f"Model {model.name} is used by a Provisioned Throughput (simulated)"
            )
        model.deleted = True
        return {}

    def _model(self, identifier: str) -> _Model:
        for model in self.models.values():
            if identifier in (model.arn, model.name) and not model.deleted:
                return model
        raise SimulatedError("ResourceNotFoundException", f"Model {identifier} not found", 404)

    def _bedrock_ListCustomModels(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """Every live model, oldest first, in one page (the pipeline's pagination is tested with Stubber)."""
        models = sorted((m for m in self.models.values() if not m.deleted), key=lambda m: m.created)
        return {
            "modelSummaries": [
                {
                    "modelArn": m.arn,
                    "modelName": m.name,
                    "creationTime": _iso(m.created, self.clock),
                    "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0",
                    "baseModelName": "Nova Micro",
                    "modelStatus": m.status,
                }
                for m in models
            ]
        }

    def _bedrock_ListTagsForResource(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        arn = params["resourceARN"]
        found = self.models.get(arn) or self.deployments.get(arn) or self.jobs.get(arn) or self.provisioned.get(arn)
        if found is None or getattr(found, "deleted", False):
            raise SimulatedError("ResourceNotFoundException", f"Resource {arn} not found", 404)
        return {"tags": [{"key": k, "value": v} for k, v in sorted(found.tags.items())]}

    def _bedrock_ListCustomModelDeployments(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        deployments = sorted((d for d in self.deployments.values() if not d.deleted), key=lambda d: d.created)
        return {
            "modelDeploymentSummaries": [
                {
                    "customModelDeploymentArn": d.arn,
                    "customModelDeploymentName": d.name,
                    "modelArn": d.model_arn,
                    "createdAt": _iso(d.created, self.clock),
                    "status": self.deployment_status(d),
                }
                for d in deployments
            ]
        }

    # ------------------------------------------------------------- deployments
    def _bedrock_CreateCustomModelDeployment(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        token = params.get("clientRequestToken")
        for deployment in self.deployments.values():
            if token and deployment.token == token and not deployment.deleted:
                return {"customModelDeploymentArn": deployment.arn}
        model = self._model(params["modelArn"])
        if model.status != "Active":
            raise SimulatedError("ValidationException", f"Model {model.name} is {model.status}, not Active")
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/{_short_id(params['modelDeploymentName'])}"
        self.deployments[arn] = _Deployment(
            arn, params["modelDeploymentName"], model.arn, self.clock(), token, self.settings.fail_deployment,
            tags=_tag_map(params, "tags"),
        )  # fmt: skip
        self._register_key(arn, model.kms_key)
        self._register_tags(self.deployments[arn].tags, arn)
        return {"customModelDeploymentArn": arn}

    def _deployment(self, identifier: str) -> _Deployment:
        for deployment in self.deployments.values():
            if identifier in (deployment.arn, deployment.name) and not deployment.deleted:
                return deployment
        raise SimulatedError("ResourceNotFoundException", f"Deployment {identifier} not found", 404)

    def deployment_status(self, deployment: _Deployment) -> str:
        if self.clock() - deployment.created < self.settings.deployment_seconds:
            return "Creating"
        return "Failed" if deployment.fail else "Active"

    def _bedrock_GetCustomModelDeployment(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        deployment = self._deployment(params["customModelDeploymentIdentifier"])
        status = self.deployment_status(deployment)
        response: dict[str, Any] = {
            "customModelDeploymentArn": deployment.arn,
            "modelDeploymentName": deployment.name,
            "modelArn": deployment.model_arn,
            "createdAt": _iso(deployment.created, self.clock),
            "status": status,
        }
        if status == "Failed":
            response["failureMessage"] = deployment.fail
        return response

    def _bedrock_DeleteCustomModelDeployment(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self._deployment(params["customModelDeploymentIdentifier"]).deleted = True
        return {}

    # ------------------------------------------------------ provisioned throughput
    def _bedrock_CreateProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """No commitment unless `commitmentDuration` is given; custom models "support all levels of commitment"
        (botocore bedrock). The model must be an Active custom model of this account."""
        token = params.get("clientRequestToken")
        for existing in self.provisioned.values():
            if token and existing.token == token and not existing.deleted:
                return {"provisionedModelArn": existing.arn}
            if existing.name == params["provisionedModelName"] and not existing.deleted:
                raise SimulatedError("ConflictException", f"A provisioned model named {existing.name} already exists")
        model = self._model(params["modelId"])
        if model.status != "Active":
            raise SimulatedError("ValidationException", f"Model {model.name} is {model.status}, not Active")
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{_short_id(params['provisionedModelName'])}"
        self.provisioned[arn] = _Provisioned(
            arn, params["provisionedModelName"], model.arn, int(params["modelUnits"]), self.clock(), token,
            commitment=params.get("commitmentDuration"), fail=self.settings.fail_provisioned_throughput,
            tags=_tag_map(params, "tags"),
        )  # fmt: skip
        self._register_key(arn, model.kms_key)
        self._register_tags(self.provisioned[arn].tags, arn)
        return {"provisionedModelArn": arn}

    def _provisioned_model(self, identifier: str) -> _Provisioned:
        for provisioned in self.provisioned.values():
            if identifier in (provisioned.arn, provisioned.name) and not provisioned.deleted:
                return provisioned
        raise SimulatedError("ResourceNotFoundException", f"Provisioned model {identifier} not found", 404)

    def provisioned_status(self, provisioned: _Provisioned) -> str:
        """`Creating` for `deployment_seconds`, then `InService` (or `Failed` when injected)."""
        if self.clock() - provisioned.created < self.settings.deployment_seconds:
            return "Creating"
        return "Failed" if provisioned.fail else "InService"

    def _provisioned_summary(self, provisioned: _Provisioned) -> dict[str, Any]:
        created = _iso(provisioned.created, self.clock)
        summary: dict[str, Any] = {
            "provisionedModelName": provisioned.name,
            "provisionedModelArn": provisioned.arn,
            "modelArn": provisioned.model_arn,
            "desiredModelArn": provisioned.model_arn,
            "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0:128k",
            "modelUnits": provisioned.model_units,
            "desiredModelUnits": provisioned.model_units,
            "status": self.provisioned_status(provisioned),
            "creationTime": created,
            "lastModifiedTime": created,
        }
        if provisioned.commitment:
            summary["commitmentDuration"] = provisioned.commitment
        return summary

    def _bedrock_GetProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        provisioned = self._provisioned_model(params["provisionedModelId"])
        response = self._provisioned_summary(provisioned)
        if response["status"] == "Failed":
            response["failureMessage"] = provisioned.fail
        return response

    def _bedrock_DeleteProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        provisioned = self._provisioned_model(params["provisionedModelId"])
        if provisioned.commitment:  # "You can't delete a Provisioned Throughput before the commitment term is over"
            raise SimulatedError("ValidationException", f"{provisioned.name} has a {provisioned.commitment} term")
        provisioned.deleted = True
        return {}

    def _bedrock_ListProvisionedModelThroughputs(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """Every live provisioned model, oldest first, in one page."""
        live = sorted((p for p in self.provisioned.values() if not p.deleted), key=lambda p: p.created)
        return {"provisionedModelSummaries": [self._provisioned_summary(p) for p in live]}

    # ----------------------------------------------------------------- runtime
    def _model_for(self, model_id: str) -> CustomizedModel | BaseModel:
        if ":custom-model-deployment/" in model_id:
            deployment = self._deployment(model_id)
            if self.deployment_status(deployment) != "Active":
                raise SimulatedError("ModelNotReadyException", f"Deployment {deployment.name} is not ready", 429)
            return self.models[deployment.model_arn].model
        if ":provisioned-model/" in model_id:
            provisioned = self._provisioned_model(model_id)
            if self.provisioned_status(provisioned) != "InService":
                raise SimulatedError("ModelNotReadyException", f"{provisioned.name} is not InService", 429)
            return self.models[provisioned.model_arn].model
        if ":custom-model/" in model_id:
            raise SimulatedError(
                "ValidationException",
                "Invoke a custom model through its on-demand deployment or Provisioned Throughput ARN",
                400,
            )
        return BaseModel()

    def _answer(self, params: dict[str, Any]) -> tuple[str, str, int]:
        every = self.settings.fail_converse_every
        if every:
            with self._lock:
                self._converse_count += 1
                failing = self._converse_count % every == 0
            if failing:
                raise SimulatedError("ModelErrorException", "The model returned an error (simulated)", 424)
        model = self._model_for(params["modelId"])
        system = " ".join(block.get("text", "") for block in params.get("system", []))
        user_turns = [m for m in params["messages"] if m["role"] == "user"]
        prompt = " ".join(block.get("text", "") for block in user_turns[-1]["content"]) if user_turns else ""
        denied = self._guardrail(params.get("guardrailConfig"))
        input_tokens = estimate_tokens(system) + sum(
            estimate_tokens(block.get("text", "")) for m in params["messages"] for block in m["content"]
        )
        if _blocked(prompt, denied):
            return GUARDRAIL_BLOCKED, "guardrail_intervened", input_tokens
        text = model.answer(system, prompt)
        if _blocked(text, denied):
            return GUARDRAIL_BLOCKED, "guardrail_intervened", input_tokens
        max_tokens = params.get("inferenceConfig", {}).get("maxTokens")
        stop = "end_turn"
        if max_tokens and estimate_tokens(text) > max_tokens:
            text, stop = text[: max_tokens * 4], "max_tokens"
        return text, stop, input_tokens

    def _guardrail(self, config: dict[str, Any] | None) -> tuple[str, ...]:
        if not config:
            return ()
        identifier = str(config.get("guardrailIdentifier", "")).rsplit("/", 1)[-1]
        if identifier not in self.settings.guardrails:
            raise SimulatedError(
                "ValidationException",
                "The guardrail identifier or version provided in the request does not exist.",
                400,
            )
        return self.settings.guardrails[identifier]

    def _generation_seconds(self, output_tokens: int) -> tuple[float, float]:
        ttft = self.settings.ttft_ms / 1000
        rate = self.settings.output_tokens_per_second
        return ttft, (output_tokens / rate if rate else 0.0)

    def _bedrock_runtime_Converse(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        text, stop, input_tokens = self._answer(params)
        output_tokens = estimate_tokens(text)
        self._meter_tokens(input_tokens + output_tokens)
        ttft, generation = self._generation_seconds(output_tokens)
        if ttft + generation:
            self.sleep(ttft + generation)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": int((ttft + generation) * 1000)},
        }

    def _bedrock_runtime_ConverseStream(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        text, stop, input_tokens = self._answer(params)
        output_tokens = estimate_tokens(text)
        self._meter_tokens(input_tokens + output_tokens)
        ttft, generation = self._generation_seconds(output_tokens)
        return {
            "stream": _stream(
                sleep=self.sleep,
                text=text,
                stop=stop,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                ttft=ttft,
                generation=generation,
            )
        }

    # -------------------------------------------------------------------- S3
    def _s3(self) -> Any:
        if self.s3_client is not None:
            return self.s3_client()
        import boto3

        return boto3.client("s3", region_name=REGION)

    def _read_lines(self, uri: str) -> list[str]:
        """Every line of a JSONL object, or of every .jsonl object under a prefix."""
        bucket, key = split_s3(uri)
        client = self._s3()
        keys = [key]
        if key.endswith("/") or not key:
            listing = client.list_objects_v2(Bucket=bucket, Prefix=key)
            keys = sorted(o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".jsonl"))
        lines: list[str] = []
        for object_key in keys:
            body = client.get_object(Bucket=bucket, Key=object_key)["Body"].read()
            if object_key.endswith(".gz"):
                body = gzip.decompress(body)
            lines.extend(body.decode("utf-8").splitlines())
        return lines

    def _read_prefix(self, uri: str) -> None:
        """Read what a job reads from an S3 URI taken as a key prefix (SageMaker's S3Prefix): list, then get all."""
        bucket, key = split_s3(uri)
        client = self._s3()
        listing = client.list_objects_v2(Bucket=bucket, Prefix=key)
        for item in listing.get("Contents", []):
            client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()

    def _list(self, uri: str) -> None:
        """List an S3 location as a service does before reading or writing there."""
        bucket, key = split_s3(uri)
        self._s3().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)

    def _ensure_bucket(self, bucket: str) -> None:
        client = self._s3()
        try:
            client.head_bucket(Bucket=bucket)
        except Exception:
            client.create_bucket(Bucket=bucket)

    def _register_key(self, resource_arn: str, key: str | None) -> None:
        """Tell the authorizer which key protects a custom model or deployment (invokers need it)."""
        if key and self.authorizer is not None:
            self.authorizer.keys.models[resource_arn] = key

    def _register_tags(self, tags: dict[str, str], *arns: str) -> None:
        """Tell the authorizer a resource's tags: IAM evaluates `aws:ResourceTag/<key>` conditions with them."""
        if self.authorizer is not None:
            for arn in arns:
                self.authorizer.resource_tags[arn] = dict(tags)

    def _lambda(self) -> Any:
        if self.lambda_client is not None:
            return self.lambda_client()
        import boto3

        return boto3.client("lambda", region_name=REGION)

    def _write(self, uri: str, body: str | bytes) -> None:
        bucket, key = split_s3(uri)
        self._s3().put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


FORGE_RECIPES_BUCKET = f"nova-forge-model-customization-recipes-{REGION}"  # SIMULATED name
DATAMIX_RECIPE_KEY = "nova-2-lite/text_with_datamix.yaml"  # SIMULATED key
NOVA_DATA_BUCKET = f"nova-forge-curated-data-{REGION}"  # SIMULATED: Amazon's side, not the customer's


def _nova_share_pool() -> list[dict[str, Any]]:
    """SIMULATED Amazon-curated general data: SFT conversations answering general multiple-choice questions."""
    import random

    from nova_pipeline.evaluation.general import _question, write_builtin

    records = write_builtin(seed=7)
    random.Random(7).shuffle(records)  # noqa: S311 - a reproducible order mixing the kinds, not a secret
    pool = []
    for record in records:
        question = _question(record)
        pool.append(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [],
                "messages": [
                    {"role": "user", "content": [{"text": question.prompt()}]},
                    {"role": "assistant", "content": [{"text": f"({question.letter()})"}]},
                ],
            }
        )
    return pool


def _stream(
    *,
    sleep: Callable[[float], None],
    text: str,
    stop: str,
    input_tokens: int,
    output_tokens: int,
    ttft: float,
    generation: float,
) -> Iterator[dict[str, Any]]:
    started = time.monotonic()
    yield {"messageStart": {"role": "assistant"}}
    if ttft:
        sleep(ttft)
    chunks = [text[i : i + 16] for i in range(0, len(text), 16)] or [""]
    for chunk in chunks:
        if generation:
            sleep(generation / len(chunks))
        yield {"contentBlockDelta": {"delta": {"text": chunk}, "contentBlockIndex": 0}}
    yield {"contentBlockStop": {"contentBlockIndex": 0}}
    yield {"messageStop": {"stopReason": stop}}
    yield {
        "metadata": {
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
        }
    }


def _tag_map(params: dict[str, Any], key: str) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in params.get(key, [])}


def _named_arn(resource: str, name: str) -> str:
    """The ARN the twin's IAM rules build for a resource addressed by name (`local.iam.bedrock_arn`)."""
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:{resource}/{name}"


def _simulated_mmlu(model: CustomizedModel | BaseModel) -> dict[str, float]:
    """SIMULATED mmlu: the shipped general set (`builtin:general-v1`, MMLU's format) asked of the model, scored by
    the letter each answer picks; accuracy and its standard error as lighteval reports them."""
    from nova_pipeline.evaluation.general import builtin_set, extract_choice

    questions = builtin_set("general-v1")
    correct = sum(
        extract_choice(model.answer("", question.prompt()), len(question.choices)) == question.letter()
        for question in questions
    )
    accuracy = correct / len(questions)
    stderr = (accuracy * (1 - accuracy) / max(1, len(questions) - 1)) ** 0.5
    return {"accuracy": round(accuracy, 4), "accuracy_stderr": round(stderr, 4)}


def _simulated_gen_qa(model: CustomizedModel | BaseModel, lines: list[str]) -> dict[str, float]:
    """SIMULATED gen_qa: each `query` answered, compared with its `response` (exact match, token F1)."""
    from nova_pipeline.local.simulated_model import tokens

    exact, f1s = 0, []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        answer, gold = model.answer(record.get("system", ""), record["query"]), str(record["response"])
        exact += answer.strip().lower() == gold.strip().lower()
        mine, theirs = tokens(answer), tokens(gold)
        overlap = len(mine & theirs)
        f1s.append(0.0 if not overlap else 2 * overlap / (len(mine) + len(theirs)))
    count = max(1, len(f1s))
    return {"em": round(exact / count, 4), "f1_score": round(sum(f1s) / count, 4)}


def _grader_arn(request: dict[str, Any]) -> str | None:
    """The grader Lambda of an RFT job request (None for other jobs)."""
    rft = request.get("customizationConfig", {}).get("rftConfig")
    if rft is None:
        return None
    return str(rft["graderConfig"]["lambdaGrader"]["lambdaArn"])


def _generated(sample: dict[str, Any]) -> str:
    return str(sample["messages"][-1]["content"])


def _reference_text(reference: Any) -> str:
    return reference if isinstance(reference, str) else json.dumps(reference)


def _concise(answer: str) -> str:
    """A teacher follows the requested format better than the base model: keep the bolded guess or first line."""
    if "**" in answer:
        return answer.split("**")[1]
    if "```sql" in answer:
        return answer.split("```sql", 1)[1].split("```", 1)[0].strip()
    return answer.splitlines()[0]


def _base_id(base: str) -> str:
    """The foundation model id in a job's or model's ARN: a custom base model's own base."""
    return base.split(":custom-model/", 1)[1].split("/", 1)[0] if ":custom-model/" in base else base


def _short_id(seed: str) -> str:
    return hashlib.sha256(f"{seed}/{uuid.uuid4()}".encode()).hexdigest()[:12]


def _iso(monotonic_value: float, clock: Callable[[], float]) -> datetime:
    return datetime.fromtimestamp(time.time() - (clock() - monotonic_value), tz=UTC)


def _denied(error: Exception) -> bool:
    """Whether a botocore error is an authorization failure the twin raised."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in ("AccessDenied", "AccessDeniedException", "AuthorizationError")


def _blocked(text: str, denied: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(word.lower() in lowered for word in denied)
