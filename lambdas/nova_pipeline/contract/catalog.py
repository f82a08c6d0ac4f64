"""The one rule table: Nova models, what each supports, and the limits every other module checks against.

Sources: the Amazon Bedrock and Nova user guides and the botocore service models. Anything that varies per account
(quotas) is configuration, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Method(StrEnum):
    """How the model is customized."""

    SFT = "sft"
    RFT = "rft"
    DISTILLATION = "distillation"


class Platform(StrEnum):
    """Where the customization job runs."""

    BEDROCK = "bedrock"
    SAGEMAKER = "sagemaker"


class TaskType(StrEnum):
    """What the model is trained to do; selects the metrics and the split stratification."""

    CLASSIFICATION = "classification"
    GENERATION = "generation"
    TEXT_TO_SQL = "text-to-sql"


BEDROCK_CUSTOMIZATION_TYPE = {
    Method.SFT: "FINE_TUNING",
    Method.RFT: "REINFORCEMENT_FINE_TUNING",
    Method.DISTILLATION: "DISTILLATION",
}


@dataclass(frozen=True)
class Prices:
    """On-demand USD prices (seed figures). A customized model costs the same per token."""

    input_per_1k_tokens: float
    output_per_1k_tokens: float
    custom_model_storage_per_month: float = 1.95
    training_per_1k_tokens: float = 0.001


@dataclass(frozen=True)
class ModelSpec:
    """One Nova model as the pipeline sees it."""

    short_name: str
    customization_id: str | None
    inference_profile_id: str
    bedrock_methods: frozenset[Method]
    sagemaker_methods: frozenset[Method]
    distillation_teacher: bool
    multimodal: bool
    context_tokens: int
    min_train_records: int
    max_train_records: int
    validation_allowed: bool
    max_validation_records: int
    sagemaker_base_model: str | None
    on_demand_deployment: bool
    prices: Prices | None = field(default=None)

    def supports(self, platform: Platform, method: Method) -> bool:
        methods = self.bedrock_methods if platform is Platform.BEDROCK else self.sagemaker_methods
        return method in methods


MODELS: dict[str, ModelSpec] = {
    spec.short_name: spec
    for spec in (
        ModelSpec(
            short_name="nova-micro",
            customization_id="amazon.nova-micro-v1:0:128k",
            inference_profile_id="us.amazon.nova-micro-v1:0",
            bedrock_methods=frozenset({Method.SFT, Method.DISTILLATION}),
            sagemaker_methods=frozenset({Method.SFT}),
            distillation_teacher=False,
            multimodal=False,
            context_tokens=32_000,
            min_train_records=8,
            max_train_records=20_000,
            validation_allowed=True,
            max_validation_records=1_000,
            sagemaker_base_model="nova-micro/prod",
            on_demand_deployment=True,
            prices=Prices(input_per_1k_tokens=0.000035, output_per_1k_tokens=0.00014),
        ),
        ModelSpec(
            short_name="nova-lite",
            customization_id="amazon.nova-lite-v1:0:300k",
            inference_profile_id="us.amazon.nova-lite-v1:0",
            bedrock_methods=frozenset({Method.SFT, Method.DISTILLATION}),
            sagemaker_methods=frozenset({Method.SFT}),
            distillation_teacher=False,
            multimodal=True,
            context_tokens=32_000,
            min_train_records=8,
            max_train_records=20_000,
            validation_allowed=True,
            max_validation_records=1_000,
            sagemaker_base_model="nova-lite/prod",
            on_demand_deployment=True,
            prices=Prices(input_per_1k_tokens=0.00006, output_per_1k_tokens=0.00024),
        ),
        ModelSpec(
            short_name="nova-pro",
            customization_id="amazon.nova-pro-v1:0:300k",
            inference_profile_id="us.amazon.nova-pro-v1:0",
            bedrock_methods=frozenset({Method.SFT, Method.DISTILLATION}),
            sagemaker_methods=frozenset({Method.SFT}),
            distillation_teacher=True,
            multimodal=True,
            context_tokens=32_000,
            min_train_records=8,
            max_train_records=20_000,
            validation_allowed=True,
            max_validation_records=1_000,
            sagemaker_base_model="nova-pro/prod",
            on_demand_deployment=True,
            prices=Prices(input_per_1k_tokens=0.0008, output_per_1k_tokens=0.0032),
        ),
        ModelSpec(
            short_name="nova-2-lite",
            customization_id="amazon.nova-2-lite-v1:0:256k",
            inference_profile_id="us.amazon.nova-2-lite-v1:0",
            bedrock_methods=frozenset({Method.SFT, Method.RFT}),
            sagemaker_methods=frozenset({Method.SFT, Method.RFT}),
            distillation_teacher=False,
            multimodal=True,
            context_tokens=32_000,
            min_train_records=200,
            max_train_records=20_000,
            validation_allowed=False,
            max_validation_records=0,
            sagemaker_base_model="nova-2-lite/prod",
            on_demand_deployment=True,
            prices=Prices(input_per_1k_tokens=0.0003, output_per_1k_tokens=0.0025),
        ),
        ModelSpec(
            short_name="nova-premier",
            customization_id=None,
            inference_profile_id="us.amazon.nova-premier-v1:0",
            bedrock_methods=frozenset(),
            sagemaker_methods=frozenset(),
            distillation_teacher=True,
            multimodal=True,
            context_tokens=32_000,
            min_train_records=0,
            max_train_records=0,
            validation_allowed=False,
            max_validation_records=0,
            sagemaker_base_model=None,
            on_demand_deployment=False,
            prices=Prices(input_per_1k_tokens=0.0025, output_per_1k_tokens=0.0125),
        ),
    )
}

CUSTOMIZABLE_MODELS = tuple(name for name, spec in MODELS.items() if spec.customization_id)
TEACHER_MODELS = tuple(name for name, spec in MODELS.items() if spec.distillation_teacher)

# RFT needs more records than SFT on every model (Bedrock RFT data requirements).
RFT_MIN_TRAIN_RECORDS = 100

# Strings that fail a Bedrock job when they appear in a record's text (matched case-insensitively).
RESERVED_STRINGS = ("System:", "User:", "Bot:", "Assistant:", "Thought:", "[EOS]", "<image>", "<video>")


@dataclass(frozen=True)
class HyperparameterRule:
    """The accepted values of one hyperparameter for one (platform, method)."""

    name: str
    kind: type[int] | type[float] | type[str]
    default: int | float | str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[int | float | str, ...] = ()
    description: str = ""

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(str(choice) for choice in self.choices)
        return f"{self.kind.__name__} from {self.minimum:g} to {self.maximum:g}"


_SFT_BEDROCK = (
    HyperparameterRule("epochCount", int, 2, 1, 5, description="Passes over the training set."),
    HyperparameterRule("learningRate", float, 1e-5, 1e-6, 1e-4, description="Peak learning rate."),
    HyperparameterRule("learningRateWarmupSteps", int, 10, 0, 100, description="Linear warm-up steps."),
    HyperparameterRule("batchSize", int, None, 1, 1, description="Fixed at 1 for Nova on Bedrock."),
)
_RFT_BEDROCK = (
    HyperparameterRule("epochCount", int, 1, 1, 50),
    HyperparameterRule("batchSize", int, 128, 16, 512),
    HyperparameterRule("learningRate", float, 1e-5, 1e-7, 1e-3),
    HyperparameterRule("maxPromptLength", int, None, 1, 32_000),
    HyperparameterRule("trainingSamplePerPrompt", int, 4, 2, 16),
    HyperparameterRule("inferenceMaxTokens", int, None, 1, 32_000),
    HyperparameterRule("reasoningEffort", str, None, choices=("low", "medium", "high")),
    HyperparameterRule("evalInterval", int, None, 1, 100),
)
# On SageMaker the recipe carries the defaults: only the hyperparameters an input gives are merged into it.
_SAGEMAKER_RECIPE = (
    HyperparameterRule("epochCount", int, None, 1, 5, description="Recipe trainer.max_epochs."),
    HyperparameterRule("learningRate", float, None, 1e-6, 1e-4, description="Recipe optimizer lr."),
    HyperparameterRule("learningRateWarmupSteps", int, None, 0, 100, description="Recipe warm-up steps."),
    HyperparameterRule("maxLength", int, None, 1024, 8192, description="Recipe max_length (tokens)."),
    HyperparameterRule("globalBatchSize", int, None, choices=(16, 32, 64)),
    HyperparameterRule("hiddenDropout", float, None, 0.0, 1.0),
    HyperparameterRule("attentionDropout", float, None, 0.0, 1.0),
    HyperparameterRule("ffnDropout", float, None, 0.0, 1.0),
    HyperparameterRule("weightDecay", float, None, 0.0, 1.0),
    HyperparameterRule("adapterDropout", float, None, 0.0, 1.0),
    HyperparameterRule("loraAlpha", int, None, 1, 512),
)

HYPERPARAMETER_RULES: dict[tuple[Platform, Method], tuple[HyperparameterRule, ...]] = {
    (Platform.BEDROCK, Method.SFT): _SFT_BEDROCK,
    (Platform.BEDROCK, Method.RFT): _RFT_BEDROCK,
    (Platform.BEDROCK, Method.DISTILLATION): (),
    (Platform.SAGEMAKER, Method.SFT): _SAGEMAKER_RECIPE,
    (Platform.SAGEMAKER, Method.RFT): _SAGEMAKER_RECIPE,
}

# The seed articles call the learning rate `learningRateMultiplier`: accepted, sent as the documented key.
HYPERPARAMETER_ALIASES = {"learningRateMultiplier": "learningRate"}
