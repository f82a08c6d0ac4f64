"""Evaluation, quality gate and promotion through the offline twin: a pass, a fail on each threshold, a candidate
worse than the promoted model, and rollback."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from nova_pipeline.promotion.record import ActiveModelRecord
from nova_pipeline.promotion.store import read_active, rollback
from tests.workflow.conftest import example


def active(twin: Any) -> tuple[ActiveModelRecord | None, int | None]:
    return read_active(boto3.client("ssm", region_name="us-east-1"), "dev")


def report(twin: Any, result: Any) -> dict[str, Any]:
    uri = result.output["evaluation"]["reportUri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def test_a_better_candidate_is_promoted_with_a_report(offline_twin: Any) -> None:
    with offline_twin() as twin:
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        evaluation = result.output["evaluation"]
        assert evaluation["verdict"] == "promoted" and evaluation["simulated"] is True
        assert evaluation["candidate"] > evaluation["baseline"]
        record, version = active(twin)
        assert record is not None and version == 1
        assert record.deployment_arn == result.output["deploymentArn"]
        assert record.system_prompt.startswith("Classify the support ticket")  # type: ignore[union-attr]
        assert record.metrics is not None and record.metrics.simulated
        document = report(twin, result)
        assert document["simulated"] and document["candidate"]["confusionMatrix"]["labels"]
        assert document["lossCurves"]["training"]
        # One final training loss: the run output's, the report's and the curve's last point
        final = result.output["job"]["trainingLoss"]
        assert final == document["training"]["finalTrainingLoss"] == document["lossCurves"]["training"][-1][1]
        assert "curveLastPoint" not in document["training"]
        # The baseline explained, the data summary read from the prepare manifest (AggregateEvaluation's grant)
        info = document["baselineInfo"]
        assert (info["kind"], info["model"], info["sameRows"]) == ("base-model", "us.amazon.nova-micro-v1:0", True)
        assert info["standIn"].startswith("The offline twin's simulated base model answers with the label")
        assert document["data"]["manifest"] == result.output["data"]["manifestUri"]
        assert document["data"]["recordsRead"] == 400 and document["data"]["labelVariants"] == []
        assert document["cost"]["trafficSource"].startswith("the default traffic")
        converse = [p for s, o, p in twin.simulator.calls if o == "ConverseStream"]
        assert {p["modelId"] for p in converse} == {result.output["deploymentArn"], "us.amazon.nova-micro-v1:0"}
        assert all(p["system"][0]["text"].startswith("Classify") for p in converse)


@pytest.mark.parametrize(
    ("gate", "failure_start"),
    [
        ({"minPrimaryMetric": 1.0, "minGainOverBaseline": 0.99}, "accuracy gain over the baseline"),
        ({"maxTtftP90Ms": 0.001}, "TTFT p90 "),
        ({"maxCostPer1kRequestsUsd": 0.0}, "cost per 1,000 requests "),
        ({"maxErrorRate": 0.0}, "error rate "),
    ],
)
def test_each_threshold_can_reject_and_the_deployment_is_deleted(
    offline_twin: Any, gate: dict[str, float], failure_start: str
) -> None:
    document = example("sft-classification-nova-micro.json")
    document["gate"] = gate
    simulator = {"throttle_rate": 0.0}
    with offline_twin(**simulator) as twin:
        if "maxErrorRate" in gate:
            twin.simulator.settings.fail_converse_every = 7
        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        evaluation = result.output["evaluation"]
        assert evaluation["verdict"] == "rejected"
        assert any(reason.startswith(failure_start) for reason in evaluation["failed"]), evaluation["failed"]
        promotion = result.output["promotion"]
        assert (promotion["promoted"], promotion["deletedDeployment"]) == (False, True)
        assert promotion["reason"] == "quality gate: " + "; ".join(evaluation["failed"])
        # The rejected custom model goes too: its storage would cost $1.95 a month.
        assert promotion["deletedModel"] == result.output["customModelArn"]
        assert all(d.deleted for d in twin.simulator.deployments.values())
        assert all(m.deleted for m in twin.simulator.models.values())
        assert active(twin) == (None, None)


def test_a_candidate_below_the_minimum_metric_is_rejected(offline_twin: Any) -> None:
    document = example("sft-text-to-sql-nova-micro.json")
    document["gate"] = {"minPrimaryMetric": 0.99}
    with offline_twin() as twin:
        result = twin.run(document)

        evaluation = result.output["evaluation"]
        assert evaluation["verdict"] == "rejected"
        assert evaluation["failed"] == [f"executionAccuracy {evaluation['candidate']:.4f} < minimum 0.9900"]


def test_a_candidate_worse_than_the_promoted_model_is_rejected_and_rollback_restores(offline_twin: Any) -> None:
    with offline_twin() as twin:
        good = twin.run(example("sft-classification-nova-micro.json"))
        assert good.output["evaluation"]["verdict"] == "promoted"

        weaker = example("sft-classification-nova-micro.json")
        weaker["split"]["maxTrain"] = 8
        worse = twin.run(weaker)

        assert worse.output["evaluation"]["verdict"] == "rejected"
        assert any("the promoted model's" in f for f in worse.output["evaluation"]["failed"])
        record, version = active(twin)
        assert record is not None and record.deployment_arn == good.output["deploymentArn"] and version == 1

        third = twin.run(example("sft-classification-nova-micro.json"))
        assert third.output["evaluation"]["verdict"] == "promoted"
        record, version = active(twin)
        assert version == 2 and record is not None and record.previous_version == 1

        restored, restored_version = rollback(boto3.client("ssm", region_name="us-east-1"), "dev", None)
        assert restored.deployment_arn == good.output["deploymentArn"] and restored_version == 3


def test_the_llm_judge_scores_candidates_and_its_cost_is_counted(offline_twin: Any) -> None:
    document = example("sft-text-to-sql-nova-micro.json")
    document["evaluation"] = {"baseline": "none", "maxRows": 12, "judgeModel": "us.amazon.nova-pro-v1:0"}
    document["gate"] = {}
    with offline_twin() as twin:
        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        judged = [
            p for s, o, p in twin.simulator.calls if o == "Converse" and p["modelId"] == "us.amazon.nova-pro-v1:0"
        ]
        assert len(judged) == 12
        assert "<SCORE>" in judged[0]["messages"][0]["content"][0]["text"]
        document_report = report(twin, result)
        assert 0 < document_report["candidate"]["judge"]["meanScore"] <= 1
        assert document_report["candidate"]["judge"]["unparsedRate"] == 0
        assert document_report["evaluationCost"]["judge"] > 0


def test_a_failed_evaluation_batch_fails_the_run_and_cleans_up(offline_twin: Any) -> None:
    with offline_twin(fail_at="EvaluateBatch") as twin:
        result = twin.run(example("sft-classification-nova-micro.json"))

        assert result.status == "FAILED"
        assert result.error in ("EvaluationIncomplete", "States.ExceedToleratedFailureThreshold")
        assert all(d.deleted for d in twin.simulator.deployments.values())
        assert active(twin) == (None, None)


def test_two_executions_that_finish_together_promote_exactly_once(offline_twin: Any) -> None:
    """Both candidates were compared with the same active model (none); the first Promote writes the record, the
    second is refused by the conditional write, rejected with that reason and cleaned up."""
    with offline_twin() as twin:
        # Given: each execution's Promote waits until the other one's evaluation is done too
        both_evaluated, one_write_at_a_time = threading.Barrier(2, timeout=240), threading.Lock()
        invoke = twin.dispatcher.invoke

        def invoke_with_barrier(function_name: str, payload: bytes) -> Any:
            if twin.dispatcher.functions[function_name].handler_dir.name != "promote":
                return invoke(function_name, payload)
            both_evaluated.wait()
            with one_write_at_a_time:
                return invoke(function_name, payload)

        twin.dispatcher.invoke = invoke_with_barrier

        # When: two executions run at the same time
        started = [twin.start(example("sft-classification-nova-micro.json")) for _ in range(2)]
        results = [twin.wait(execution) for execution in started]

        # Then: exactly one promoted; the other was rejected with the reason and its deployment and model deleted
        assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"], [(r.error, r.cause) for r in results]
        assert all(r.output["evaluation"]["verdict"] == "promoted" for r in results)  # both passed the gate
        promoted = [r for r in results if r.output["promotion"]["promoted"]]
        refused = [r for r in results if not r.output["promotion"]["promoted"]]
        assert (len(promoted), len(refused)) == (1, 1)
        promotion = refused[0].output["promotion"]
        assert promotion["reason"] == "active model changed during evaluation"
        assert promotion["deletedDeployment"] is True
        assert promotion["deletedModel"] == refused[0].output["customModelArn"]
        record, version = active(twin)
        assert record is not None and version == 1
        assert record.deployment_arn == promoted[0].output["deploymentArn"]
        assert twin.simulator.deployments[refused[0].output["deploymentArn"]].deleted
        assert not twin.simulator.deployments[promoted[0].output["deploymentArn"]].deleted
