"""The state document the customization state machine passes from state to state, as pydantic models.

`$` holds one key per thing the workflow writes (`stepfunctions/workflow.py` takes every `$.<key>` from this model,
so a key it writes that is not a field here fails at synth): `raw` and `execution` (Initialize), `input`
(ValidateInput), `stage` (the stage loop's cursor), `plan`, `shards` and `data` (data preparation), `estimate`
(CheckBudget), `graderPreflight`, `job`, `model`, `deployment`, `evaluationPlan`, `evaluationBatches`, `evaluation`,
`approval` and `approvalError`, `promotion`, `summary`, and on failure `error`, `cleanup` and `cleanupError`. Each
handler parses the parts it needs; unknown keys are ignored so that adding a state never breaks the others.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.execution_input import ExecutionInput, InferenceConfig


class _State(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ExecutionRef(_State):
    name: str
    arn: str
    started_at: str | None = None


class DataPlan(_State):
    """PlanData's choice: one PrepareData invocation (`single`) or a Distributed Map over the objects (`fanout`)."""

    mode: Literal["single", "fanout"]
    bucket: str
    prefix: str
    objects: int
    bytes: int


class ResultWriterDetails(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket: str = Field(alias="Bucket")
    key: str = Field(alias="Key")


class MapResults(BaseModel):
    """What a Distributed Map with a ResultWriter leaves in the state: where its results manifest is."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    map_run_arn: str = Field(alias="MapRunArn")
    result_writer_details: ResultWriterDetails = Field(alias="ResultWriterDetails")


class ShardResult(_State):
    """What PrepareShard returns for one object of the PrepareShards map (`shard` is None for a non-data object)."""

    key: str
    shard: str | None = None
    records: int | None = None


class PreparedSplit(_State):
    uri: str
    records: int


class PreparedData(_State):
    manifest_uri: str
    prefix: str
    train: PreparedSplit
    validation: PreparedSplit | None = None
    test: PreparedSplit | None = None


class GraderPreflight(_State):
    """PreflightGrader's check of the reward function on samples of the training set."""

    samples: int
    reference_mean_score: float
    ok: bool


class JobState(_State):
    """A Bedrock customization job or a SageMaker training job."""

    platform: str
    job_arn: str
    job_name: str
    status: str = "InProgress"
    done: bool = False
    succeeded: bool = False
    failure_message: str | None = None
    output_model_arn: str | None = None
    output_uri: str | None = None
    started_by_this_execution: bool = True
    """Always true for a job of this execution's derived name (kept so older state documents still parse)."""
    adopted: bool = False
    """Found under this execution's name by a retried or re-driven start rather than created by it (logs, metrics)."""
    wait_seconds: Annotated[int, Field(ge=1)] = 60
    training_loss: float | None = None
    training_seconds: float | None = None
    """How long the job trained (SageMaker `TrainingTimeInSeconds`; Bedrock end minus creation time)."""
    billable_seconds: float | None = None
    """SageMaker `BillableTimeInSeconds` (per instance), for the stage's cost."""


class StageCursor(_State):
    """Which stage of the run is running (0-based) and how many are left after it (-1 with no `stages`: one)."""

    index: int = 0
    remaining: int = -1


class SageMakerEvaluationJob(_State):
    """One Nova evaluation recipe's training job on the trained checkpoint, and the metrics it wrote."""

    task: str
    job_name: str
    job_arn: str
    output_uri: str
    status: str = "InProgress"
    failure_message: str | None = None
    metrics: dict[str, float] | None = None
    """`results.all` of the job's results_*.json (or its task-specific key, gen_qa), numbers only."""
    simulated: bool = False


class SageMakerEvaluationState(_State):
    """`sagemaker.evaluationRecipes`: every job of the run, polled together; reported, never gated, so a failed
    evaluation job is shown in the report and does not fail the run (`succeeded` stays true)."""

    model_path: str
    """The checkpoint the jobs evaluate (the recipe's `run.model_name_or_path`)."""
    jobs: list[SageMakerEvaluationJob]
    done: bool = False
    succeeded: bool = True
    failure_message: str | None = None
    wait_seconds: Annotated[int, Field(ge=1)] = 60

    def report(self) -> dict[str, Any]:
        """The report's `sagemakerEvaluation` section."""
        return {
            "modelPath": self.model_path,
            "gated": False,
            "jobs": [job.dump() for job in self.jobs],
        }


class ModelState(_State):
    model_arn: str
    checkpoint_uri: str | None = None
    """SageMaker path: the checkpoint the model was imported from (the next stage trains from it)."""
    model_name: str | None = None
    status: str = "Active"
    done: bool = True
    succeeded: bool = True
    failure_message: str | None = None
    wait_seconds: Annotated[int, Field(ge=1)] = 60


class DeploymentState(_State):
    """What serves the candidate: an on-demand deployment, or (full-rank runs that ask for it) a Provisioned
    Throughput, whose ARN is then `deploymentArn` (Converse takes either as `modelId`)."""

    deployment_arn: str
    deployment_name: str
    model_arn: str
    kind: Literal["on-demand", "provisioned-throughput"] = "on-demand"
    model_units: int | None = None
    """Provisioned Throughput: the model units bought."""
    hourly_usd: float | None = None
    """Provisioned Throughput: what it bills per hour while it exists (model units x the input's price)."""
    status: str = "Creating"
    done: bool = False
    succeeded: bool = False
    failure_message: str | None = None
    wait_seconds: Annotated[int, Field(ge=1)] = 60


class GuardrailRef(_State):
    """An Amazon Bedrock guardrail applied to Converse calls (`guardrailConfig`)."""

    identifier: str
    version: str

    def converse_config(self, *, stream: bool) -> dict[str, str]:
        """`guardrailConfig` of Converse / ConverseStream (the stream variant processes chunks synchronously, so a
        blocked answer is never streamed before the guardrail has seen it)."""
        config = {"guardrailIdentifier": self.identifier, "guardrailVersion": self.version, "trace": "disabled"}
        if stream:
            config["streamProcessingMode"] = "sync"
        return config


class EvaluationPlan(_State):
    """PlanEvaluation: where the batches are, how wide the EvaluateBatches map runs, and what is compared."""

    bucket: str
    prefix: str
    batches_prefix: str
    rows: int
    batches: int
    max_concurrency: int
    # Each worker's adaptive rate starts at `per_worker_start_requests_per_minute` and never exceeds
    # `per_worker_requests_per_minute` (the configured ceiling's fair share; None: no ceiling).
    per_worker_requests_per_minute: float | None = None
    per_worker_start_requests_per_minute: float = 6.0
    slots_per_worker: int = 1
    requests_per_row: int
    candidate: str
    baseline: str | None = None
    judge_model: str | None = None
    inference_config: InferenceConfig
    guardrail: GuardrailRef | None = None
    # The forgetting guard: rows of the general set among `rows` (candidate and base model answer them).
    general_rows: int = 0
    general_baseline: str | None = None


class EvaluatedBatch(_State):
    """What EvaluateBatch returns for one batch of the EvaluateBatches map."""

    batch: str
    rows: int
    errors: int


class StageOutcome(_State):
    """One stage's result, kept in `$.evaluation.stages` across the stage loop (a few small entries: the state
    stays far below 256 KiB) for the progression table, the choice of the best stage and the clean-up."""

    index: int
    method: str
    job_arn: str | None = None
    model_arn: str
    deployment_arn: str
    deployment_name: str
    verdict: str
    failed: list[str] = Field(default_factory=list)
    primary: float | None = None
    per_class: dict[str, float] = Field(default_factory=dict)
    format_errors: float | None = None
    verbose_answers: float | None = None
    """Classification: the share of answers right only once the label is extracted from prose (verbosity)."""
    error_rate: float | None = None
    training_seconds: float | None = None
    training_cost_usd: float | None = None
    training_cost_basis: str | None = None
    """How the cost was found: SageMaker's billed seconds x instances x price, or Bedrock's token estimate."""
    report_uri: str | None = None
    active_version: int | None = None
    """Version of the active-model record this stage was compared with (see EvaluationResult.active_version)."""


class TrackingOutcome(_State):
    """What AggregateEvaluation logged to the environment's MLflow server or app (`evaluation.tracking`).

    `status` is `logged`, or `failed` with the `reason` (tracking never fails a run)."""

    status: str
    tracking_arn: str
    reason: str | None = None
    experiment: str | None = None
    experiment_id: str | None = None
    run_name: str | None = None
    run_id: str | None = None
    run_created: bool | None = None
    """True when the pipeline created the run (no SageMaker training job had created it)."""
    step: int | None = None
    """The step the stage's metrics were logged at: the stage's 0-based index."""
    metrics: int | None = None
    params: int | None = None
    artifacts: list[str] = Field(default_factory=list)
    """Where the reports were uploaded as the run's artifacts."""
    artifacts_skipped: str | None = None
    """Why the reports were not uploaded as artifacts (their S3 locations are the run's tags)."""


class EvaluationResult(_State):
    """AggregateEvaluation's output at `$.evaluation`: the verdict and where the report is."""

    verdict: str
    reason: str | None = None
    """Why there was no evaluation, when there was none (`not-evaluated`, `not-deployed`)."""
    failed: list[str] = Field(default_factory=list)
    primary_metric: str | None = None
    candidate: float | None = None
    baseline: float | None = None
    error_rate: float | None = None
    monthly_cost: float | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
    report_url: str | None = None
    simulated: bool = False
    active_version: int | None = None
    """Version of the active-model record the candidate was compared with (0: none); Promote writes only if it is
    still the active one (None: not recorded, Promote compares with whatever is active)."""
    stages: list[StageOutcome] = Field(default_factory=list)
    """Multi-stage runs: every stage evaluated so far, in order."""
    chosen: StageOutcome | None = None
    """Multi-stage runs, after the last stage: the best stage that passed the gate (else the best one), whose
    deployment the gate promotes or rejects."""
    tracking: TrackingOutcome | None = None
    """The environment's MLflow tracking of this stage (None: no `mlflowTrackingArn`)."""


class StageCostEstimate(_State):
    """One stage's training estimate (multi-stage runs)."""

    index: int
    method: str
    training_usd: float | None = None
    training_basis: str


class CostEstimate(_State):
    """CheckBudget's estimate at `$.estimate` (`evaluation.estimate`): training and evaluation cost, and the budget."""

    model: str
    price_table: str
    training_usd: float | None = None
    """None when it cannot be estimated (e.g. a SageMaker instance type without a price). With several stages: the
    sum of every stage's training, all checked against the budget before the first job starts."""
    training_basis: str
    evaluation_usd: float | None = None
    evaluation_basis: str = ""
    stages: list[StageCostEstimate] = Field(default_factory=list)
    """Multi-stage runs: each stage's training estimate, in order."""
    max_training_usd: float | None = None
    within_budget: bool = True


class ApprovalDecision(_State):
    """The decision at `$.approval`: sent by `nova-pipeline approve` (SendTaskSuccess), or set by the workflow when
    the approver rejected (SendTaskFailure) or the wait timed out."""

    decision: Literal["approved", "rejected", "timed-out"]
    by: str | None = None
    at: str | None = None
    reason: str | None = None


class RunSummary(_State):
    """Summarize's output, which is the output of a successful execution (see `contract.summary.run_summary`)."""

    execution: str
    run_name: str | None = None
    base_model: str | None = None
    method: str | None = None
    platform: str | None = None
    job: dict[str, Any] | None = None
    custom_model_arn: str | None = None
    deployment_arn: str | None = None
    data: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    verdict: str | None = None
    promotion: dict[str, Any] | None = None
    estimate: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    durations: dict[str, float | None] = {}
    completed_at: str | None = None
    sagemaker_evaluation: dict[str, Any] | None = None
    """Present only with `sagemaker.evaluationRecipes`: the Nova evaluation jobs and their metrics (not gated)."""
    provisioned_throughput: dict[str, Any] | None = None
    """Present only for a full-rank run served through Provisioned Throughput: its ARN, model units, hourly cost and
    whether it still bills."""


class CleanupResult(_State):
    """What Cleanup returns (`jobs.cleanup.CleanupReport`): the real error and cause, and what it undid."""

    error: str
    cause: str
    stopped_job: str | None = None
    deleted_deployment: str | None = None
    deleted_model: str | None = None
    """The custom model of the current (or chosen) stage, when deleted."""
    deleted_models: list[str] = []
    """Every custom model deleted (all stages of a multi-stage run)."""
    actions: list[str] = []


class ErrorInfo(_State):
    """What a Catch puts at `$.error`."""

    error: str = Field(alias="Error", default="States.Unknown")
    cause: str | None = Field(alias="Cause", default=None)


class RunState(_State):
    """The whole state document; every part but `execution` is optional (it depends on how far the run got)."""

    raw: dict[str, Any] | None = None
    """The execution input as given (ValidateInput reads it; open by nature, it is not yet validated)."""
    execution: ExecutionRef
    input: ExecutionInput | None = None
    stage: StageCursor = StageCursor()
    """The stage loop's cursor (StartStages, NextStage); absent in older documents: the first and only stage."""
    plan: DataPlan | None = None
    shards: MapResults | None = None
    """Where the PrepareShards map wrote one ShardResult per object (its ResultWriter manifest)."""
    data: PreparedData | None = None
    grader_preflight: GraderPreflight | None = None
    job: JobState | None = None
    sagemaker_evaluation: SageMakerEvaluationState | None = None
    """SageMaker platform with `sagemaker.evaluationRecipes`: the Nova evaluation jobs on the checkpoint."""
    model: ModelState | None = None
    deployment: DeploymentState | None = None
    evaluation_plan: EvaluationPlan | None = None
    evaluation_batches: MapResults | None = None
    """Where the EvaluateBatches map wrote one EvaluatedBatch per batch (its ResultWriter manifest)."""
    estimate: CostEstimate | None = None
    """CheckBudget's cost estimate (before any paid job)."""
    evaluation: EvaluationResult | None = None
    approval: ApprovalDecision | None = None
    """The approver's decision (environments and inputs that require an approval)."""
    approval_error: ErrorInfo | None = None
    """What a rejection (SendTaskFailure) or the approval's timeout left, before ApprovalRejected/TimedOut."""
    promotion: dict[str, Any] | None = None
    summary: RunSummary | None = None
    error: ErrorInfo | None = None
    cleanup: CleanupResult | None = None
    cleanup_error: ErrorInfo | None = None
