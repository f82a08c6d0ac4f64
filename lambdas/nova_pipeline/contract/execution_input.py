"""The execution input of the customization state machine: one pydantic model, every field documented.

`parse_execution_input` returns the input with every default filled in, or raises `InputProblemsError` listing every
problem at once with its JSON path, so that a user fixes the whole input in one round trip.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from nova_pipeline.contract.catalog import (
    CUSTOMIZABLE_MODELS,
    HYPERPARAMETER_ALIASES,
    HYPERPARAMETER_RULES,
    MODELS,
    SAGEMAKER_EVALUATION_TASKS,
    SAGEMAKER_TRAINING,
    TEACHER_MODELS,
    HyperparameterRule,
    InstanceOption,
    Method,
    Platform,
    RecipeFamily,
    SageMakerTraining,
    TaskType,
    evaluation_instance_types,
    sagemaker_training_problem,
)
from nova_pipeline.core import layout
from nova_pipeline.core.problems import InputProblemsError, Problem, problems_from_validation_error
from nova_pipeline.evaluation.gate import INPUT_NAMES, loosened

# The approval waits inside the state machine's 7-day execution timeout (stacks/constructs/customization_workflow.py).
MAX_APPROVAL_SECONDS = 120 * 3600
RUN_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
_COLUMN_NAME = re.compile(r"[^.\[\]{}!:]+")  # a column name as str.format looks it up: no attribute, index
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")

HyperparameterValue = bool | int | float | str


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class ColumnMapping(_Model):
    """Which columns of a raw (CSV/JSON) dataset hold what. Ignored for records already in a chat format."""

    question: str = "question"
    """Column with the user's question; becomes `{question}` in the user template."""
    answer: str = "answer"
    """Column with the expected answer (the assistant turn; the reference answer for RFT and evaluation)."""
    system: str | None = None
    """Column holding a per-record system prompt; overrides `prompt.system` for that record."""
    label: str | None = None
    """Classification only: column with the class label (defaults to the answer column)."""
    context: str | None = None
    """Text-to-SQL: column with the CREATE TABLE statements (needed by SQL execution grading and metrics)."""


class DatasetInput(_Model):
    """Where the raw data is and how to read it."""

    uri: Annotated[str, Field(min_length=1)]
    """`s3://bucket/key`, `s3://bucket/prefix/` (every object under it) or a key relative to the data bucket
    (`raw/my-data.csv`). Locally (`run-local`) also a file or directory path."""
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"
    """File format; `auto` decides by extension (`.csv`, `.json`, `.jsonl`, each optionally `.gz`)."""
    record_format: Literal["auto", "raw", "bedrock-conversation", "openai-chat"] = "auto"
    """`raw` rows mapped by `columns`, records already in `bedrock-conversation-2024`, or OpenAI chat records;
    `auto` detects it from the first record."""
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    """CSV field delimiter."""
    columns: ColumnMapping = ColumnMapping()
    """Column mapping for raw rows."""
    on_invalid: Literal["fail", "skip"] = "fail"
    """`fail` stops before any paid job and lists the first problems; `skip` drops invalid records and reports them."""
    sanitize: Literal["fix", "reject"] = "fix"
    """Reserved strings (`Assistant:`, `[EOS]`, ...) and control characters: `fix` rewrites and counts them,
    `reject` treats the record as invalid."""
    label_variants: Literal["warn", "fail"] = "warn"
    """Classification labels that differ only by case, whitespace or punctuation (`Feature_Request`,
    `feature_request`): `warn` keeps them as separate classes and names them with their counts in the manifest;
    `fail` stops before any paid job."""


def template_problem(template: str) -> str | None:
    """Why `template` is not plain text with `{column}` placeholders (None when it is). A format specification
    (`{question:>1000000000}`), a conversion (`{question!r}`), an attribute or index (`{row.x}`, `{row[0]}`) or a
    positional `{}` would let one input make every record gigabytes long or read what it should not; a literal
    brace is written `{{` / `}}`."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:  # "Single '}' encountered", "expected '}' before end of string"
        return f"is not a valid template ({error}); write a literal brace as {{{{ or }}}}"
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if not name:
            return f"placeholder {shown} names no column; use {{column}}"
        if name.isdigit():
            return f"placeholder {shown} is positional; name a column, as in {{question}}"
        if spec or conversion or not _COLUMN_NAME.fullmatch(name):
            return (
                f"placeholder {shown} is not a plain {{column}} field: format specifications, conversions, "
                "attributes and indexes are not allowed"
            )
    return None


class PromptInput(_Model):
    """The prompts the model is trained with. The same system prompt is used at evaluation and inference."""

    system: str | None = None
    """System prompt template. A `{column}` placeholder (e.g. `{context}`) names a record column whose value opens
    the user turn between `<context>` lines; the system block keeps a fixed pointer to it (never per-record text).
    Plain fields only (no format specification, conversion, attribute or index); `{{` and `}}` write a brace."""
    user_template: Annotated[str, Field(min_length=1)] = "{question}"
    """User turn template with plain `{column}` placeholders."""

    @field_validator("system", "user_template")
    @classmethod
    def _plain_placeholders(cls, template: str | None) -> str | None:
        if template is not None:
            problem = template_problem(template)
            if problem:
                raise ValueError(problem)
        return template


class SplitInput(_Model):
    """How prepared records are split. Deterministic: a record always lands in the same split."""

    train: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Share of records used for training."""
    validation: Annotated[float, Field(ge=0, lt=1)] = 0.1
    """Share used as the validation set (must be 0 for models that take no validation set, e.g. nova-2-lite)."""
    test: Annotated[float, Field(ge=0, lt=1)] = 0.1
    """Share held out for evaluation."""
    seed: Annotated[int, Field(ge=0)] = 0
    """Key of the split hash; change it to draw a different split."""
    max_train: Annotated[int | None, Field(ge=1)] = None
    """Cap on training records (deterministic sampling); defaults to the model's maximum (20,000 on Bedrock)."""


class InferenceConfig(_Model):
    """Inference settings used at evaluation and as the served model's defaults."""

    max_tokens: Annotated[int, Field(ge=1, le=10_000)] = 512
    """Maximum output tokens."""
    temperature: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Sampling temperature (0 = deterministic evaluation)."""
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.9
    """Nucleus sampling."""


class TrafficInput(_Model):
    """Expected production traffic, for the projected monthly cost."""

    queries_per_month: Annotated[int, Field(ge=0)] = 22_000
    """Requests per month."""
    input_tokens: Annotated[int, Field(ge=0)] = 800
    """Average input tokens per request."""
    output_tokens: Annotated[int, Field(ge=0)] = 60
    """Average output tokens per request."""


class GeneralSetInput(_Model):
    """A general-capability set answered by the candidate and the base model beside the test split (the forgetting
    guard): multiple-choice rows in MMLU's format, `{"question", "choices", "answer"}`, one JSON object per line."""

    uri: Annotated[str, Field(min_length=1, pattern=r"^(builtin:[a-z0-9-]+|s3://.+|[^:]+)$")] = "builtin:general-v1"
    """`builtin:general-v1` (120 questions the project writes itself), or a JSONL file in the data bucket: a key
    under `raw/` or an `s3://` URI of that bucket."""
    max_rows: Annotated[int, Field(ge=1, le=5_000)] = 200
    """Questions evaluated (the first ones of the set)."""


class EvaluationInput(_Model):
    """How the candidate is evaluated against the baseline."""

    enabled: bool = True
    """Run the evaluation (a run without it can never be promoted)."""
    baseline: Literal["base-model", "promoted", "none"] = "base-model"
    """Compare against the base model (inference profile), the currently promoted model, or nothing."""
    max_rows: Annotated[int, Field(ge=1, le=100_000)] = 500
    """Rows of the test split evaluated."""
    judge_model: str | None = None
    """LLM judge (0-100 rubric): a Nova inference profile id of the catalog (`us.amazon.nova-pro-v1:0`; a short name
    such as `nova-pro` becomes its profile id), or the ARN of such a profile or of a custom-model deployment in the
    pipeline's Region that carries this environment's `environment` tag (IAM lets the evaluation invoke no other);
    unset disables LLM-as-judge."""
    inference_config: InferenceConfig = InferenceConfig()
    """Inference settings for candidate and baseline."""
    traffic: TrafficInput = TrafficInput()
    """Traffic used to project the monthly cost."""
    general: GeneralSetInput | None = None
    """General-capability set (forgetting guard): e.g. `{"uri": "builtin:general-v1"}`; unset: not measured."""


class GateInput(_Model):
    """Quality gate; unset thresholds fall back to the environment's configuration."""

    min_primary_metric: Annotated[float | None, Field(ge=0, le=1)] = None
    """Minimum value of the task's primary metric (accuracy, execution accuracy or token F1)."""
    min_gain_over_baseline: float | None = None
    """Minimum improvement of the primary metric over the baseline (absolute, e.g. 0.05)."""
    max_ttft_p90_ms: Annotated[float | None, Field(gt=0)] = None
    """Maximum time to first token, 90th percentile, in milliseconds."""
    max_cost_per_1k_requests_usd: Annotated[float | None, Field(ge=0, alias="maxCostPer1kRequestsUsd")] = None
    """Maximum cost of 1,000 requests at the measured token counts."""
    max_error_rate: Annotated[float | None, Field(ge=0, le=1)] = None
    """Maximum share of evaluation requests that failed."""
    max_guardrail_intervention_rate: Annotated[float | None, Field(ge=0, le=1)] = None
    """Maximum share of the candidate's answers the environment's guardrail intervened on (a run in an environment
    without a guardrail is rejected when this is set: nothing measured it)."""
    max_general_regression: Annotated[float | None, Field(ge=0, le=1)] = None
    """Maximum drop of accuracy on the general set (`evaluation.general`) from the base model to the candidate
    (absolute, e.g. 0.02): the forgetting guard."""


class SageMakerInput(_Model):
    """SageMaker AI training with a Nova recipe (used when `platform` is `sagemaker`)."""

    recipe: str | None = None
    """Recipe name shipped in the repository, or an `s3://` URI of a recipe YAML of the model's recipe family; default
    chosen by model, method and instance type."""
    recipe_overrides: dict[str, Any] = {}
    """Values merged into the recipe at dotted paths the recipe has (e.g. `training_config.max_length`); `run.replicas`
    and the RFT reward Lambda ARNs are set by the pipeline."""
    instance_type: Annotated[str | None, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")] = None
    """Training instance type; allowed and default per model and method (e.g. `ml.g5.48xlarge` for Nova Micro/Lite
    SFT, `ml.p5.48xlarge` for Nova Pro and Nova 2 Lite)."""
    instance_count: Annotated[int | None, Field(ge=1, le=32)] = None
    """Training instance count (the recipe's `run.replicas`); allowed and default per recipe and instance type."""
    max_runtime_hours: Annotated[float, Field(gt=0, le=120)] = 24
    """Stop the job after this many hours."""
    evaluation_recipes: Annotated[list[EvaluationRecipeInput], Field(max_length=8)] = []
    """SageMaker's Nova evaluation recipes run on the trained checkpoint after training, one training job each
    (e.g. `[{"task": "mmlu"}, {"task": "gen_qa", "dataset": "raw/qa.jsonl"}]`); their metrics are reported, not
    gated. Tasks: mmlu, mmlu_pro, bbh, gpqa, math, strong_reject, ifeval, gen_qa."""
    peft_scheme: Literal["lora", "none"] = "lora"
    """The recipe's `peft_scheme`: `lora` (LoRA adapter, the default) or `none` (full-rank recipe, `peft_scheme:
    null`). A full-rank model cannot use Bedrock on-demand deployment: the run imports it and stops there (no
    deployment, evaluation or promotion) unless `deployment.provisionedThroughput` buys Provisioned Throughput for
    it (billed hourly; see docs/state-machine.md)."""

    @property
    def full_rank(self) -> bool:
        return self.peft_scheme == "none"


class EvaluationRecipeInput(_Model):
    """One Nova evaluation recipe run on the trained checkpoint (SageMaker platform only)."""

    task: str
    """Published task: mmlu, mmlu_pro, bbh, gpqa, math, strong_reject, ifeval or gen_qa."""
    strategy: str | None = None
    """The task's published strategy (e.g. `zs_cot` for mmlu, `fs_cot` for bbh); default: the task's."""
    metric: str | None = None
    """The task's published metric (e.g. `accuracy`, `exact_match`; `all` for gen_qa); default: the task's."""
    dataset: str | None = None
    """gen_qa only (required there): key of a JSONL file under `raw/` of the data bucket, one
    `{"query": ..., "response": ...}` per line, read by the job as its `train` channel."""
    instance_type: Annotated[str | None, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")] = None
    """Evaluation instance type; allowed per model (the recipe's list), default `ml.p5.48xlarge`."""


class ProvisionedThroughputInput(_Model):
    """Provisioned Throughput for a full-rank SageMaker model (CreateProvisionedModelThroughput, no commitment): the
    run buys it after the import, evaluates through it, and keeps it only if the candidate is promoted. It bills per
    model unit and hour while it exists, used or not (docs/state-machine.md, "Full-rank training on SageMaker")."""

    model_units: Annotated[int, Field(ge=1)] = 1
    """Model units to buy (`modelUnits`); the account needs a model-unit quota for no-commitment purchases."""
    commitment: Literal["none", "OneMonth", "SixMonths"] = "none"
    """Only `none` (no commitment, billed hourly, deletable at any time): a term cannot be deleted before it ends,
    so a rejected or failed run could not clean it up (the other values are refused with this reason)."""
    usd_per_model_unit_hour: Annotated[float, Field(gt=0, alias="usdPerModelUnitHour")]
    """Required: the no-commitment hourly price of one model unit of the base model (for a custom model "pricing is
    the same as the base model that it was customized from": Bedrock user guide, Provisioned Throughput). The
    pipeline ships no Provisioned Throughput price for Nova: take it from the Amazon Bedrock pricing page or your
    quote."""
    max_hourly_usd: Annotated[float, Field(gt=0, alias="maxHourlyUsd")]
    """Required: the most the Provisioned Throughput may cost per hour. ValidateInput refuses the run (before any
    paid step) when `modelUnits` x `usdPerModelUnitHour` is above it."""

    @property
    def hourly_usd(self) -> float:
        """What the Provisioned Throughput bills per hour while it exists."""
        return round(self.model_units * self.usd_per_model_unit_hour, 4)

    def cost_line(self) -> str:
        """The hourly cost as `plan` and `validate-input` show it before a run."""
        return (
            f"Provisioned Throughput: {self.model_units} model unit(s) x ${self.usd_per_model_unit_hour:,.2f} = "
            f"${self.hourly_usd:,.2f} per hour while it exists (maxHourlyUsd ${self.max_hourly_usd:,.2f}); "
            "created after the import, deleted when the candidate is rejected or the run fails, kept billing when "
            "promoted"
        )


class DeploymentInput(_Model):
    """How the candidate is served for evaluation and promotion."""

    provisioned_throughput: ProvisionedThroughputInput | None = None
    """Full-rank SageMaker runs only: serve the candidate through Provisioned Throughput (billed hourly) instead of
    ending imported. Unset: a full-rank run imports the model and stops (nothing bills per hour)."""


class RftInput(_Model):
    """Reinforcement fine-tuning: the reward function the grader Lambda applies."""

    grader: Literal["exact", "normalized", "label", "numeric", "sql-execution"] = "normalized"
    """Exact match, normalised match, classification label match, numeric tolerance, or SQL execution match."""
    numeric_tolerance: Annotated[float, Field(ge=0)] = 1e-6
    """Absolute tolerance of the `numeric` grader."""


class DistillationInput(_Model):
    """Distillation: the teacher generates the answers the student learns from."""

    teacher_model: str = "nova-pro"
    """Teacher model short name (nova-pro or nova-premier)."""
    max_response_length: Annotated[int, Field(ge=1, le=32_000)] = 1000
    """Maximum tokens the teacher generates per prompt."""


class ApprovalInput(_Model):
    """Human approval before promotion (`nova-pipeline approve` / `reject`); the environment sets the defaults."""

    required: bool | None = None
    """Wait for an approval before promoting. Unset: the environment's `approval.required`; `true` requires one
    where the environment does not; `false` cannot waive one the environment requires."""
    timeout_seconds: Annotated[int | None, Field(ge=1, le=MAX_APPROVAL_SECONDS)] = None
    """Seconds the approval may wait before the candidate is rejected; unset: the environment's
    `approval.timeoutHours`. May only shorten it."""


class BudgetInput(_Model):
    """Spending limits checked before any paid job starts (estimates: see `nova-pipeline cost --input`)."""

    max_training_usd: Annotated[float | None, Field(ge=0)] = None
    """Stop the run before the customization or training job starts when the estimated training cost is above this
    (Bedrock: training tokens x epochs x price; SageMaker: instances x `maxRuntimeHours` x instance price). With
    `stages`, the sum of every stage's estimate, checked before the first stage's job."""


class CleanupInput(_Model):
    """What a rejected or failed run leaves behind."""

    keep_rejected_model: bool = False
    """Keep the custom model of a rejected or failed run (for inspection; it costs $1.95 per month in storage until
    `nova-pipeline gc` or the scheduled clean-up deletes it, or to re-drive a run that failed after training).
    Default: deleted with its deployment."""


class DataMixingInput(_Model):
    """Nova Forge data mixing: each training batch blends the customer's data with Amazon-curated Nova data."""

    customer_data_percent: Annotated[float, Field(ge=0, le=100)] = 50
    """Share of each batch from the customer's data (50 is the suggested start; higher specializes more and forgets
    more)."""
    nova_data_percent: dict[str, Annotated[float, Field(ge=0, le=100)]] = {}
    """Weights of the Nova categories within the Nova share (e.g. `{"instruction-following": 60, "rai": 40}`), which
    must add up to 100; unset categories get 0; empty: the recipe's defaults."""
    base_model_arn: str | None = None
    """The base model from the SageMaker AI Hub the serverless job trains (`ServerlessJobConfig.BaseModelArn`), e.g.
    `arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/nova-textgeneration-lite-v2/1.0.0`
    (required; in the pipeline's Region)."""
    model_package_group_arn: str | None = None
    """The model package group in your account the job registers its model in (`ModelPackageConfig`; required)."""
    accept_eula: bool = False
    """Must be `true`: you accept the base model's end-user license agreement (`ServerlessJobConfig.AcceptEula`); the
    pipeline never accepts it for you."""


class StageInput(_Model):
    """One stage of a multi-stage run: a customization job that starts from the previous stage's model."""

    method: Method
    """`sft`, `rft` or `distillation` (where the platform can start it from the previous stage: see the rules)."""
    from_: Literal["base", "previous"] | None = Field(None, alias="from")
    """`base` for the first stage (the base model); `previous` for every later one (the previous stage's model:
    its checkpoint on SageMaker, its custom model on Bedrock). Unset: that default."""
    hyperparameters: dict[str, HyperparameterValue] = {}
    """This stage's hyperparameters (the table of its platform and method); defaults are filled in."""
    rft: RftInput | None = None
    """RFT grader of this stage (method `rft`); defaults to the run's `rft`."""
    data_share: Annotated[float | None, Field(gt=0, le=1)] = None
    """Share of the prepared training split this stage trains on: stages with a share take consecutive,
    non-overlapping slices in stage order (e.g. 0.83 for SFT then 0.17 for RFT). Unset: the whole split."""
    include_previous_data: bool | Annotated[float, Field(ge=0, le=1)] = False
    """Also train on the previous stage's training records (`true` = all of them, a number = that share),
    converted to this stage's format (SFT conversation -> RFT prompt + reference answer): the "700 RFT + all
    3,500 SFT" recipe that keeps what the first stage learnt."""
    sagemaker: SageMakerInput | None = None
    """SageMaker instance settings of this stage (platform `sagemaker`); defaults to the run's when the method is
    the first stage's, else to the catalog's defaults for this stage's method."""


MAX_STAGES = 3


class ExecutionInput(_Model):
    """The JSON document an execution of the customization state machine starts with."""

    dataset: DatasetInput
    """Where the raw data is and how to read it."""
    task: TaskType = TaskType.GENERATION
    """`classification`, `generation` or `text-to-sql`: selects metrics, stratification and label extraction."""
    base_model: str | None = None
    """Model to customize: nova-micro, nova-lite, nova-pro or nova-2-lite (default from the environment)."""
    method: Method = Method.SFT
    """`sft`, `rft` (Nova 2 Lite) or `distillation`."""
    platform: Platform = Platform.BEDROCK
    """`bedrock` (managed customization job) or `sagemaker` (training job with a Nova recipe)."""
    run_name: Annotated[str | None, Field(pattern=RUN_NAME_PATTERN)] = None
    """Short name used in job, model and deployment names (lowercase, digits, dashes; up to 32 characters)."""
    prompt: PromptInput = PromptInput()
    """System prompt and user template."""
    hyperparameters: dict[str, HyperparameterValue] = {}
    """Training hyperparameters (see the table for each platform and method); defaults are filled in."""
    split: SplitInput = SplitInput()
    """Train / validation / test split."""
    evaluation: EvaluationInput = EvaluationInput()
    """Evaluation settings."""
    gate: GateInput = GateInput()
    """Quality gate thresholds."""
    sagemaker: SageMakerInput = SageMakerInput()
    """SageMaker settings (platform `sagemaker` only)."""
    deployment: DeploymentInput = DeploymentInput()
    """Deployment settings (on-demand only today)."""
    rft: RftInput = RftInput()
    """RFT grader settings (method `rft` only)."""
    distillation: DistillationInput = DistillationInput()
    """Distillation settings (method `distillation` only)."""
    approval: ApprovalInput = ApprovalInput()
    """Human approval before promotion (resolved from the environment: `required` and `timeoutSeconds` are set)."""
    budget: BudgetInput = BudgetInput()
    """Spending limits checked before the paid job starts."""
    cleanup: CleanupInput = CleanupInput()
    """Clean-up of a rejected or failed run (every stage's model in a multi-stage run)."""
    data_mixing: DataMixingInput | None = None
    """Nova Forge data mixing (`customerDataPercent`, `novaDataPercent`, `baseModelArn`, `modelPackageGroupArn`,
    `acceptEula`): Nova 2 Lite SFT on platform `sagemaker` runs as a SageMaker serverless training job with the mix;
    refused elsewhere (see docs/stages.md#data-mixing)."""
    stages: Annotated[list[StageInput], Field(max_length=MAX_STAGES)] = []
    """Several customization stages in one run (e.g. SFT then RFT from the SFT model), each evaluated on the same
    test split; the best stage that passes the gate is promoted and the others' deployments and models are deleted.
    The first stage's `method` and `hyperparameters` replace the top-level ones. Empty: one stage, the top-level
    `method`."""
    tags: dict[str, str] = {}
    """Tags added to the job, the custom model and the deployment, next to the pipeline's own `project`,
    `environment`, `run` and `execution` (which cannot be overridden). Bedrock's rules: key 1-128 and value 0-256
    characters of ASCII letters, digits, whitespace and `. _ : / = + @ -`; no key starting with `aws:` (any case);
    at most 46 tags (50 per resource minus the pipeline's 4)."""


# ------------------------------------------------------------------------------------------------------------ tags
# Bedrock `Tag` (botocore TagKey / TagValue): key 1-128, value 0-256 characters, both `[a-zA-Z0-9\s._:/=+@-]*`;
# the `aws:` prefix is reserved for AWS in any case; a resource holds at most 50 tags. The pipeline adds its own
# (`jobs.naming.pipeline_tags`), so a user gets the rest.
PIPELINE_TAG_KEYS = ("project", "environment", "run", "execution")
MAX_RESOURCE_TAGS = 50
MAX_USER_TAGS = MAX_RESOURCE_TAGS - len(PIPELINE_TAG_KEYS)
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
_TAG_TEXT = re.compile(r"[a-zA-Z0-9\s._:/=+@-]*", re.ASCII)
_TAG_CHARACTERS = "ASCII letters, digits, whitespace and . _ : / = + @ -"


def tag_problems(tags: dict[str, str]) -> list[Problem]:
    """Every way `tags` breaks Bedrock's tag rules, each at `$.tags.<key>` (the count at `$.tags`)."""
    problems: list[Problem] = []
    for key, value in tags.items():
        path = f"$.tags.{key}"
        if not 1 <= len(key) <= TAG_KEY_MAX:
            problems.append(Problem(path, f"key must be 1-{TAG_KEY_MAX} characters (got {len(key)})"))
        if not _TAG_TEXT.fullmatch(key):
            problems.append(Problem(path, f"key may contain only {_TAG_CHARACTERS} (got {key!r})"))
        if key.lower().startswith("aws:"):
            problems.append(Problem(path, "key must not start with 'aws:' (reserved for AWS, in any case)"))
        if key in PIPELINE_TAG_KEYS:
            problems.append(Problem(path, f"is set by the pipeline itself ({', '.join(PIPELINE_TAG_KEYS)})"))
        if len(value) > TAG_VALUE_MAX:
            problems.append(Problem(path, f"value must be 0-{TAG_VALUE_MAX} characters (got {len(value)})"))
        if not _TAG_TEXT.fullmatch(value):
            problems.append(Problem(path, f"value may contain only {_TAG_CHARACTERS} (got {value!r})"))
    if len(tags) > MAX_USER_TAGS:
        problems.append(
            Problem(
                "$.tags",
                f"at most {MAX_USER_TAGS} tags (a resource holds {MAX_RESOURCE_TAGS}, the pipeline adds "
                f"{len(PIPELINE_TAG_KEYS)}); got {len(tags)}",
            )
        )
    return problems


def _raw_tag_problems(document: dict[str, Any], known: set[str]) -> list[Problem]:
    """Tag problems of an input that failed elsewhere too, so that all are listed in one round trip."""
    given = document.get("tags")
    if not isinstance(given, dict):
        return []
    tags = {key: value for key, value in given.items() if isinstance(key, str) and isinstance(value, str)}
    return [problem for problem in tag_problems(tags) if problem.path not in known]


def resolve_approval(given: ApprovalInput, environment: ApprovalInput | None) -> tuple[ApprovalInput, list[Problem]]:
    """The input's approval with the environment's defaults filled in; it may require one or shorten the wait,
    never waive an approval the environment requires or wait longer than it allows."""
    default = environment or ApprovalInput(required=False, timeout_seconds=DEFAULT_APPROVAL_SECONDS)
    problems: list[Problem] = []
    if default.required and given.required is False:
        problems.append(
            Problem("$.approval.required", "the environment requires an approval; an input cannot waive it")
        )
    limit = default.timeout_seconds or DEFAULT_APPROVAL_SECONDS
    if given.timeout_seconds is not None and given.timeout_seconds > limit:
        problems.append(
            Problem(
                "$.approval.timeoutSeconds",
                f"may only shorten the environment's {limit} s (got {given.timeout_seconds})",
            )
        )
    required = bool(default.required) or bool(given.required)
    return ApprovalInput(required=required, timeout_seconds=given.timeout_seconds or limit), problems


DEFAULT_APPROVAL_SECONDS = 72 * 3600


def parse_execution_input(
    document: Any,
    default_base_model: str = "nova-micro",
    region: str | None = None,
    gate_defaults: dict[str, float | None] | None = None,
    *,
    approval_defaults: ApprovalInput | None = None,
    guardrail: bool | None = None,
) -> ExecutionInput:
    """Validate an execution input and return it with defaults and resolved hyperparameters.

    `region`, when known, is where the jobs will run (SageMaker training images exist in a few regions only).
    `gate_defaults`, when known, is the environment's quality gate: the input's `gate` may only make it stricter.
    `approval_defaults`, when known, is the environment's approval policy (see `resolve_approval`).
    `guardrail`, when known, says whether the environment applies a guardrail (a gate on its rate needs one).
    Raises `InputProblemsError` with every problem found, each with its JSON path.
    """
    if not isinstance(document, dict):
        raise InputProblemsError("execution input", [Problem("$", "must be a JSON object")])
    try:
        parsed = ExecutionInput.model_validate(document)
    except ValidationError as error:
        problems = problems_from_validation_error(error)
        problems += _raw_hyperparameter_problems(document, default_base_model, {p.path for p in problems})
        problems += _raw_tag_problems(document, {p.path for p in problems})
        raise InputProblemsError("execution input", problems) from None
    if parsed.base_model is None:
        parsed = parsed.model_copy(update={"base_model": default_base_model})
    stage_problems: list[Problem] = []
    if parsed.stages:
        parsed, stage_problems = _resolve_stages(parsed, region)
    problems = (
        _cross_field_problems(parsed)
        + tag_problems(parsed.tags)
        + stage_problems
        + data_mixing_problems(parsed, region)
    )
    problems += _full_rank_problems(parsed)
    if parsed.stages:  # resolved per stage above; the first stage's are the top-level ones
        hyperparameters, sagemaker = parsed.hyperparameters, parsed.stages[0].sagemaker or parsed.sagemaker
    else:
        hyperparameters, hyperparameter_problems = resolve_hyperparameters(
            parsed.platform, parsed.method, parsed.hyperparameters, parsed.base_model
        )
        problems += hyperparameter_problems
        sagemaker, sagemaker_problems = _resolve_sagemaker(parsed, region)
        problems += sagemaker_problems
    judge, judge_problem = resolve_judge(parsed.evaluation.judge_model, region)
    problems += [judge_problem] if judge_problem else []
    if gate_defaults is not None:
        overrides = {name: getattr(parsed.gate, name) for name in INPUT_NAMES}
        problems += [Problem(f"$.gate.{INPUT_NAMES[name]}", text) for name, text in loosened(gate_defaults, overrides)]
    approval, approval_problems = resolve_approval(parsed.approval, approval_defaults)
    problems += approval_problems
    problems += _general_problems(parsed, gate_defaults)
    problems += evaluation_recipe_problems(parsed)
    if guardrail is False and parsed.gate.max_guardrail_intervention_rate is not None:
        problems.append(
            Problem(
                "$.gate.maxGuardrailInterventionRate",
                "this environment applies no guardrail, so nothing would measure the rate: set `guardrail` in its "
                "cdk.json block, or remove the threshold",
            )
        )
    if problems:
        raise InputProblemsError("execution input", problems)
    evaluation = parsed.evaluation.model_copy(update={"judge_model": judge})
    return parsed.model_copy(
        update={
            "hyperparameters": hyperparameters,
            "sagemaker": sagemaker,
            "evaluation": evaluation,
            "approval": approval,
        }
    )


# Converse's modelId forms the evaluation function may invoke (stacks/constructs/evaluation.py grants the catalog's
# inference profiles and the account's custom-model deployments; botocore's bedrock-runtime model: modelId).
_JUDGE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:(?P<region>[a-z0-9-]{1,20}):\d{12}:"
    r"(?P<kind>inference-profile|custom-model-deployment)/(?P<id>[A-Za-z0-9.:-]+)$"
)
_DEPLOYMENT_ID = re.compile(r"^[a-z0-9]{12}$")


def resolve_judge(judge: str | None, region: str | None) -> tuple[str | None, Problem | None]:
    """The judge as the evaluation will call it (a catalog short name becomes its inference profile id), or the
    problem: checked here because a judge the evaluation cannot call fails the run after training and deployment."""
    if judge is None:
        return None, None
    judge = MODELS[judge].inference_profile_id if judge in MODELS else judge
    message = _judge_problem(judge, region)
    return (None, Problem("$.evaluation.judgeModel", message)) if message else (judge, None)


def _judge_problem(judge: str, region: str | None) -> str | None:
    profiles = {spec.inference_profile_id: name for name, spec in MODELS.items()}
    where = f"in {region}" if region else "in the pipeline's Region"
    match = _JUDGE_ARN.match(judge)
    message = None
    if judge in profiles:
        geography = judge.split(".", 1)[0]
        if region and not region.startswith(f"{geography}-"):
            message = f"{judge!r} is a {geography.upper()} cross-Region profile: it cannot be called {where}"
    elif match is None:
        message = (
            f"{judge!r} is not a model the evaluation can call: give a Nova inference profile id "
            f"({', '.join(profiles)}), a short name ({', '.join(MODELS)}), or the ARN of such a profile or of a "
            f"custom-model deployment {where}"
        )
    elif region and match["region"] != region:
        message = f"{judge!r} is in {match['region']}; the evaluation runs {where}: use a model {where}"
    elif match["kind"] == "inference-profile" and match["id"] not in profiles:
        message = f"inference profile {match['id']!r} is not a Nova model of the catalog ({', '.join(profiles)})"
    elif match["kind"] == "custom-model-deployment" and not _DEPLOYMENT_ID.match(match["id"]):
        message = f"{judge!r} is not a custom-model deployment ARN (its id is 12 lowercase letters and digits)"
    return message


def evaluation_recipe_problems(parsed: ExecutionInput) -> list[Problem]:
    """`sagemaker.evaluationRecipes` against the published tasks, strategies, metrics and instance types."""
    recipes = parsed.sagemaker.evaluation_recipes
    if not recipes:
        return []
    where = "$.sagemaker.evaluationRecipes"
    if parsed.platform is not Platform.SAGEMAKER:
        return [
            Problem(
                where,
                f"Nova evaluation recipes run on a SageMaker training job's checkpoint; platform is "
                f"{parsed.platform.value}: set `platform` to `sagemaker`, or use `evaluation.general` (the forgetting "
                "guard) to measure general capability on bedrock",
            )
        ]
    model = parsed.base_model or ""
    instance_types = evaluation_instance_types(model)
    if not instance_types:
        return [Problem(where, f"{model} has no published Nova evaluation recipe")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, recipe in enumerate(recipes):
        at = f"{where}[{index}]"
        task = SAGEMAKER_EVALUATION_TASKS.get(recipe.task)
        if task is None:
            known = ", ".join(SAGEMAKER_EVALUATION_TASKS)
            problems.append(
                Problem(
                    f"{at}.task",
                    f"{recipe.task!r} is not offered; offered: {known} (llm_judge, mmmu and rft_eval are published "
                    "too but compare two models, need images or a reward Lambda)",
                )
            )
            continue
        if recipe.task in seen:
            problems.append(Problem(f"{at}.task", f"{recipe.task} is requested twice"))
        seen.add(recipe.task)
        for name, given, published in (
            ("strategy", recipe.strategy, task.strategy),
            ("metric", recipe.metric, task.metric),
        ):
            if given is not None and given != published:
                problems.append(
                    Problem(f"{at}.{name}", f"{task.name} publishes {name} {published!r} only, not {given!r}")
                )
        if task.dataset and not recipe.dataset:
            problems.append(Problem(f"{at}.dataset", f"{task.name} evaluates your dataset: give its key under raw/"))
        if not task.dataset and recipe.dataset:
            problems.append(Problem(f"{at}.dataset", f"{task.name} is a published benchmark and reads no dataset"))
        if recipe.dataset and (not recipe.dataset.startswith(layout.RAW) or ".." in recipe.dataset):
            problems.append(Problem(f"{at}.dataset", f"must be a key under {layout.RAW} of the data bucket"))
        if recipe.instance_type and recipe.instance_type not in instance_types:
            allowed = ", ".join(instance_types)
            problems.append(Problem(f"{at}.instanceType", f"not allowed for {model} evaluation; allowed: {allowed}"))
    return problems


def _general_problems(parsed: ExecutionInput, gate_defaults: dict[str, float | None] | None) -> list[Problem]:
    """A gate on the general regression needs a general set to measure it, before anything costs money."""
    general = parsed.evaluation.general
    if general is not None and general.uri.startswith("builtin:"):
        from nova_pipeline.evaluation.general import BUILTIN_SETS

        if general.uri.removeprefix("builtin:") not in BUILTIN_SETS:
            return [Problem("$.evaluation.general.uri", f"unknown built-in set; known: {', '.join(BUILTIN_SETS)}")]
    if general is not None:
        return []
    example = 'add `evaluation.general` (e.g. {"uri": "builtin:general-v1"})'
    if parsed.gate.max_general_regression is not None:
        return [Problem("$.gate.maxGeneralRegression", f"needs a general set to measure it: {example}")]
    if gate_defaults and gate_defaults.get("max_general_regression") is not None:
        return [Problem("$.evaluation.general", f"this environment gates on the general-set regression: {example}")]
    return []


# Where a stage can start from the previous stage's model (sources in docs/execution-input.md#stages):
# - Bedrock fine-tuning takes "either a foundation model or a previously customized model (fine-tuned or distilled)
#   as your base model" (Bedrock user guide, "Submit a model customization job for fine-tuning";
#   CreateModelCustomizationJob.baseModelIdentifier accepts a custom-model ARN).
# - Bedrock RFT: "choose Amazon Nova 2 Lite as your base model" (Bedrock user guide, "Create and manage fine-tuning
#   jobs for Amazon Nova models"); no custom model is documented as an RFT base, so it is refused. Distillation's
#   student is a base model too.
# - SageMaker: the next recipe's `run.model_name_or_path` is the previous job's checkpoint (its manifest's
#   `checkpoint_s3_bucket`), sent as the `base_model_location` hyperparameter (SageMaker Python SDK v3,
#   `_get_args_from_nova_recipe`), with the same model and the same LoRA/full-rank choice.
BEDROCK_CONTINUES_FROM = {Method.SFT: (Method.SFT, Method.DISTILLATION)}
BEDROCK_STAGE_SOURCE = (
    "Bedrock starts fine-tuning (sft) from a fine-tuned or distilled custom model only (Bedrock user guide, "
    "'Submit a model customization job for fine-tuning'); its RFT and distillation jobs start from the base model "
    "('Create and manage fine-tuning jobs for Amazon Nova models'). Run the stages on SageMaker (platform "
    "'sagemaker'), where the next stage trains from the previous checkpoint"
)


def _resolve_stages(parsed: ExecutionInput, region: str | None) -> tuple[ExecutionInput, list[Problem]]:
    """Each stage checked and resolved (`from`, hyperparameters, RFT grader, SageMaker instances); the first stage's
    method, hyperparameters and grader become the run's top-level ones."""
    problems = _stages_problems(parsed)
    resolved: list[StageInput] = []
    for index, stage in enumerate(parsed.stages):
        stage_resolved, stage_problems = _resolve_stage(parsed, index, stage, region)
        resolved.append(stage_resolved)
        problems += stage_problems
    first = resolved[0]
    update: dict[str, Any] = {"stages": resolved, "method": first.method, "hyperparameters": first.hyperparameters}
    if first.rft is not None:
        update["rft"] = first.rft
    return parsed.model_copy(update=update), problems


def _stages_problems(parsed: ExecutionInput) -> list[Problem]:
    """What a multi-stage run needs as a whole."""
    problems: list[Problem] = []
    first = parsed.stages[0]
    if "method" in parsed.model_fields_set and parsed.method is not first.method:
        message = f"is {parsed.method.value} but $.stages[0].method is {first.method.value}; leave it out"
        problems.append(Problem("$.method", message))
    several = len(parsed.stages) > 1
    if several and not parsed.evaluation.enabled:
        problems.append(Problem("$.evaluation.enabled", "must be true with several stages: they are compared by it"))
    if several and parsed.platform is Platform.SAGEMAKER and (parsed.sagemaker.recipe or "").startswith("s3://"):
        message = (
            "an s3:// recipe cannot be used with several stages: every stage uses the shipped LoRA recipe of its "
            "method so that all keep the same LoRA/full-rank choice"
        )
        problems.append(Problem("$.sagemaker.recipe", message))
    if several:
        problems += [
            Problem(
                f"$.stages[{index}].method",
                "distillation cannot be one of several stages: its training data holds prompts only, so no later "
                "stage would have answers to learn from",
            )
            for index, stage in enumerate(parsed.stages)
            if stage.method is Method.DISTILLATION
        ]
    shares = sum(stage.data_share or 0.0 for stage in parsed.stages)
    if shares > 1 + 1e-9:
        problems.append(Problem("$.stages", f"the stages' dataShare values add up to {shares:g}; at most 1"))
    return problems


def _resolve_stage(
    parsed: ExecutionInput, index: int, stage: StageInput, region: str | None
) -> tuple[StageInput, list[Problem]]:
    """One stage checked against its platform's rules, with its defaults filled in."""
    at, model = f"$.stages[{index}]", parsed.base_model or ""
    origin = stage.from_ or ("base" if index == 0 else "previous")
    problems: list[Problem] = []
    if index == 0 and origin != "base":
        problems.append(Problem(f"{at}.from", "the first stage starts from the base model ('base')"))
    if index > 0 and origin != "previous":
        message = "a later stage starts from the previous stage's model ('previous'); run separate executions instead"
        problems.append(Problem(f"{at}.from", message))
    if index == 0 and stage.include_previous_data:
        problems.append(Problem(f"{at}.includePreviousData", "the first stage has no previous stage"))
    spec = MODELS.get(model)
    if spec is not None and not spec.supports(parsed.platform, stage.method):
        message = f"{stage.method.value} on {parsed.platform.value} is not available for {model}"
        return stage, [*problems, Problem(f"{at}.method", message)]
    if index > 0 and parsed.platform is Platform.BEDROCK:
        previous = parsed.stages[index - 1].method
        if previous not in BEDROCK_CONTINUES_FROM.get(stage.method, ()):
            message = (
                f"{stage.method.value} cannot start from the previous stage's {previous.value} model on bedrock: "
                f"{BEDROCK_STAGE_SOURCE}"
            )
            problems.append(Problem(f"{at}.method", message))
    hyperparameters, hyperparameter_problems = resolve_hyperparameters(
        parsed.platform, stage.method, stage.hyperparameters, model
    )
    problems += [
        Problem(p.path.replace("$.hyperparameters", f"{at}.hyperparameters", 1), p.message)
        for p in hyperparameter_problems
    ]
    rft = stage.rft or parsed.rft
    if stage.method is Method.RFT and rft.grader == "label" and parsed.task is not TaskType.CLASSIFICATION:
        problems.append(Problem(f"{at}.rft.grader", "label grading needs task 'classification'"))
    sagemaker = stage.sagemaker or (
        parsed.sagemaker
        if stage.method is parsed.stages[0].method
        else SageMakerInput(max_runtime_hours=parsed.sagemaker.max_runtime_hours)
    )
    view = parsed.model_copy(update={"method": stage.method, "sagemaker": sagemaker})
    sagemaker, sagemaker_problems = _resolve_sagemaker(view, region)
    problems += [
        Problem(p.path.replace("$.sagemaker", f"{at}.sagemaker", 1) if stage.sagemaker else p.path, p.message)
        for p in sagemaker_problems
    ]
    update = {"from_": origin, "hyperparameters": hyperparameters, "rft": rft, "sagemaker": sagemaker}
    return stage.model_copy(update=update), problems


def stage_count(run: ExecutionInput) -> int:
    """How many customization stages the run has (1 without `stages`)."""
    return max(1, len(run.stages))


def stage_view(run: ExecutionInput, index: int) -> ExecutionInput:
    """The run as stage `index` sees it: the stage's method, hyperparameters, grader and SageMaker settings at the
    top level, so that every single-stage request builder serves a stage unchanged."""
    if not run.stages:
        return run
    stage = run.stages[index]
    update: dict[str, Any] = {"method": stage.method, "hyperparameters": stage.hyperparameters}
    if stage.rft is not None:
        update["rft"] = stage.rft
    if stage.sagemaker is not None:
        update["sagemaker"] = stage.sagemaker
    return run.model_copy(update=update)


# Nova Forge data mixing (sources in docs/stages.md#data-mixing). The categories Nova 2 Lite (text) publishes
# ("Nova Forge SDK series part 2", AWS Machine Learning Blog), plus `code` (SageMaker Python SDK's Nova data-mixing
# tests); the service reads the authoritative list from the model's data-mixing recipe at run time.
DATA_MIXING_CATEGORIES = {
    "nova-2-lite": frozenset(
        {
            "agents", "baseline", "chat", "code", "factuality", "identity", "instruction-following", "long-context",
            "math", "planning", "rag", "rai", "reasoning-chat", "reasoning-code", "reasoning-factuality",
            "reasoning-instruction-following", "reasoning-math", "reasoning-planning", "reasoning-rag",
            "reasoning-rai", "reasoning-stem", "stem", "translation",
        }
    )
}  # fmt: skip
DATA_MIXING_REFUSAL = (
    "Nova Forge data mixing runs only on SageMaker serverless model customization and SageMaker HyperPod, for Nova 2 "
    "Lite SFT with a Nova Forge subscription (SageMaker Python SDK: 'Data mixing is only supported on HyperPod and "
    "Serverless platforms'); Bedrock customization jobs do not accept it. Use platform sagemaker (this pipeline then "
    "runs a SageMaker serverless training job with the mix), or remove dataMixing"
)
# ServerlessJobConfig.BaseModelArn: botocore's pattern (a Model in a SageMaker AI Hub), with the Region captured.
HUB_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>\w+(?:-\w+)+):(\d{12}|aws):hub-content/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    r"/Model/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}(/\d{1,4}\.\d{1,4}\.\d{1,4})?$"
)
# ModelPackageConfig.ModelPackageGroupArn: botocore's pattern.
MODEL_PACKAGE_GROUP_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]{9,16}):[0-9]{12}:model-package-group/\S{1,2048}$"
)


def data_mixing_problems(parsed: ExecutionInput, region: str | None = None) -> list[Problem]:
    """The mix checked as the service checks it (categories of the model, weights adding up to 100), then where it
    runs: Nova 2 Lite SFT, one stage, platform `sagemaker` (a serverless training job: hub model ARN, model package
    group, EULA accepted explicitly); refused on Bedrock."""
    mix = parsed.data_mixing
    if mix is None:
        return []
    problems: list[Problem] = []
    model = parsed.base_model or ""
    known = DATA_MIXING_CATEGORIES.get(model)
    if known is None:
        problems.append(Problem("$.dataMixing", f"{model} has no Nova data to mix in; only nova-2-lite (SFT) has"))
    else:
        problems += [
            Problem(
                f"$.dataMixing.novaDataPercent.{name}",
                f"is not a Nova data category; known: {', '.join(sorted(known))}",
            )
            for name in mix.nova_data_percent
            if name not in known
        ]
    total = sum(mix.nova_data_percent.values())
    if mix.nova_data_percent and mix.customer_data_percent < 100 and abs(total - 100) > 1e-9:
        problems.append(Problem("$.dataMixing.novaDataPercent", f"the weights must add up to 100 (got {total:g})"))
    methods = {stage.method for stage in parsed.stages} or {parsed.method}
    if methods != {Method.SFT}:
        problems.append(Problem("$.dataMixing", "mixes into SFT only"))
    if parsed.platform is not Platform.SAGEMAKER:
        problems.append(Problem("$.dataMixing", DATA_MIXING_REFUSAL))
        return problems
    problems += _serverless_problems(parsed, mix, region)
    return problems


def _serverless_problems(parsed: ExecutionInput, mix: DataMixingInput, region: str | None) -> list[Problem]:
    """What the serverless CreateTrainingJob needs, checked before a paid job starts."""
    problems: list[Problem] = []
    if parsed.stages:
        problems.append(Problem("$.dataMixing", "runs as one serverless SFT job; remove stages"))
    if parsed.hyperparameters:
        problems.append(
            Problem(
                "$.hyperparameters",
                "with dataMixing the serverless job trains with the SageMaker AI Hub's defaults for the model; "
                "set no hyperparameters",
            )
        )
    if parsed.sagemaker.recipe:
        problems.append(Problem("$.sagemaker.recipe", "a serverless job takes no recipe; remove it"))
    if not mix.accept_eula:
        problems.append(
            Problem(
                "$.dataMixing.acceptEula",
                "must be true: the serverless job trains the base model under its end-user license agreement, "
                "which you accept explicitly",
            )
        )
    for path, value, pattern, example in (
        (
            "baseModelArn",
            mix.base_model_arn,
            HUB_MODEL_ARN,
            "arn:aws:sagemaker:<region>:aws:hub-content/SageMakerPublicHub/Model/nova-textgeneration-lite-v2/<version>",
        ),
        (
            "modelPackageGroupArn",
            mix.model_package_group_arn,
            MODEL_PACKAGE_GROUP_ARN,
            "arn:aws:sagemaker:<region>:<account>:model-package-group/<name>",
        ),
    ):
        match = pattern.match(value or "")
        if match is None:
            shown = "is required:" if not value else f"{value!r} is not"
            problems.append(Problem(f"$.dataMixing.{path}", f"{shown} an ARN like {example}"))
        elif region and match["region"] != region:
            problems.append(Problem(f"$.dataMixing.{path}", f"is in {match['region']}; the pipeline runs in {region}"))
    return problems


def _resolve_sagemaker(parsed: ExecutionInput, region: str | None) -> tuple[SageMakerInput, list[Problem]]:
    """SageMaker platform: region, recipe and instances checked against the catalog; instance defaults filled in."""
    settings = parsed.sagemaker
    model, method = parsed.base_model or "", parsed.method
    training = SAGEMAKER_TRAINING.get((model, method))
    if parsed.platform is not Platform.SAGEMAKER or training is None:  # an unsupported method is reported elsewhere
        return settings, []
    problem = sagemaker_training_problem(model, method, region)
    if problem:
        return settings, [Problem("$.platform", problem)]
    option, option_problem = _instance_option(settings, training, f"{model} {method.value}")
    if option_problem:
        return settings, [option_problem]
    assert option is not None
    instance_type = settings.instance_type or option.instance_types[0]
    count = settings.instance_count or option.default_count
    if count not in option.instance_counts:
        allowed = ", ".join(str(c) for c in option.instance_counts)
        message = f"{count} is not allowed for recipe {option.recipe} on {instance_type}; allowed: {allowed}"
        return settings, [Problem("$.sagemaker.instanceCount", message)]
    return settings.model_copy(update={"instance_type": instance_type, "instance_count": count}), []


def _instance_option(
    settings: SageMakerInput, training: SageMakerTraining, label: str
) -> tuple[InstanceOption | None, Problem | None]:
    """The catalog option the input selects: by shipped recipe name, by instance type, or the default (among the
    LoRA or the full-rank recipes, as `peftScheme` says)."""
    full_rank = settings.full_rank
    options = training.options_for(full_rank)
    label = f"{label} full-rank" if full_rank else label
    if not options:
        return None, Problem("$.sagemaker.peftScheme", f"no published {label} recipe for SageMaker training jobs")
    shipped = settings.recipe if settings.recipe and not settings.recipe.startswith("s3://") else None
    option = training.option(recipe=shipped, full_rank=full_rank) if shipped else None
    if shipped and option is None:
        allowed = ", ".join(candidate.recipe for candidate in options)
        other = training.option(recipe=shipped, full_rank=not full_rank)
        hint = f" ({shipped} is {'LoRA' if full_rank else 'full-rank'}: set sagemaker.peftScheme)" if other else ""
        return None, Problem("$.sagemaker.recipe", f"{shipped!r} is not a {label} recipe; shipped: {allowed}{hint}")
    if settings.instance_type is None:
        return option or options[0], None
    allowed_types = option.instance_types if option else training.instance_types(full_rank)
    if settings.instance_type not in allowed_types:
        where = f"recipe {option.recipe}" if option else label
        message = f"{settings.instance_type!r} cannot run {where}; allowed: {', '.join(allowed_types)}"
        return None, Problem("$.sagemaker.instanceType", message)
    return training.option(instance_type=settings.instance_type, recipe=shipped, full_rank=full_rank), None


# Bedrock on-demand inference of custom Nova models: "For models customized in SageMaker AI, OD inference is supported
# only for Parameter-efficient fine-tuned (PEFT) models [...] OD inference is not supported for Full-rank fine-tuned
# models." (Amazon Nova user guide, "On-demand inference on Custom Models",
# https://docs.aws.amazon.com/nova/latest/userguide/custom-fine-tune-odi.html). Full-rank SFT is served through
# Provisioned Throughput (Nova user guide, "Customizing Amazon Nova models", recipe table: full rank SFT, on demand
# No, provisioned throughput Yes), which custom models may buy without commitment ("Custom models support all levels
# of commitment": botocore bedrock CreateProvisionedModelThroughput.commitmentDuration).
PROVISIONED_THROUGHPUT_COMMITMENT = (
    'only "none" (no commitment) is supported: a Provisioned Throughput with a term cannot be deleted before the '
    "term ends (DeleteProvisionedModelThroughput), so a rejected or failed run could not clean it up; buy a term "
    "yourself for a promoted model"
)
PROVISIONED_THROUGHPUT_SCOPE = (
    'is for full-rank SageMaker runs only (platform "sagemaker", sagemaker.peftScheme "none"): other models deploy '
    "on demand, which bills per token and nothing while idle"
)


# The execution output of a full-rank run (the workflow's FullRankImportedOnly state writes it at `$.evaluation`).
FULL_RANK_NOT_DEPLOYED = (
    'Full-rank model (sagemaker.peftScheme "none"): imported into Bedrock (customModelArn) and NOT deployed, '
    "evaluated or promoted. Bedrock on-demand inference serves SageMaker-trained Nova models only when they are "
    "PEFT (LoRA); full-rank ones need Provisioned Throughput (Amazon Nova user guide, On-demand inference on Custom "
    "Models). Set deployment.provisionedThroughput in the input (modelUnits, usdPerModelUnitHour, maxHourlyUsd) "
    "for the pipeline to buy it (billed per model unit and hour), evaluate through it and promote or delete it; or "
    "train with LoRA (the default) for an on-demand deployment."
)


def _full_rank_problems(parsed: ExecutionInput) -> list[Problem]:
    """`peftScheme` applies to SageMaker only; a full-rank recipe has no LoRA settings; Provisioned Throughput is
    bought for a full-rank SageMaker run only, without commitment, within `maxHourlyUsd`."""
    problems = _provisioned_throughput_problems(parsed)
    staged = [
        (f"$.stages[{index}].sagemaker.peftScheme", stage.sagemaker)
        for index, stage in enumerate(parsed.stages or [])
        if stage.sagemaker is not None and stage.sagemaker.full_rank
    ]
    if parsed.stages and parsed.sagemaker.full_rank:
        staged.insert(0, ("$.sagemaker.peftScheme", parsed.sagemaker))
    if staged:  # every stage is evaluated against its on-demand deployment, which a full-rank model cannot have
        message = (
            "full-rank models cannot be deployed on demand, and every stage is evaluated against its deployment: "
            "multi-stage runs are LoRA only (remove peftScheme, or run one full-rank stage without `stages`)"
        )
        return [*problems, *(Problem(where, message) for where, _ in staged)]
    if not parsed.sagemaker.full_rank:
        return problems
    if parsed.platform is not Platform.SAGEMAKER:
        message = "full-rank training is a SageMaker recipe choice: set platform to sagemaker, or remove peftScheme"
        return [*problems, Problem("$.sagemaker.peftScheme", message)]
    training = SAGEMAKER_TRAINING.get((parsed.base_model or "", parsed.method))
    rules = HYPERPARAMETER_RULES.get((Platform.SAGEMAKER, training.family)) if training else None
    lora = {rule.name for rule in rules or () if rule.recipe_path and ".peft." in rule.recipe_path}
    problems += [
        Problem(
            f"$.hyperparameters.{name}",
            'is a LoRA setting; the full-rank recipe (sagemaker.peftScheme "none") has no LoRA adapter',
        )
        for name in parsed.hyperparameters
        if name in lora
    ]
    return problems


def _provisioned_throughput_problems(parsed: ExecutionInput) -> list[Problem]:
    throughput = parsed.deployment.provisioned_throughput
    if throughput is None:
        return []
    where = "$.deployment.provisionedThroughput"
    problems: list[Problem] = []
    if parsed.platform is not Platform.SAGEMAKER or not parsed.sagemaker.full_rank or parsed.stages:
        problems.append(Problem(where, PROVISIONED_THROUGHPUT_SCOPE))
    if throughput.commitment != "none":
        problems.append(Problem(f"{where}.commitment", PROVISIONED_THROUGHPUT_COMMITMENT))
    if throughput.hourly_usd > throughput.max_hourly_usd:
        problems.append(
            Problem(
                f"{where}.maxHourlyUsd",
                f"{throughput.model_units} model unit(s) x ${throughput.usd_per_model_unit_hour:,.2f} = "
                f"${throughput.hourly_usd:,.2f} per hour is above maxHourlyUsd ${throughput.max_hourly_usd:,.2f}; "
                "nothing was started. Buy fewer model units or raise maxHourlyUsd",
            )
        )
    if not parsed.evaluation.enabled:
        problems.append(
            Problem(
                f"{where}",
                "needs evaluation.enabled: without an evaluation nothing is promoted, and a Provisioned Throughput "
                "that is never promoted would bill every hour for nothing",
            )
        )
    return problems


def _raw_hyperparameter_problems(document: dict[str, Any], default_base_model: str, known: set[str]) -> list[Problem]:
    """Hyperparameter problems of an input that failed elsewhere too, so that all are listed in one round trip."""
    try:
        platform = Platform(document.get("platform", Platform.BEDROCK))
        method = Method(document.get("method", Method.SFT))
    except ValueError:
        return []
    given = document.get("hyperparameters")
    if not isinstance(given, dict):
        return []
    model = document.get("baseModel", document.get("base_model", default_base_model))
    _, problems = resolve_hyperparameters(platform, method, given, model if isinstance(model, str) else None)
    return [problem for problem in problems if problem.path not in known]


def _cross_field_problems(parsed: ExecutionInput) -> list[Problem]:
    problems: list[Problem] = []
    model = MODELS.get(parsed.base_model or "")
    if model is None or model.customization_id is None:
        allowed = ", ".join(CUSTOMIZABLE_MODELS)
        return [Problem("$.baseModel", f"{parsed.base_model!r} cannot be customized; allowed values: {allowed}")]
    if not model.supports(parsed.platform, parsed.method):
        supported = [
            f"{method.value} on {platform.value}"
            for platform in Platform
            for method in Method
            if model.supports(platform, method)
        ]
        problems.append(
            Problem(
                "$.method",
                f"{parsed.method.value} on {parsed.platform.value} is not available for {model.short_name}; "
                f"it supports: {', '.join(supported)}",
            )
        )
    split = parsed.split
    if abs(split.train + split.validation + split.test - 1.0) > 1e-9:
        total = split.train + split.validation + split.test
        problems.append(Problem("$.split", f"train + validation + test must be 1.0 (got {total:g})"))
    if split.validation > 0 and not model.validation_allowed:
        problems.append(
            Problem("$.split.validation", f"must be 0: {model.short_name} does not accept a validation set")
        )
    if split.max_train is not None and split.max_train > model.max_train_records:
        problems.append(
            Problem(
                "$.split.maxTrain",
                f"{split.max_train} exceeds the {model.short_name} limit of {model.max_train_records} records",
            )
        )
    if parsed.method is Method.DISTILLATION:
        teacher = parsed.distillation.teacher_model
        if teacher not in TEACHER_MODELS:
            problems.append(
                Problem(
                    "$.distillation.teacherModel",
                    f"{teacher!r} cannot teach; allowed values: {', '.join(TEACHER_MODELS)}",
                )
            )
        elif teacher == model.short_name:
            problems.append(Problem("$.distillation.teacherModel", "must differ from baseModel"))
        if parsed.platform is not Platform.BEDROCK:
            problems.append(Problem("$.platform", "distillation runs on bedrock only"))
    uses_sql = parsed.task is TaskType.TEXT_TO_SQL or (
        parsed.method is Method.RFT and parsed.rft.grader == "sql-execution"
    )
    if uses_sql and parsed.dataset.columns.context is None and parsed.dataset.record_format in ("auto", "raw"):
        problems.append(
            Problem(
                "$.dataset.columns.context",
                "is required for text-to-sql and the sql-execution grader (the CREATE TABLE column)",
            )
        )
    if parsed.method is Method.RFT and parsed.rft.grader == "label" and parsed.task is not TaskType.CLASSIFICATION:
        problems.append(Problem("$.rft.grader", "label grading needs task 'classification'"))
    bucket_match = _S3_URI.match(parsed.dataset.uri)
    if parsed.dataset.uri.startswith("s3://") and bucket_match is None:
        problems.append(Problem("$.dataset.uri", f"{parsed.dataset.uri!r} is not a valid s3://bucket/key URI"))
    return problems


def hyperparameter_scope(platform: Platform, method: Method, model: str | None) -> Method | RecipeFamily | None:
    """The key of the rule table: the method on Bedrock, the recipe family on SageMaker (None: not offered)."""
    if platform is Platform.BEDROCK:
        return method
    training = SAGEMAKER_TRAINING.get((model or "", method))
    return training.family if training else None


def resolve_hyperparameters(
    platform: Platform, method: Method, given: dict[str, HyperparameterValue], model: str | None = None
) -> tuple[dict[str, HyperparameterValue], list[Problem]]:
    """Apply aliases and defaults and check every value against the rule table of the platform and method (and, on
    SageMaker, the recipe family of `model`). An unsupported combination checks nothing (reported elsewhere)."""
    scope = hyperparameter_scope(platform, method, model)
    if scope is None:
        return dict(given), []
    rules = {rule.name: rule for rule in HYPERPARAMETER_RULES[(platform, scope)]}
    resolved: dict[str, HyperparameterValue] = {
        name: rule.default for name, rule in rules.items() if rule.default is not None
    }
    problems: list[Problem] = []
    for key, raw in given.items():
        name = HYPERPARAMETER_ALIASES.get(key, key)
        path = f"$.hyperparameters.{key}"
        rule = rules.get(name)
        if rule is None:
            known = ", ".join(rules) or "none"
            where = f"{method.value} on {platform.value}"
            if scope is not method:
                where += f" ({model}, recipe family {scope.value})"
            problems.append(Problem(path, f"is not a hyperparameter of {where}; known: {known}"))
            continue
        value, problem = _check_value(rule, raw)
        if problem:
            problems.append(Problem(path, problem))
        else:
            resolved[name] = value
    return resolved, problems


def _check_value(rule: HyperparameterRule, raw: HyperparameterValue) -> tuple[HyperparameterValue, str | None]:
    value: HyperparameterValue
    try:
        if rule.kind is bool:
            if not isinstance(raw, bool) and str(raw).lower() not in ("true", "false"):
                raise ValueError
            value = raw if isinstance(raw, bool) else str(raw).lower() == "true"
        elif rule.kind is str:
            value = str(raw)
        elif rule.kind is int:
            number = float(raw)
            if not number.is_integer() or isinstance(raw, bool):
                raise ValueError
            value = int(number)
        else:
            value = float(raw)
    except ValueError:
        return raw, f"{raw!r} is not a {rule.kind.__name__}; allowed: {rule.allowed()}"
    if rule.choices:
        if value not in rule.choices:
            return raw, f"{raw!r} is not allowed; allowed: {rule.allowed()}"
    elif rule.minimum is not None and rule.maximum is not None and not (rule.minimum <= float(value) <= rule.maximum):
        return raw, f"{raw!r} is out of range; allowed: {rule.allowed()}"
    return value, None
