"""The customization state machine in Amazon States Language, built by a few helpers instead of copy-paste.

`definition()` below is the whole workflow, stage by stage. Every Lambda Task retries transient errors with the one
`RETRY` policy and, unless it is part of the clean-up path, catches everything into `Cleanup` with the one `CATCH`
policy. Every `$.<key>` of the state document comes from `path()`, which checks it against `RunState`, so a typo
fails at synth. `${XxxArn}` placeholders are the stack's `definition_substitutions`.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from nova_pipeline.contract.execution_input import FULL_RANK_NOT_DEPLOYED
from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core import layout

State = dict[str, Any]
States = dict[str, State]


def definition() -> dict[str, Any]:
    """The ASL document of the customization state machine."""
    return {
        "Comment": "Nova customization: validate, prepare, customize, deploy, evaluate, gate, promote (see README)",
        "StartAt": "Initialize",
        "States": {
            **initialize(next="ValidateInput"),  # $.raw, $.execution
            **validate_input(next="StartStages"),  # $.input
            **start_stages(next="PlanData"),  # $.stage: the stage loop's cursor
            **prepare_data(next="CheckBudget"),  # PlanData -> PrepareData | PrepareShards map + MergeShards
            **check_budget(next="ChoosePlatform"),  # every stage's estimate; budget.maxTrainingUsd stops the run here
            **customize(next="OnDemandDeployable"),  # Bedrock job (RFT: grader preflight) | SageMaker job + import
            **deploy(next="EvaluationEnabled", imported_only="Summarize"),  # on-demand, or full-rank's PT if asked
            **evaluate(next="MoreStages", skip="Summarize"),  # PlanEvaluation, EvaluateBatches map, Aggregate
            **next_stage(loop="ChoosePlatform", next="QualityGate"),  # the next stage, or the chosen stage's gate
            **gate(next="Summarize"),  # [RequestApproval: wait for approve/reject] -> Promote | RejectCandidate
            **summarize(),  # Summarize -> Succeeded
            **clean_up(),  # every Catch lands here: Cleanup -> Failed | CleanupFailed
        },
    }


def field(key: str) -> str:
    """`key` if it is a field of `RunState` (by alias), else a KeyError: the workflow writes nothing untyped."""
    path(key)
    return key


def path(*keys: str) -> str:
    """`$.k1.k2...`, checked against `RunState` as deep as its models go (an open dict is not checked further)."""
    model: type[BaseModel] | None = RunState
    for depth, key in enumerate(keys):
        if model is None:
            break
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        if key not in fields:
            raise KeyError(f"$.{'.'.join(keys[: depth + 1])}: {model.__name__} has no field {key!r}")
        model = _model_of(fields[key].annotation)
    return "$." + ".".join(keys)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (`X` of `X | None`), or None for anything else (dicts, lists, scalars)."""
    candidates = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


RETRY: list[State] = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "ThrottledError",
            "TransientServiceError",
        ],
        "IntervalSeconds": 1,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    }
]


def catch_all(result_path: str, next: str) -> list[State]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next}]


CATCH = catch_all(path("error"), "Cleanup")


# ------------------------------------------------------------------------------------------------------------ stages
def initialize(*, next: str) -> States:
    execution = {"name.$": "$$.Execution.Name", "arn.$": "$$.Execution.Id", "startedAt.$": "$$.Execution.StartTime"}
    return {
        "Initialize": {
            "Type": "Pass",
            "Comment": "Keep the raw input and the execution's identity for every later state",
            "Parameters": {f"{field('raw')}.$": "$", field("execution"): execution},
            "Next": next,
        }
    }


def validate_input(*, next: str) -> States:
    comment = "Check the execution input; resolve defaults and hyperparameters"
    return task("ValidateInput", comment, input_path=path("raw"), result="input", next=next)


def start_stages(*, next: str) -> States:
    """The stage loop's cursor: stage 0, and how many stages follow it (-1 for an input without `stages`)."""
    remaining = f"States.MathAdd(States.ArrayLength({path('input', 'stages')}), -1)"
    return {
        "StartStages": {
            "Type": "Pass",
            "Comment": "First stage; $.stage.remaining counts the stages after the running one",
            "Parameters": {"index": 0, "remaining.$": remaining},
            "ResultPath": path("stage"),
            "Next": next,
        }
    }


def next_stage(*, loop: str, next: str) -> States:
    """A stage loop instead of one copy of the job states per stage (the definition and the state stay small):
    after a stage's evaluation, start the next stage from the previous one's model, or, after the last, put the
    chosen stage's deployment in `$.deployment` for the gate."""
    chosen = path("evaluation", "chosen")
    return {
        **choice(
            "MoreStages",
            when(path("stage", "remaining"), "NumericGreaterThan", 0, "NextStage"),
            {
                "And": [{"Variable": chosen, "IsPresent": True}, {"Variable": chosen, "IsNull": False}],
                "Next": "UseChosenStage",
            },
            default=next,
        ),
        "NextStage": {
            "Type": "Pass",
            "Comment": "The next stage trains from this stage's model ($.job / $.model stay until it starts)",
            "Parameters": {
                "index.$": f"States.MathAdd({path('stage', 'index')}, 1)",
                "remaining.$": f"States.MathAdd({path('stage', 'remaining')}, -1)",
            },
            "ResultPath": path("stage"),
            "Next": loop,
        },
        "UseChosenStage": {
            "Type": "Pass",
            "Comment": "The best stage that passed the gate is the one promoted (or rejected when none passed)",
            "Parameters": {
                "deploymentArn.$": f"{chosen}.deploymentArn",
                "deploymentName.$": f"{chosen}.deploymentName",
                "modelArn.$": f"{chosen}.modelArn",
                "status": "Active",
                "done": True,
                "succeeded": True,
            },
            "ResultPath": path("deployment"),
            "Next": next,
        },
    }


def prepare_data(*, next: str) -> States:
    run = {"input.$": path("input"), "runId.$": path("execution", "name")}
    return {
        **task(
            "PlanData",
            "One PrepareData invocation, or a Distributed Map over the dataset's objects when it is large or split in "
            "many files",
            result="plan",
            next="ChooseDataPath",
        ),
        **choice(
            "ChooseDataPath",
            when(path("plan", "mode"), "StringEquals", "fanout", "PrepareShards"),
            default="PrepareData",
        ),
        **distributed_map(
            "PrepareShards",
            "Normalize and validate every object under the prefix in parallel (Distributed Map); any failed object "
            "fails the run (no tolerated failures)",
            bucket=path("plan", "bucket"),
            prefix=path("plan", "prefix"),
            results=layout.PREPARE_MAP_RESULTS,
            item={**run, "object.$": "$$.Map.Item.Value"},
            concurrency=20,
            processor=task("PrepareShard", "Normalize, sanitize and validate one object into a shard"),
            result="shards",
            next="MergeShards",
        ),
        **task(
            "MergeShards",
            "Deduplicate, split and cap the shards; write the splits and the manifest last",
            parameters={**run, "shards.$": path("shards")},
            result="data",
            next=next,
        ),
        **task(
            "PrepareData",
            "Validate, sanitize and split the dataset into the run-scoped prepared/ prefix",
            parameters=run,
            result="data",
            next=next,
        ),
    }


def check_budget(*, next: str) -> States:
    return task(
        "CheckBudget",
        "Estimate the training (every stage) and evaluation cost; stop before the first paid job when the training "
        "sum is above budget.maxTrainingUsd",
        result="estimate",
        next=next,
    )


def customize(*, next: str) -> States:
    return {
        **choice(
            "ChoosePlatform",
            when(path("input", "platform"), "StringEquals", "sagemaker", "StartTrainingJob"),
            when(path("input", "method"), "StringEquals", "rft", "PreflightGrader"),
            default="StartBedrockJob",
        ),
        **task(
            "PreflightGrader",
            "Invoke the reward function on prepared samples; refuse to start RFT if it errors or scores outside [0, 1]",
            result="graderPreflight",
            next="StartBedrockJob",
        ),
        **task(
            "StartBedrockJob",
            "CreateModelCustomizationJob (SFT, RFT or distillation), idempotent per execution",
            result="job",
            next="WaitForBedrockJob",
        ),
        **poll_loop("BedrockJob", "Bedrock customization job", result="job", error="CustomizationJobFailed", then=next),
        **task(
            "StartTrainingJob",
            "Merge and upload the Nova recipe; CreateTrainingJob",
            result="job",
            next="WaitForTrainingJob",
        ),
        **poll_loop(
            "TrainingJob",
            "SageMaker training job",
            result="job",
            error="TrainingJobFailed",
            then="SageMakerEvaluationRequested",
        ),
        **sagemaker_evaluation_start(next="ImportModel"),
        **task(
            "ImportModel",
            "Read the checkpoint manifest of the training output; CreateCustomModel",
            result="model",
            next="WaitForImportedModel",
        ),
        **poll_loop(
            "ImportedModel",
            "custom model import",
            result="model",
            error="ModelImportFailed",
            then="SageMakerEvaluationStarted",
        ),
        **sagemaker_evaluation_wait(next=next),
    }


# --------------------------------------------------------------------- SageMaker evaluation recipes (optional)
# `sagemaker.evaluationRecipes`: the evaluation jobs start on the checkpoint as soon as training ends and run while
# the model is imported; the run waits for them after the import, before the deployment (the checkpoint stays
# the model under test; the import usually takes longer than a benchmark, so the wait rarely adds time). Their
# metrics are reported, never gated: a failed evaluation job shows in the report and does not fail the run.
def sagemaker_evaluation_start(*, next: str) -> States:
    recipes = path("input", "sagemaker", "evaluationRecipes")
    return {
        **choice(
            "SageMakerEvaluationRequested",
            {"Variable": f"{recipes}[0]", "IsPresent": True, "Next": "StartSageMakerEvaluation"},
            default=next,
        ),
        **task(
            "StartSageMakerEvaluation",
            "One CreateTrainingJob per requested Nova evaluation recipe, the checkpoint as the model path",
            result="sagemakerEvaluation",
            next=next,
        ),
    }


def sagemaker_evaluation_wait(*, next: str) -> States:
    return {
        **choice(
            "SageMakerEvaluationStarted",
            {"Variable": path("sagemakerEvaluation"), "IsPresent": True, "Next": "PollSageMakerEvaluation"},
            default=next,
        ),
        **poll_loop(
            "SageMakerEvaluation",
            "SageMaker evaluation jobs",
            result="sagemakerEvaluation",
            error="SageMakerEvaluationFailed",
            then=next,
        ),
    }


def deploy(*, next: str, imported_only: str) -> States:
    """On-demand deployment; a full-rank SageMaker model cannot have one: it is served through the Provisioned
    Throughput its input asks for (billed hourly; `provisioned_throughput`), else its run ends imported
    (`imported_only`) with the reason and what to do as its output."""
    return {
        **choice(
            "OnDemandDeployable",
            when(path("input", "sagemaker", "peftScheme"), "StringEquals", "none", "ProvisionedThroughputRequested"),
            default="CreateDeployment",
        ),
        **provisioned_throughput(next=next, otherwise="FullRankImportedOnly"),
        "FullRankImportedOnly": {
            "Type": "Pass",
            "Comment": "Full-rank models have no on-demand deployment: imported, not deployed, evaluated or promoted",
            "Result": {"verdict": "not-deployed", "reason": FULL_RANK_NOT_DEPLOYED},
            "ResultPath": path("evaluation"),
            "Next": imported_only,
        },
        **task(
            "CreateDeployment",
            "CreateCustomModelDeployment (on-demand), idempotent per execution",
            result="deployment",
            next="WaitForDeployment",
        ),
        **poll_loop("Deployment", "on-demand deployment", result="deployment", error="DeploymentFailed", then=next),
    }


def provisioned_throughput(*, next: str, otherwise: str) -> States:
    """`deployment.provisionedThroughput` (full-rank runs only): buy it without commitment and wait until it is
    InService; it then stands in `$.deployment` for an on-demand deployment (evaluated, promoted, or deleted by
    RejectCandidate and Cleanup, since it bills per hour)."""
    requested = path("input", "deployment", "provisionedThroughput")
    return {
        **choice(
            "ProvisionedThroughputRequested",
            {
                "And": [{"Variable": requested, "IsPresent": True}, {"Variable": requested, "IsNull": False}],
                "Next": "CreateProvisionedThroughput",
            },
            default=otherwise,
        ),
        **task(
            "CreateProvisionedThroughput",
            "CreateProvisionedModelThroughput (no commitment, billed hourly) for the imported model, idempotent per "
            "execution",
            result="deployment",
            next="WaitForProvisionedThroughput",
        ),
        **poll_loop(
            "ProvisionedThroughput",
            "Provisioned Throughput",
            result="deployment",
            error="ProvisionedThroughputFailed",
            then=next,
        ),
    }


def evaluate(*, next: str, skip: str) -> States:
    return {
        **choice(
            "EvaluationEnabled",
            when(path("input", "evaluation", "enabled"), "BooleanEquals", True, "PlanEvaluation"),
            default="SkipEvaluation",
        ),
        "SkipEvaluation": {
            "Type": "Pass",
            "Comment": "evaluation.enabled is false: nothing is promoted",
            "Result": {"verdict": "not-evaluated"},
            "ResultPath": path("evaluation"),
            "Next": skip,
        },
        **task(
            "PlanEvaluation",
            "Batch the test split; size the map from the requests-per-minute budget; choose the baseline",
            result="evaluationPlan",
            next="EvaluateBatches",
        ),
        **distributed_map(
            "EvaluateBatches",
            "ConverseStream on the candidate (and baseline) for every batch, as fast as the quota allows",
            bucket=path("evaluationPlan", "bucket"),
            prefix=path("evaluationPlan", "batchesPrefix"),
            results=layout.EVALUATION_MAP_RESULTS,
            item={"object.$": "$$.Map.Item.Value", "plan.$": path("evaluationPlan")},
            concurrency=path("evaluationPlan", "maxConcurrency"),
            processor=task("EvaluateBatch", "One batch: predictions, TTFT, latency, tokens, errors"),
            result="evaluationBatches",
            next="AggregateEvaluation",
        ),
        **task(
            "AggregateEvaluation",
            "Metrics, cost, the gate's verdict, report.json and report.html",
            result="evaluation",
            next=next,
        ),
    }


def gate(*, next: str) -> States:
    return {
        **choice(
            "QualityGate",
            when(path("evaluation", "verdict"), "StringEquals", "promoted", "ApprovalRequired"),
            default="RejectCandidate",
        ),
        **approval(approved="Promote", rejected="RejectCandidate"),
        **task(
            "Promote",
            "Write the active-model record (SSM, versioned, KMS) if it is still the one the candidate was compared "
            "with",
            result="promotion",
            next="PromotionWritten",
        ),
        **choice(
            "PromotionWritten",
            when(path("promotion", "promoted"), "BooleanEquals", True, next),
            default="RejectCandidate",
        ),
        **task(
            "RejectCandidate",
            "Delete the rejected deployment and custom model (as configured) so they cost nothing",
            result="promotion",
            next=next,
        ),
    }


def approval(*, approved: str, rejected: str) -> States:
    """Wait for a human decision when the input (resolved from the environment) requires one.

    RequestApproval is a callback task: Step Functions passes the task token to the function and waits until
    SendTaskSuccess (`nova-pipeline approve`: its output is the decision) or SendTaskFailure (`reject`: error
    ApprovalRejected), or until `approval.timeoutSeconds` pass (States.Timeout). Rejection and timeout go the way of
    a gate rejection; other failures go to Cleanup.
    """
    waited = "The approver rejected the candidate (SendTaskFailure); the reason is the cause"
    return {
        **choice(
            "ApprovalRequired",
            when(path("input", "approval", "required"), "BooleanEquals", True, "RequestApproval"),
            default=approved,
        ),
        "RequestApproval": {
            "Type": "Task",
            "Comment": "Store the task token, notify the topic with the report link, wait for approve/reject",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "${RequestApprovalArn}",
                "Payload": {
                    "taskToken.$": "$$.Task.Token",
                    "execution.$": path("execution"),
                    "input.$": path("input"),
                    "evaluation.$": path("evaluation"),
                    "deployment.$": path("deployment"),
                },
            },
            "TimeoutSecondsPath": path("input", "approval", "timeoutSeconds"),
            "ResultPath": path("approval"),
            "Retry": RETRY,
            "Catch": [
                {"ErrorEquals": ["ApprovalRejected"], "ResultPath": path("approvalError"), "Next": "ApprovalRejected"},
                {"ErrorEquals": ["States.Timeout"], "ResultPath": path("approvalError"), "Next": "ApprovalTimedOut"},
                *CATCH,
            ],
            "Next": approved,
        },
        "ApprovalRejected": {
            "Type": "Pass",
            "Comment": waited,
            "Parameters": {"decision": "rejected", "reason.$": path("approvalError", "Cause")},
            "ResultPath": path("approval"),
            "Next": rejected,
        },
        "ApprovalTimedOut": {
            "Type": "Pass",
            "Comment": "Nobody decided within approval.timeoutSeconds: the candidate is rejected",
            "Parameters": {
                "decision": "timed-out",
                "reason.$": "States.Format('no decision within {} seconds', "
                + path("input", "approval", "timeoutSeconds")
                + ")",
            },
            "ResultPath": path("approval"),
            "Next": rejected,
        },
    }


def summarize() -> States:
    return {
        **task(
            "Summarize",
            "Job, model and deployment ARNs, durations and the data manifest: the execution's output",
            next="Succeeded",
        ),
        "Succeeded": {"Type": "Succeed"},
    }


def clean_up() -> States:
    """The failure path: its own Catch goes to CleanupFailed, never back into Cleanup."""
    return {
        **task(
            "Cleanup",
            "Stop the running job, delete a half-made deployment, notify SNS",
            result="cleanup",
            catch=catch_all(path("cleanupError"), "CleanupFailed"),
            next="Failed",
        ),
        "Failed": {
            "Type": "Fail",
            "Comment": "Fails with the real error and cause",
            "ErrorPath": path("cleanup", "error"),
            "CausePath": path("cleanup", "cause"),
        },
        "CleanupFailed": {
            "Type": "Fail",
            "Error": "CleanupFailed",
            "Cause": "The run failed and its clean-up failed too: check the job and deployment of this execution by "
            "hand (see the execution history)",
        },
    }


# ----------------------------------------------------------------------------------------------------------- helpers
def task(
    name: str,
    comment: str,
    *,
    input_path: str | None = None,
    parameters: dict[str, Any] | None = None,
    result: str | None = None,
    catch: list[State] | None = CATCH,
    next: str | None = None,
) -> States:
    """The Lambda Task `name`, invoking `${<name>Arn}`, storing its result at `$.<result>` (a `RunState` field).

    Without `next` the state ends its (Map item processor's) workflow: no Catch there, the Map's own Catch applies.
    """
    state: State = {"Type": "Task", "Comment": comment, "Resource": f"${{{name}Arn}}"}
    if input_path is not None:
        state["InputPath"] = input_path
    if parameters is not None:
        state["Parameters"] = parameters
    if result is not None:
        state["ResultPath"] = path(result)
    state["Retry"] = RETRY
    if next is None:
        return {name: {**state, "End": True}}
    if catch:
        state["Catch"] = catch
    return {name: {**state, "Next": next}}


def poll_loop(subject: str, description: str, *, result: str, error: str, then: str) -> States:
    """WaitFor<subject> -> Poll<subject> -> <subject>Done: loop until done, then `then` or <subject>Failed.

    The poll function returns the whole status at `$.<result>`, including `waitSeconds`, `done`, `succeeded` and, on
    failure, the service's own `failureMessage`, which becomes the cause Cleanup reports.
    """
    wait, poll, done, failed = f"WaitFor{subject}", f"Poll{subject}", f"{subject}Done", f"{subject}Failed"
    return {
        wait: {
            "Type": "Wait",
            "Comment": f"Poll interval from the poll function's waitSeconds ({description})",
            "SecondsPath": path(result, "waitSeconds"),
            "Next": poll,
        },
        **task(poll, f"Status of the {description}", result=result, next=done),
        **choice(
            done,
            when(path(result, "done"), "BooleanEquals", False, wait),
            when(path(result, "succeeded"), "BooleanEquals", True, then),
            default=failed,
        ),
        failed: {
            "Type": "Pass",
            "Comment": f"The {description} ended without success: its own message is the cause",
            "Parameters": {"Error": error, "Cause.$": path(result, "failureMessage")},
            "ResultPath": path("error"),
            "Next": "Cleanup",
        },
    }


def choice(name: str, *choices: State, default: str) -> States:
    return {name: {"Type": "Choice", "Choices": list(choices), "Default": default}}


def when(variable: str, comparison: str, value: Any, next: str) -> State:
    return {"Variable": variable, comparison: value, "Next": next}


def distributed_map(
    name: str,
    comment: str,
    *,
    bucket: str,
    prefix: str,
    results: str,
    item: dict[str, Any],
    concurrency: int | str,
    processor: States,
    result: str,
    next: str,
) -> States:
    """A Distributed Map over the S3 objects under `bucket`/`prefix` (paths); `processor` is its item workflow.

    The items' results go to S3 under the `results` prefix of the data bucket, never into the state: a state is
    capped at 256 KiB, which a few thousand items would exceed (`States.DataLimitExceeded`). The state gets the
    ResultWriter's manifest location. `concurrency` is a number or a path to one. No tolerated failures: any
    failed item fails the map into Cleanup.
    """
    return {
        name: {
            "Type": "Map",
            "Comment": comment,
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:listObjectsV2",
                "Parameters": {"Bucket.$": bucket, "Prefix.$": prefix},
            },
            "ItemSelector": item,
            ("MaxConcurrencyPath" if isinstance(concurrency, str) else "MaxConcurrency"): concurrency,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": next_of(processor),
                "States": processor,
            },
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": "${DataBucketName}", "Prefix": results},
            },
            "ResultPath": path(result),
            "Catch": CATCH,
            "Next": next,
        }
    }


def next_of(states: States) -> str:
    """The first state of `states` (its StartAt)."""
    return next(iter(states))
