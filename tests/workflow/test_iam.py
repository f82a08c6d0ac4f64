"""IAM as AWS enforces it, in the offline twin: every call the pipeline makes is allowed by exactly the statements
the stacks synthesize, and every allow statement is needed by some call (least privilege and sufficiency together).

The battery below runs every example and every path that touches a different permission (failures, clean-up,
rejection, fan-out, the promoted baseline, the inference API). A statement is needed when, for some call, it is the
only statement that allows it: removing it would make that call fail. `test_removing_a_needed_statement_fails_a_run`
shows that on real runs for a few statements the review found missing in the past.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from nova_pipeline.inference import api as inference_api
from nova_pipeline.local.iam import Decision, PolicyBook, Statement, sole_grants
from nova_pipeline.local.twin import OfflineTwin
from tests.workflow.conftest import ROOT, example

REJECTING_GATE = {"gate": {"minPrimaryMetric": 1.0}}
NEEDS_APPROVAL = {"approval": {"required": True}}


def _upload_input(twin: OfflineTwin, document: dict[str, Any]) -> dict[str, Any]:
    """Upload incoming/<name>/input.json: the data bucket sends "Object Created" to EventBridge and the rule's
    target, StartFromUpload, runs under its role. Its result."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=twin.data_bucket, Key="incoming/tickets/input.json", Body=json.dumps(document).encode())
    assert twin.events is not None
    [delivery] = twin.events.wait()
    assert delivery.error is None, delivery.error
    result: dict[str, Any] = delivery.result
    return result


DATA_MIXING = {
    "customerDataPercent": 75,
    "novaDataPercent": {"instruction-following": 100},
    "baseModelArn": "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/nova-textgeneration-lite-v2",
    "modelPackageGroupArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/nova-mixed",
    "acceptEula": True,
}

FULL_RANK = {  # served through Provisioned Throughput (full-rank models have no on-demand deployment)
    **example("sagemaker-lora-sft-nova-micro.json"),
    "sagemaker": {"peftScheme": "none", "instanceType": "ml.g5.48xlarge"},
    "deployment": {"provisionedThroughput": {"modelUnits": 1, "usdPerModelUnitHour": 20, "maxHourlyUsd": 20}},
}


def _fanout_parts(twin: OfflineTwin) -> dict[str, Any]:
    lines = (ROOT / "examples/data/support-tickets/tickets.jsonl").read_text().splitlines(keepends=True)
    s3 = boto3.client("s3", region_name="us-east-1")
    for part in range(3):
        body = "".join(lines[part::3]).encode()
        s3.put_object(Bucket=twin.data_bucket, Key=f"raw/tickets-parts/part-{part}.jsonl", Body=body)
    document = example("sft-classification-nova-micro.json")
    document["dataset"]["uri"] = "raw/tickets-parts/"
    return document


@pytest.fixture(scope="module")
def battery(synthesized: Any) -> Iterator[tuple[list[Decision], PolicyBook, list[str]]]:
    """Run the whole battery once; yield every IAM decision, the policy book and a line per run."""
    from nova_pipeline.local.simulator import SimulatorSettings
    from nova_pipeline.local.twin import TwinOptions

    decisions: list[Decision] = []
    outcomes: list[str] = []
    book: PolicyBook | None = None

    def twin(**options: Any) -> OfflineTwin:
        simulator = SimulatorSettings(**{"job_seconds": 0.2, "deployment_seconds": 0.1, **options.pop("sim", {})})
        return OfflineTwin(TwinOptions(simulator=simulator, **options), synthesized)

    def record(result: Any, label: str) -> Any:
        outcomes.append(f"{label}: {result.status} {result.error or ''}")
        return result

    # GarbageCollect keeps nothing for its age here, so the battery's older promoted models are deleted.
    with twin(approval="approve", function_environment={"NOVA_GC_RETENTION_DAYS": "0"}) as main:
        main.upload_example_data()
        for name in sorted(p.name for p in (ROOT / "examples").glob("*.json")):
            result = record(main.run(example(name)), name)
            assert result.status == "SUCCEEDED", (name, result.error, result.cause)
        against_promoted = example("sft-classification-nova-micro.json")
        against_promoted["evaluation"] = {"baseline": "promoted"}
        record(main.run(against_promoted), "baseline promoted")
        guarded = example("sft-classification-nova-micro.json")  # a general set read from raw/ (forgetting guard)
        guarded["evaluation"] = {"general": {"uri": "raw/general/general-v1.jsonl", "maxRows": 20}}
        result = record(main.run(guarded), "general set")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        rejected = record(main.run({**example("sft-text-to-sql-nova-micro.json"), **REJECTING_GATE}), "rejected")
        assert rejected.output["promotion"]["deletedModel"] == rejected.output["customModelArn"]
        premier = example("distillation-nova-pro-to-micro.json")
        premier["distillation"]["teacherModel"] = "nova-premier"
        result = record(main.run(premier), "premier teacher")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        bedrock_stages = {**example("sft-classification-nova-micro.json"), **REJECTING_GATE}
        del bedrock_stages["method"], bedrock_stages["hyperparameters"]
        bedrock_stages["stages"] = [{"method": "sft"}, {"method": "sft", "dataShare": 0.5}]
        result = record(main.run(bedrock_stages), "bedrock stages rejected")
        assert len(result.output["promotion"]["discardedStages"]) == 2, result.output["promotion"]
        sagemaker_rft = {**example("rft-text-to-sql-nova-2-lite.json"), "platform": "sagemaker", "hyperparameters": {}}
        result = record(main.run(sagemaker_rft), "sagemaker rft")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        approved = record(main.run({**example("sft-classification-nova-micro.json"), **NEEDS_APPROVAL}), "approval")
        assert approved.output["approval"]["decision"] == "approved"
        started = _upload_input(main, example("sft-classification-nova-micro.json"))
        assert started["started"] is True, started
        record(main.wait(started["executionArn"]), "data-triggered")
        qa = b'{"query": "What is 2 + 2?", "response": "4"}\n'  # SageMaker evaluation recipes (gen_qa reads raw/)
        boto3.client("s3", region_name="us-east-1").put_object(
            Bucket=main.data_bucket, Key="raw/eval/qa.jsonl", Body=qa
        )
        evaluated = example("sagemaker-lora-sft-nova-micro.json")
        evaluated["sagemaker"]["evaluationRecipes"] = [
            {"task": "mmlu"},
            {"task": "gen_qa", "dataset": "raw/eval/qa.jsonl"},
        ]
        result = record(main.run(evaluated), "sagemaker evaluation recipes")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        # both jobs ran as the SageMaker role (evaluation image pull, raw/ dataset, jobs/ output)
        assert [job["status"] for job in result.output["sagemakerEvaluation"]["jobs"]] == ["Completed", "Completed"]
        mixed = {**example("stages-question-quality-nova-2-lite.json"), "method": "sft", "dataMixing": DATA_MIXING}
        del mixed["stages"]
        result = record(main.run(mixed), "data mixing (serverless)")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert main.invoke_api("GET", "/v1/model")["statusCode"] == 200
        generated = main.invoke_api("POST", "/v1/generate", {"input": "How many singers are there?"})
        assert generated["statusCode"] == 200, generated
        [collected] = main.run_schedules()  # EventBridge Scheduler -> GarbageCollect
        outcomes.append(f"scheduled gc: SUCCEEDED deleted {len(collected['deleted'])}")
        assert collected["deleted"], collected
        assert main.authorizer is not None
        decisions += main.authorizer.decisions
        book = main.authorizer.book
    # Full-rank runs served through Provisioned Throughput: rejected (RejectCandidate deletes it), promoted twice (the
    # API invokes the second), then gc deletes the superseded one (no grace here).
    with twin(function_environment={"NOVA_GC_PT_GRACE_HOURS": "0"}) as provisioned:
        provisioned.upload_example_data()
        for label, extra in (("pt rejected", REJECTING_GATE), ("pt promoted", {}), ("pt promoted again", {})):
            result = record(provisioned.run({**FULL_RANK, **extra}), label)
            assert result.status == "SUCCEEDED" and ":provisioned-model/" in result.output["deploymentArn"], result
            assert result.output["verdict"] == ("rejected" if extra else "promoted"), result.output["evaluation"]
        question = {"input": "How many singers are there?", "context": "CREATE TABLE singer (id INTEGER)"}
        inference_api._provider.cache_clear()  # the API caches the record for 30 s (one container per twin in AWS)
        generated = provisioned.invoke_api("POST", "/v1/generate", question)
        assert generated["statusCode"] == 200, generated
        [collected] = provisioned.run_schedules()
        assert len(collected["provisionedThroughputs"]) == 1, collected
        assert provisioned.authorizer is not None
        decisions += provisioned.authorizer.decisions
    for label, options, document in (
        ("job stopped", {"fail_at": "PollBedrockJob", "sim": {"job_seconds": 30}}, "sft-text-to-sql-nova-micro.json"),
        (  # the start died after acceptance: Cleanup finds the job by its derived name, then stops it
            "unrecorded job stopped",
            {"sim": {"job_seconds": 30, "accept_then_fail": "CreateModelCustomizationJob:RequestTimeout"}},
            "sft-text-to-sql-nova-micro.json",
        ),
        (
            "unrecorded training stopped",
            {"sim": {"job_seconds": 30, "accept_then_fail": "CreateTrainingJob:RequestTimeout"}},
            "sagemaker-lora-sft-nova-micro.json",
        ),
        ("deployment failed", {"sim": {"fail_deployment": "capacity"}}, "sft-classification-nova-micro.json"),
        ("provisioned throughput failed", {"sim": {"fail_provisioned_throughput": "no model units"}}, FULL_RANK),
        ("fan-out", {"function_environment": {"NOVA_FANOUT_OBJECTS": "2"}}, None),
    ):
        with twin(**options) as other:
            other.upload_example_data()
            if isinstance(document, dict):
                execution_input = document
            else:
                execution_input = _fanout_parts(other) if document is None else example(document)
            result = record(other.run(execution_input), label)
            assert other.authorizer is not None
            decisions += other.authorizer.decisions
    assert book is not None
    yield decisions, book, outcomes


def test_no_call_of_the_battery_is_denied(battery: tuple[list[Decision], PolicyBook, list[str]]) -> None:
    decisions, _, outcomes = battery

    denied = [f"{d.principal} {d.call}: {d.need.action} on {d.need.resource}" for d in decisions if not d.granted_by]

    assert denied == [], outcomes
    assert [line for line in outcomes if "SUCCEEDED" not in line] == [
        "job stopped: FAILED InjectedFailure",
        "unrecorded job stopped: FAILED AwsRequestFailed",
        "unrecorded training stopped: FAILED AwsRequestFailed",
        "deployment failed: FAILED DeploymentFailed",
        "provisioned throughput failed: FAILED ProvisionedThroughputFailed",
    ]


def test_every_allow_statement_is_needed_by_some_call(battery: tuple[list[Decision], PolicyBook, list[str]]) -> None:
    decisions, book, _ = battery
    sole = sole_grants(book, decisions)
    described = {s.source: s.describe() for statements in book.statements.values() for s in statements}

    unneeded = sorted(described[source] for source, count in sole.items() if count == 0)

    assert unneeded == [], "\n".join(unneeded)


@pytest.mark.parametrize(
    ("action", "resource_part"),
    [
        ("s3:ListBucket", "evaluation/*"),  # the EvaluateBatches map lists its batches as the state machine
        ("s3:GetObject", "customer-escrow-"),  # Bedrock reads a SageMaker checkpoint as its service role
        ("kms:Encrypt", "key/"),  # SageMaker encrypts the training output with the environment's key
    ],
)
def test_removing_a_needed_statement_fails_a_run(synthesized: Any, action: str, resource_part: str) -> None:
    from nova_pipeline.local.twin import TwinOptions

    with OfflineTwin(TwinOptions(), synthesized) as twin:
        assert twin.authorizer is not None
        book = twin.authorizer.book
        removed = [
            s for statements in book.statements.values() for s in statements if _grants(s, action, resource_part)
        ]
        assert removed, f"no statement grants {action} on *{resource_part}*"
        for statement in removed:  # the action only: the statement's other actions stay
            statements = book.statements[statement.role_arn]
            kept = tuple(a for a in statement.actions if a != action) or ("none:Nothing",)
            statements[statements.index(statement)] = replace(statement, actions=kept)
        twin.upload_example_data()
        name = "sagemaker-lora-sft-nova-micro.json" if action != "s3:ListBucket" else "sft-text-to-sql-nova-micro.json"
        result = twin.run(example(name))

        assert result.status == "FAILED"
        denied = {d.need.action for d in twin.authorizer.decisions if not d.granted_by}
        assert denied == {action}


def _grants(statement: Statement, action: str, resource_part: str) -> bool:
    """Whether `statement` allows `action` on a resource (or with a condition) that mentions `resource_part`."""
    where = [*statement.resources, json.dumps(statement.conditions)]
    return action in statement.actions and any(resource_part in text for text in where)


def test_a_service_the_trust_policy_does_not_name_cannot_use_the_role(synthesized: Any) -> None:
    from nova_pipeline.local.twin import TwinOptions

    with OfflineTwin(TwinOptions(), synthesized) as twin:
        assert twin.authorizer is not None
        trust = twin.authorizer.book.trust
        [role] = [arn for arn, statements in trust.items() if "sagemaker.amazonaws.com" in json.dumps(statements)]
        for statement in trust[role]:  # a trust policy scoped to another account's training jobs
            statement["Condition"] = {"StringEquals": {"aws:SourceAccount": "999999999999"}}
        twin.upload_example_data()

        result = twin.run(example("sagemaker-lora-sft-nova-micro.json"))

        assert result.status == "FAILED"
        assert "sagemaker.amazonaws.com cannot assume the role" in (result.cause or "")
        assert [allowed for *_, allowed in twin.authorizer.assumptions] == [False]


def test_the_bedrock_role_trusts_bedrock_for_its_jobs_and_imports_in_this_account_only(
    battery: tuple[list[Decision], PolicyBook, list[str]],
) -> None:
    _, book, _ = battery
    [role] = [arn for arn, statements in book.trust.items() if "bedrock.amazonaws.com" in json.dumps(statements)]
    account = {"aws:SourceAccount": "123456789012"}
    job = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc"
    imported = "arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/abc"

    assert book.trusts(role, "bedrock.amazonaws.com", {**account, "aws:SourceArn": job})
    assert book.trusts(role, "bedrock.amazonaws.com", {**account, "aws:SourceArn": imported})
    assert not book.trusts(role, "bedrock.amazonaws.com", {"aws:SourceAccount": "999999999999", "aws:SourceArn": job})
    assert not book.trusts(role, "sagemaker.amazonaws.com", {**account, "aws:SourceArn": job})
