"""The cost guard: what a run's training and evaluation will cost, estimated before the paid job starts.

- Bedrock: training tokens x epochs x the model's training price per 1,000 tokens (NOVA_FACTS section 8: Nova Micro
  $0.001 / 1K tokens x epochs). The training tokens are the prepared train split's records x the mean tokens per
  record of the manifest (characters / 3, rounded up: conservative). RFT multiplies by the samples generated per
  prompt; distillation adds the teacher's answers (up to `maxResponseLength` tokens per prompt) and their cost.
- SageMaker: instances x `sagemaker.maxRuntimeHours` x the instance's hourly price, the most the job can bill
  (SageMaker stops it at `MaxRuntimeInSeconds`); lower `maxRuntimeHours` to fit a budget. Only instance types with a
  price in the table are estimated (ml.g5.48xlarge: NOVA_FACTS section 6, the seed's 4 h for $65 = $16.25/h).
- Evaluation: evaluated rows (the test split, at most `evaluation.maxRows`) x requests per row (candidate, baseline)
  x (mean tokens in + mean tokens out) at the base model's on-demand price (a customized model costs the same), plus
  one instance x `maxRuntimeHours` x the hourly price for each SageMaker evaluation recipe job.
- Data mixing runs as a serverless SageMaker training job whose compute the service chooses: it has no estimate, so
  a budget refuses it (say so rather than guess).
- Stages (`stages`): each stage is estimated as a run of its own (its method, hyperparameters and SageMaker settings,
  its records: its `dataShare` slice of the train split plus the previous stage's with `includePreviousData`), and
  every stage is evaluated on the test split. The training sum of all stages is checked against the budget once,
  before the first stage's job starts.

`budget.maxTrainingUsd` stops the run with `TrainingBudgetExceeded` when the training estimate is above it, or when
no estimate can be made for some stage (an instance type without a price): a budget is never waved through unchecked.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

from nova_pipeline.contract.catalog import MODELS, Method, Platform, evaluation_instance_types
from nova_pipeline.contract.execution_input import ExecutionInput, stage_view
from nova_pipeline.contract.run_state import CostEstimate, RunState, StageCostEstimate
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.evaluation.cost import PriceTable, load_prices
from nova_pipeline.jobs.sagemaker_evaluation import EVALUATION_INSTANCE_COUNT
from nova_pipeline.jobs.stage_data import stage_slices


class TrainingBudgetExceeded(Exception):  # noqa: N818 - the Step Functions error name a user sees
    """The estimated training cost is above `budget.maxTrainingUsd` (the message holds the estimate)."""


@dataclass(frozen=True)
class DataSize:
    """What the estimate needs from the prepared data: records per split and the mean tokens per record."""

    train_records: int
    test_records: int
    mean_tokens: float

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> DataSize:
        outputs = manifest.get("outputs", {})
        tokens = manifest.get("tokens", {})
        return cls(
            train_records=int(outputs.get("train", {}).get("records", 0)),
            test_records=int(outputs.get("test", {}).get("records", 0)),
            mean_tokens=float(tokens.get("mean", 0.0)),
        )


def estimate_cost(run: ExecutionInput, data: DataSize, table: PriceTable | None = None) -> CostEstimate:
    """The training and evaluation estimate of `run` on `data` (every stage of a multi-stage run), with the budget's
    verdict."""
    table = table or load_prices()
    model = run.base_model or ""
    stages: list[StageCostEstimate] = []
    if run.stages:
        for index, records in enumerate(stage_train_records(run, data.train_records)):
            view = stage_view(run, index)
            usd, basis = _training(view, replace(data, train_records=records), table)
            stages.append(
                StageCostEstimate(index=index, method=view.method.value, training_usd=usd, training_basis=basis)
            )
        known = [stage.training_usd for stage in stages if stage.training_usd is not None]
        training_usd = round(sum(known), 2) if len(known) == len(stages) else None
        training_basis = " + ".join(f"stage {s.index + 1} ({s.method}) {_usd(s.training_usd)}" for s in stages)
        if training_usd is None:
            unknown = next(s for s in stages if s.training_usd is None)
            training_basis += f"; stage {unknown.index + 1}: {unknown.training_basis}"
    else:
        training_usd, training_basis = _training(run, data, table)
    evaluation_usd, evaluation_basis = _evaluation(run, data, table)
    if len(stages) > 1 and evaluation_usd is not None:  # every stage is evaluated on the same test split
        evaluation_usd, evaluation_basis = (
            round(evaluation_usd * len(stages), 4),
            f"{len(stages)} stages x ({evaluation_basis})",
        )
    budget = run.budget.max_training_usd
    within = budget is None or (training_usd is not None and training_usd <= budget)
    return CostEstimate(
        model=model,
        price_table=table.version,
        training_usd=training_usd,
        training_basis=training_basis,
        evaluation_usd=evaluation_usd,
        evaluation_basis=evaluation_basis,
        stages=stages,
        max_training_usd=budget,
        within_budget=within,
    )


def stage_train_records(run: ExecutionInput, train_records: int) -> list[int]:
    """How many records each stage trains on (`jobs.stage_data.stage_records`' counts, without reading them)."""
    slices = stage_slices(run.stages, train_records)
    counts: list[int] = []
    for index, (start, end) in enumerate(slices):
        count = end - start
        mixed = run.stages[index].include_previous_data
        if index > 0 and mixed is not False:
            share = 1.0 if mixed is True else float(mixed)
            previous_start, previous_end = slices[index - 1]
            count += round(share * (previous_end - previous_start))
        counts.append(count)
    return counts


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def check_budget(estimate: CostEstimate) -> None:
    """Raise `TrainingBudgetExceeded` naming the estimate and the budget when the run may not start."""
    if estimate.within_budget:
        return
    if estimate.training_usd is None:
        raise TrainingBudgetExceeded(
            f"budget.maxTrainingUsd is ${estimate.max_training_usd:,.2f} but the training cost cannot be estimated "
            f"({estimate.training_basis}); no job was started"
        )
    raise TrainingBudgetExceeded(
        f"estimated training cost ${estimate.training_usd:,.2f} ({estimate.training_basis}) is above "
        f"budget.maxTrainingUsd ${estimate.max_training_usd:,.2f}; no job was started. Lower the epochs, cap the "
        "training set (split.maxTrain) or raise the budget"
    )


def _training(run: ExecutionInput, data: DataSize, table: PriceTable) -> tuple[float | None, str]:
    if run.platform is Platform.SAGEMAKER and run.data_mixing is not None:
        return None, (
            "a serverless SageMaker training job (data mixing): the service chooses and bills its compute, and price "
            f"table {table.version} has no serverless price"
        )
    if run.platform is Platform.SAGEMAKER:
        settings = run.sagemaker
        instance, count, hours = settings.instance_type or "", settings.instance_count or 1, settings.max_runtime_hours
        price = table.instance_hour(instance)
        if price is None:
            return None, f"no hourly price for {instance or 'the instance type'} in price table {table.version}"
        cost = count * hours * price
        return round(cost, 2), f"at most {count} x {instance} x {hours:g} h (maxRuntimeHours) x ${price:g}/h"
    prices = table.of(run.base_model or "")
    epochs = int(run.hyperparameters.get("epochCount", 1))
    tokens_per_record = data.mean_tokens
    basis_extra, extra_cost = "", 0.0
    if run.method is Method.DISTILLATION:
        answer = run.distillation.max_response_length
        tokens_per_record += answer
        teacher = table.of(run.distillation.teacher_model)
        extra_cost = data.train_records * (
            data.mean_tokens / 1000 * teacher.input_per_1k_tokens + answer / 1000 * teacher.output_per_1k_tokens
        )
        basis_extra = f" + teacher answers ${extra_cost:,.2f}"
    samples = int(run.hyperparameters.get("trainingSamplePerPrompt", 1)) if run.method is Method.RFT else 1
    tokens = math.ceil(data.train_records * tokens_per_record * samples)
    cost = tokens * epochs / 1000 * prices.training_per_1k_tokens + extra_cost
    per_sample = f" x {samples} samples per prompt" if samples > 1 else ""
    basis = (
        f"{data.train_records} train records x {tokens_per_record:g} tokens{per_sample} = {tokens:,} tokens x "
        f"{epochs} epochs x ${prices.training_per_1k_tokens:g}/1K{basis_extra}"
    )
    return round(cost, 2), basis


def _evaluation(run: ExecutionInput, data: DataSize, table: PriceTable) -> tuple[float | None, str]:
    if not run.evaluation.enabled:
        return 0.0, "evaluation disabled"
    rows = min(data.test_records, run.evaluation.max_rows)
    requests = 1 if run.evaluation.baseline == "none" else 2
    prices = table.of(run.base_model or "")
    per_request = data.mean_tokens / 1000 * (prices.input_per_1k_tokens + prices.output_per_1k_tokens)
    cost = rows * requests * per_request
    judge = _judge(run.evaluation.judge_model)
    basis = f"{rows} rows x {requests} models x {data.mean_tokens:g} tokens in and out"
    if judge is not None and judge in table.models:
        judge_prices = table.of(judge)
        cost += rows * requests * 2 * data.mean_tokens / 1000 * judge_prices.input_per_1k_tokens
        basis += f" + judge {judge}"
    recipes = run.sagemaker.evaluation_recipes if run.platform is Platform.SAGEMAKER else []
    if recipes:
        hours, fallback = run.sagemaker.max_runtime_hours, evaluation_instance_types(run.base_model or "")
        jobs_usd = 0.0
        for requested in recipes:
            instance = requested.instance_type or (fallback[0] if fallback else "")
            price = table.instance_hour(instance)
            if price is None:
                return (
                    None,
                    f"{basis}; evaluation recipe {requested.task}: no hourly price for {instance or 'its instance'}",
                )
            jobs_usd += EVALUATION_INSTANCE_COUNT * hours * price
        cost += jobs_usd
        basis += f" + {len(recipes)} evaluation recipe job(s) of at most {hours:g} h (maxRuntimeHours) ${jobs_usd:,.2f}"
    return round(cost, 4), basis


def _judge(profile_id: str | None) -> str | None:
    if profile_id is None:
        return None
    return next((name for name, model in MODELS.items() if model.inference_profile_id == profile_id), None)


def estimate_run(state: RunState, *, s3: Any) -> CostEstimate:
    """CheckBudget: the estimate for this execution, from the manifest of its prepared data."""
    assert state.input is not None and state.data is not None, "CheckBudget runs after the data preparation"
    bucket, key = split_s3(state.data.manifest_uri)
    with aws_call("s3", "GetObject"):
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return estimate_cost(state.input, DataSize.from_manifest(manifest))


def format_estimate(estimate: dict[str, Any]) -> str:
    """The estimate as `plan` and `cost --input` print it (from `CostEstimate.dump()`)."""
    training, evaluation = estimate.get("trainingUsd"), estimate.get("evaluationUsd")
    lines = [
        f"estimated cost (price table {estimate.get('priceTable')}, {estimate.get('model')}):",
        f"  training:   {'unknown' if training is None else f'${training:,.2f}'}  ({estimate.get('trainingBasis')})",
        f"  evaluation: {'unknown' if evaluation is None else f'${evaluation:,.4f}'}  "
        f"({estimate.get('evaluationBasis')})",
    ]
    for stage in estimate.get("stages", []):
        usd = stage.get("trainingUsd")
        lines.insert(
            len(lines) - 1,
            f"    stage {stage['index'] + 1} ({stage['method']}): {'unknown' if usd is None else f'${usd:,.2f}'}  "
            f"({stage['trainingBasis']})",
        )
    budget = estimate.get("maxTrainingUsd")
    if budget is not None:
        verdict = "within" if estimate.get("withinBudget") else "ABOVE"
        lines.append(f"  budget.maxTrainingUsd ${budget:,.2f}: {verdict} budget")
    return "\n".join(lines)
