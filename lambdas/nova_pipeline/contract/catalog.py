"""The one rule table: Nova models, what each supports, and the limits every other module checks against.

Sources: the Amazon Bedrock and Nova user guides and the botocore service models. Anything that varies per account
(quotas) is configuration, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
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
            sagemaker_base_model="nova-lite-2/prod",
            on_demand_deployment=True,
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
    kind: type[bool] | type[int] | type[float] | type[str]
    default: bool | int | float | str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[bool | int | float | str, ...] = ()
    description: str = ""
    recipe_path: str | None = None
    """SageMaker: where the value goes in the recipe (dotted path; the recipe must have it)."""

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(
                str(choice).lower() if isinstance(choice, bool) else str(choice) for choice in self.choices
            )
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


class RecipeFamily(StrEnum):
    """A layout of the published Nova recipes: each has its own hyperparameter paths and allowed values."""

    NOVA_1_SFT = "nova-1-sft"
    """Nova Micro / Lite / Pro 1.0 LoRA SFT (`training_config.trainer.max_epochs`, `model.optim`, `model.peft`)."""
    NOVA_2_SFT = "nova-2-sft"
    """Nova 2 Lite SFT (`max_steps`, `lr_scheduler`, `optim_config`, `peft.lora_tuning.lora_plus_lr_ratio`)."""
    NOVA_2_RFT = "nova-2-rft"
    """Nova 2 Lite RFT on training jobs (`trainer.max_steps`, `trainer.optim_config`, `rollout`)."""


# On SageMaker the recipe carries the defaults: only the hyperparameters an input gives are merged into it, at
# `recipe_path`, which must exist in the recipe. Allowed values: the comments and templates of the published recipes,
# aws/sagemaker-hyperpod-recipes@263199555b2e1f8eb9b17459892e440f3242b5d9 (recipes_collection/recipes/fine-tuning/
# nova/..., launcher/recipe_templatization/nova/nova_recipe_template_parameters.json); where the YAML comment and the
# template disagree, the intersection.
_LORA_ALPHA_NOVA = (32, 64, 96, 128, 160, 192)
_SAGEMAKER_NOVA_1_SFT = (
    HyperparameterRule("epochCount", int, None, 1, 100, recipe_path="training_config.trainer.max_epochs"),
    HyperparameterRule("learningRate", float, None, 1e-6, 1e-4, recipe_path="training_config.model.optim.lr"),
    HyperparameterRule(
        "learningRateWarmupSteps", int, None, 0, 100, recipe_path="training_config.model.optim.sched.warmup_steps"
    ),
    HyperparameterRule(
        "maxLength",
        int,
        None,
        1024,
        32_768,
        description="g5/g6 recipes: at most 8192, a multiple of 1024.",
        recipe_path="training_config.max_length",
    ),
    HyperparameterRule(
        "globalBatchSize",
        int,
        None,
        choices=(16, 32, 64),
        description="Nova Pro: 16 or 32.",
        recipe_path="training_config.global_batch_size",
    ),
    HyperparameterRule("hiddenDropout", float, None, 0.0, 1.0, recipe_path="training_config.model.hidden_dropout"),
    HyperparameterRule(
        "attentionDropout", float, None, 0.0, 1.0, recipe_path="training_config.model.attention_dropout"
    ),
    HyperparameterRule("ffnDropout", float, None, 0.0, 1.0, recipe_path="training_config.model.ffn_dropout"),
    HyperparameterRule("weightDecay", float, None, 0.0, 1.0, recipe_path="training_config.model.optim.weight_decay"),
    HyperparameterRule(
        "adapterDropout", float, None, 0.0, 1.0, recipe_path="training_config.model.peft.lora_tuning.adapter_dropout"
    ),
    HyperparameterRule(
        "loraAlpha", int, None, choices=_LORA_ALPHA_NOVA, recipe_path="training_config.model.peft.lora_tuning.alpha"
    ),
    HyperparameterRule(
        "loraPlusLrRatio",
        float,
        None,
        0.0,
        100.0,
        recipe_path="training_config.model.peft.lora_tuning.loraplus_lr_ratio",
    ),
)
_SAGEMAKER_NOVA_2_SFT = (
    HyperparameterRule("maxSteps", int, None, 4, 100_000, recipe_path="training_config.max_steps"),
    HyperparameterRule("learningRate", float, None, 1e-6, 1e-4, recipe_path="training_config.optim_config.lr"),
    HyperparameterRule(
        "learningRateWarmupSteps", int, None, 0, 100, recipe_path="training_config.lr_scheduler.warmup_steps"
    ),
    HyperparameterRule(
        "maxLength", int, None, choices=(8192, 16_384, 32_768, 65_536), recipe_path="training_config.max_length"
    ),
    HyperparameterRule(
        "globalBatchSize", int, None, choices=(32, 64, 128), recipe_path="training_config.global_batch_size"
    ),
    HyperparameterRule("weightDecay", float, None, 0.0, 1.0, recipe_path="training_config.optim_config.weight_decay"),
    HyperparameterRule(
        "loraAlpha", int, None, choices=_LORA_ALPHA_NOVA, recipe_path="training_config.peft.lora_tuning.alpha"
    ),
    HyperparameterRule(
        "loraPlusLrRatio", float, None, 1.0, 70.0, recipe_path="training_config.peft.lora_tuning.lora_plus_lr_ratio"
    ),
    HyperparameterRule(
        "reasoningEnabled", bool, None, choices=(True, False), recipe_path="training_config.reasoning_enabled"
    ),
)
_SAGEMAKER_NOVA_2_RFT = (
    HyperparameterRule("maxSteps", int, None, 5, 100_000, recipe_path="training_config.trainer.max_steps"),
    HyperparameterRule("learningRate", float, None, 1e-7, 1e-3, recipe_path="training_config.trainer.optim_config.lr"),
    HyperparameterRule("maxLength", int, None, 4096, 32_768, recipe_path="training_config.max_length"),
    HyperparameterRule(
        "globalBatchSize",
        int,
        None,
        choices=(16, 32, 64, 128),
        description="LoRA recipe; the full-rank one also allows 256.",
        recipe_path="training_config.global_batch_size",
    ),
    HyperparameterRule(
        "weightDecay", float, None, 0.0, 1.0, recipe_path="training_config.trainer.optim_config.weight_decay"
    ),
    HyperparameterRule(
        "loraAlpha", int, None, choices=(16, 32, 64), recipe_path="training_config.trainer.peft.lora_tuning.alpha"
    ),
    HyperparameterRule(
        "loraPlusLrRatio",
        float,
        None,
        0.0,
        100.0,
        recipe_path="training_config.trainer.peft.lora_tuning.lora_plus_lr_ratio",
    ),
    HyperparameterRule(
        "reasoningEffort", str, None, choices=("high", "low"), recipe_path="training_config.reasoning_effort"
    ),
    HyperparameterRule(
        "numberGeneration",
        int,
        None,
        2,
        16,
        description="Samples per prompt.",
        recipe_path="training_config.rollout.advantage_strategy.number_generation",
    ),
)

HYPERPARAMETER_RULES: dict[tuple[Platform, Method | RecipeFamily], tuple[HyperparameterRule, ...]] = {
    (Platform.BEDROCK, Method.SFT): _SFT_BEDROCK,
    (Platform.BEDROCK, Method.RFT): _RFT_BEDROCK,
    (Platform.BEDROCK, Method.DISTILLATION): (),
    (Platform.SAGEMAKER, RecipeFamily.NOVA_1_SFT): _SAGEMAKER_NOVA_1_SFT,
    (Platform.SAGEMAKER, RecipeFamily.NOVA_2_SFT): _SAGEMAKER_NOVA_2_SFT,
    (Platform.SAGEMAKER, RecipeFamily.NOVA_2_RFT): _SAGEMAKER_NOVA_2_RFT,
}

# The seed articles call the learning rate `learningRateMultiplier`: accepted, sent as the documented key.
HYPERPARAMETER_ALIASES = {"learningRateMultiplier": "learningRate"}


# ---------------------------------------------------------------------------------------------------- SageMaker
# Nova customization on SageMaker AI training jobs. Sources:
# - recipes, instance types and replicas: aws/sagemaker-hyperpod-recipes@263199555b2e1f8eb9b17459892e440f3242b5d9,
#   the recipe YAMLs under recipes_collection/recipes/fine-tuning/nova/ (replicas and their allowed values) and
#   launcher/recipe_templatization/nova/nova_metadata.json (instance types per recipe);
# - image tags and the regions that have them: launcher/recipe_templatization/nova/nova_regional_parameters.json
#   (`sm_jobs.container_image.prod`: us-east-1, us-west-2 and ap-northeast-1 for every Nova training image);
# - RFT instance counts: Nova 2 user guide, "RFT on Nova 2.0 on SageMaker Training Jobs" (LoRA 2/4/6/8 x p5/p5en;
#   the pipeline keeps the recipe's 4 and up).
# - full-rank recipes (`*_gpu_sft`, `*_smtj_p5_p5en_gpu_rft`, `peft_scheme: null`): same repository and commit; they
#   use the LoRA recipes' images (SM-TJ-SFT-latest, SM-TJ-SFT-V2-latest, SM-TJ-RFT-V2-latest). Nova Lite 1.0 and
#   Nova Pro have no g5/g6 full-rank recipe, Nova Pro's runs on p5/p5en only.
TRAINING_IMAGE_REPOSITORY = "nova-fine-tune-repo"


@dataclass(frozen=True)
class InstanceOption:
    """One published recipe and the instances it runs on; `instance_counts[0]` is the recipe's `run.replicas`."""

    recipe: str
    instance_types: tuple[str, ...]
    instance_counts: tuple[int, ...]

    @property
    def default_count(self) -> int:
        return self.instance_counts[0]


@dataclass(frozen=True)
class SageMakerTraining:
    """How one (model, method) trains on SageMaker: recipe family, image tag, instance options (first = default)."""

    family: RecipeFamily
    image_tag: str
    options: tuple[InstanceOption, ...]
    """LoRA (PEFT) recipes, the default."""
    full_rank: tuple[InstanceOption, ...] = ()
    """Full-rank recipes (`peft_scheme: null`, input `sagemaker.peftScheme: "none"`); same image as LoRA."""

    def options_for(self, full_rank: bool = False) -> tuple[InstanceOption, ...]:
        return self.full_rank if full_rank else self.options

    def instance_types(self, full_rank: bool = False) -> tuple[str, ...]:
        return tuple(t for option in self.options_for(full_rank) for t in option.instance_types)

    def option(
        self, instance_type: str | None = None, recipe: str | None = None, *, full_rank: bool = False
    ) -> InstanceOption | None:
        """The option for a recipe name or an instance type (the default one when neither is given)."""
        for option in self.options_for(full_rank):
            if recipe is not None and option.recipe != recipe:
                continue
            if instance_type is not None and instance_type not in option.instance_types:
                continue
            return option
        return None


_G5_G6_48X = ("ml.g5.48xlarge", "ml.g6.48xlarge")
_P5_P5EN_P4D = ("ml.p5.48xlarge", "ml.p5en.48xlarge", "ml.p4d.24xlarge")
_P5_P5EN = ("ml.p5.48xlarge", "ml.p5en.48xlarge")

SAGEMAKER_TRAINING: dict[tuple[str, Method], SageMakerTraining] = {
    ("nova-micro", Method.SFT): SageMakerTraining(
        RecipeFamily.NOVA_1_SFT,
        "SM-TJ-SFT-latest",
        (
            InstanceOption("nova_micro_1_0_g5_g6_48x_gpu_lora_sft", _G5_G6_48X, (1,)),
            InstanceOption("nova_micro_1_0_p5_p4d_gpu_lora_sft", _P5_P5EN_P4D, (2, 4, 8)),
        ),
        (
            InstanceOption("nova_micro_1_0_g5_g6_48x_gpu_sft", _G5_G6_48X, (1,)),
            InstanceOption("nova_micro_1_0_p5_p4d_gpu_sft", _P5_P5EN_P4D, (2, 4, 8)),
        ),
    ),
    ("nova-lite", Method.SFT): SageMakerTraining(
        RecipeFamily.NOVA_1_SFT,
        "SM-TJ-SFT-latest",
        (
            InstanceOption("nova_lite_1_0_g5_g6_48x_gpu_lora_sft", _G5_G6_48X, (1,)),
            InstanceOption("nova_lite_1_0_p5_p4d_gpu_lora_sft", _P5_P5EN_P4D, (4, 8, 16)),
        ),
        (InstanceOption("nova_lite_1_0_p5_p4d_gpu_sft", _P5_P5EN_P4D, (4, 8, 16)),),
    ),
    ("nova-pro", Method.SFT): SageMakerTraining(
        RecipeFamily.NOVA_1_SFT,
        "SM-TJ-SFT-latest",
        (InstanceOption("nova_pro_1_0_p5_p4d_gpu_lora_sft", _P5_P5EN_P4D, (6, 12, 24)),),
        (InstanceOption("nova_pro_1_0_p5_gpu_sft", _P5_P5EN, (6, 12, 24)),),
    ),
    ("nova-2-lite", Method.SFT): SageMakerTraining(
        RecipeFamily.NOVA_2_SFT,
        "SM-TJ-SFT-V2-latest",
        (InstanceOption("nova_lite_2_0_p5_gpu_lora_sft", _P5_P5EN, (1, 4, 8, 16, 32)),),
        (InstanceOption("nova_lite_2_0_p5_gpu_sft", _P5_P5EN_P4D, (4, 8, 16, 32)),),
    ),
    ("nova-2-lite", Method.RFT): SageMakerTraining(
        RecipeFamily.NOVA_2_RFT,
        "SM-TJ-RFT-V2-latest",
        (InstanceOption("nova_lite_v2_smtj_p5_p5en_gpu_lora_rft", _P5_P5EN, (4, 6, 8)),),
        (InstanceOption("nova_lite_v2_smtj_p5_p5en_gpu_rft", _P5_P5EN, (4, 6, 8)),),
    ),
}

# Where each recipe family switches LoRA on (`"lora"`) or off (full rank: `null`; the Nova 2 SFT full-rank recipe
# writes the string "null"). Set by the pipeline from `sagemaker.peftScheme`, never by `recipeOverrides`.
PEFT_SCHEME_PATHS = {
    RecipeFamily.NOVA_1_SFT: "training_config.model.peft.peft_scheme",
    RecipeFamily.NOVA_2_SFT: "training_config.peft.peft_scheme",
    RecipeFamily.NOVA_2_RFT: "training_config.trainer.peft.peft_scheme",
}


@dataclass(frozen=True)
class SageMakerRegion:
    """A region with the Nova training images: the ECR account that owns them and the (model, method)s offered."""

    image_account: str
    offers: frozenset[tuple[str, Method]]


_ALL_SAGEMAKER = frozenset(SAGEMAKER_TRAINING)
# eu-west-2 (470633809225) has only the HyperPod init and hosting images in nova_regional_parameters.json, and
# eu-central-1 only HyperPod images: neither has a SageMaker training-job image, so neither is listed.
SAGEMAKER_REGIONS: dict[str, SageMakerRegion] = {
    "us-east-1": SageMakerRegion("708977205387", _ALL_SAGEMAKER),
    "us-west-2": SageMakerRegion("176779409107", _ALL_SAGEMAKER),
    "ap-northeast-1": SageMakerRegion("878185805882", _ALL_SAGEMAKER),
}


def sagemaker_regions(model: str | None = None, method: Method | None = None) -> tuple[str, ...]:
    """Regions with a Nova training image (for `model`/`method` when given); the stacks call this at synth."""
    return tuple(
        region
        for region, entry in SAGEMAKER_REGIONS.items()
        if any((model is None or m == model) and (method is None or k == method) for m, k in entry.offers)
    )


def sagemaker_training_problem(model: str, method: Method, region: str | None = None) -> str | None:
    """Why `model`/`method` cannot train on SageMaker (in `region`, when given), or None."""
    if (model, method) not in SAGEMAKER_TRAINING:
        offered = ", ".join(f"{m} {k.value}" for m, k in SAGEMAKER_TRAINING)
        return f"{method.value} of {model} is not available on SageMaker training jobs; available: {offered}"
    if region is None:
        return None
    entry = SAGEMAKER_REGIONS.get(region)
    if entry is None or (model, method) not in entry.offers:
        regions = ", ".join(sagemaker_regions(model, method)) or "none"
        return (
            f"SageMaker training of {model} ({method.value}) has no Nova training image in {region}; regions: {regions}"
        )
    return None


def sagemaker_image_uri(model: str, method: Method, region: str) -> str:
    """The Nova training image for `model`/`method` in `region`; ValueError with the reason when there is none."""
    problem = sagemaker_training_problem(model, method, region)
    if problem:
        raise ValueError(problem)
    account = SAGEMAKER_REGIONS[region].image_account
    tag = SAGEMAKER_TRAINING[(model, method)].image_tag
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{TRAINING_IMAGE_REPOSITORY}:{tag}"


# ------------------------------------------------------------------------------------ SageMaker evaluation recipes
# Nova evaluation recipes run as SageMaker training jobs on a trained checkpoint. Sources:
# - tasks, strategies and metrics: SageMaker developer guide "Evaluating your SageMaker AI-trained model"
#   (https://docs.aws.amazon.com/sagemaker/latest/dg/nova-model-evaluation.html, "Available benchmark tasks") and
#   the SageMaker Python SDK v3 `sagemaker/train/evaluate/benchmark_evaluator.py` `_BENCHMARK_CONFIG` (same values);
# - recipes: aws/sagemaker-hyperpod-recipes@263199555b2e1f8eb9b17459892e440f3242b5d9
#   recipes_collection/recipes/evaluation/nova/<version>/<model>/<model>_p5_48xl_gpu_{general_text_benchmark,
#   bring_your_own_dataset}_eval.yaml (shipped under jobs/recipes/evaluation/, unchanged), instance types from
#   launcher/recipe_templatization/nova/nova_metadata.json;
# - image: nova_regional_parameters.json `sm_jobs.container_image.prod` of every eval recipe:
#   `<account>.dkr.ecr.<region>.amazonaws.com/nova-evaluation-repo:SM-TJ-Eval-V2-latest` in the SAGEMAKER_REGIONS.
EVALUATION_IMAGE_REPOSITORY = "nova-evaluation-repo"
EVALUATION_IMAGE_TAG = "SM-TJ-Eval-V2-latest"


@dataclass(frozen=True)
class EvaluationTask:
    """One published evaluation task: the strategy and metric the recipe must carry, and whether it reads the
    user's dataset (`gen_qa`: the bring-your-own-dataset recipe, dataset as the `train` channel)."""

    name: str
    strategy: str
    metric: str
    dataset: bool = False

    @property
    def recipe_kind(self) -> str:
        return "bring_your_own_dataset" if self.dataset else "general_text_benchmark"


SAGEMAKER_EVALUATION_TASKS: dict[str, EvaluationTask] = {
    task.name: task
    for task in (
        EvaluationTask("mmlu", "zs_cot", "accuracy"),
        EvaluationTask("mmlu_pro", "zs_cot", "accuracy"),
        EvaluationTask("bbh", "fs_cot", "accuracy"),
        EvaluationTask("gpqa", "zs_cot", "accuracy"),
        EvaluationTask("math", "zs_cot", "exact_match"),
        EvaluationTask("strong_reject", "zs", "deflection"),
        EvaluationTask("ifeval", "zs", "accuracy"),
        EvaluationTask("gen_qa", "gen_qa", "all", dataset=True),
    )
}
# Published but not offered here: llm_judge / rubric_llm_judge compare two models' answers from a dataset of
# pairs, mmmu is multimodal, rft_eval needs a reward Lambda; none fits "score the trained checkpoint".
_EVALUATION_RECIPE_PREFIX = {
    "nova-micro": "nova_micro_1_0",
    "nova-lite": "nova_lite_1_0",
    "nova-pro": "nova_pro_1_0",
    "nova-2-lite": "nova_lite_2_0",
}
_EVALUATION_INSTANCE_TYPES = {
    "nova-micro": ("ml.p5.48xlarge", "ml.g5.12xlarge", "ml.g5.24xlarge", "ml.g6.12xlarge", "ml.g6.24xlarge"),
    "nova-lite": (
        "ml.p5.48xlarge",
        "ml.g5.12xlarge",
        "ml.g5.24xlarge",
        "ml.g6.12xlarge",
        "ml.g6.24xlarge",
        "ml.g6.48xlarge",
    ),
    "nova-pro": ("ml.p5.48xlarge",),
    "nova-2-lite": ("ml.p5.48xlarge", "ml.p4d.24xlarge"),
}


def evaluation_recipe(model: str, task: EvaluationTask) -> str:
    """The shipped evaluation recipe (file stem under jobs/recipes/evaluation/) of `model` for `task`."""
    return f"{_EVALUATION_RECIPE_PREFIX[model]}_p5_48xl_gpu_{task.recipe_kind}_eval"


def evaluation_instance_types(model: str) -> tuple[str, ...]:
    """Instance types the model's evaluation recipes run on (first = default); empty when there is no recipe."""
    return _EVALUATION_INSTANCE_TYPES.get(model, ())


def evaluation_image_uri(region: str) -> str:
    """The Nova evaluation image in `region`; ValueError when the region has none."""
    entry = SAGEMAKER_REGIONS.get(region)
    if entry is None:
        raise ValueError(f"no Nova evaluation image in {region}; regions: {', '.join(SAGEMAKER_REGIONS)}")
    return f"{entry.image_account}.dkr.ecr.{region}.amazonaws.com/{EVALUATION_IMAGE_REPOSITORY}:{EVALUATION_IMAGE_TAG}"
