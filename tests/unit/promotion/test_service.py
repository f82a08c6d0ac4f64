"""Promote and RejectCandidate: the reason a user reads, what is deleted (deployment, then its model) or kept."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from botocore.stub import Stubber
from moto import mock_aws

from nova_pipeline.contract.run_state import EvaluationResult, RunState
from nova_pipeline.promotion.record import ActiveModelRecord
from nova_pipeline.promotion.service import promote_candidate, reject_candidate
from nova_pipeline.promotion.store import ACTIVE_MODEL_CHANGED, promote

MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"


def gated(**parts: object) -> RunState:
    return RunState.model_validate(
        {
            "execution": {"name": "e", "arn": "arn:aws:states:us-east-1:123456789012:execution:sm:e"},
            "input": {"dataset": {"uri": "raw/x.csv"}},
            "job": {"platform": "bedrock", "jobArn": "arn:j", "jobName": "j", "done": True, "outputModelArn": MODEL},
            "deployment": {"deploymentArn": DEPLOYMENT, "deploymentName": "d", "modelArn": MODEL},
            **parts,
        }
    )


FAILED = EvaluationResult(verdict="rejected", failed=["accuracy 0.4000 < minimum 0.5000"])


def test_a_gate_rejection_deletes_the_deployment_then_the_model_and_says_why() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(bedrock) as stub:
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT})
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL})

        result = reject_candidate(gated(), FAILED, delete_rejected=True, bedrock=bedrock)

        stub.assert_no_pending_responses()
    assert result == {
        "promoted": False,
        "reason": "quality gate: accuracy 0.4000 < minimum 0.5000",
        "deletedDeployment": True,
        "deletedModel": MODEL,
        "actions": [f"deleted custom model {MODEL}"],
    }


def test_a_refused_promotion_keeps_its_reason() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    refused = {"promoted": False, "reason": "active model changed during evaluation"}
    with Stubber(bedrock) as stub:
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT})
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL})
        passed = EvaluationResult(verdict="promoted")

        result = reject_candidate(gated(promotion=refused), passed, delete_rejected=True, bedrock=bedrock)

    assert result["reason"] == "active model changed during evaluation"


def test_an_environment_that_keeps_rejected_deployments_keeps_their_model_too() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(bedrock):  # no request at all
        result = reject_candidate(gated(), FAILED, delete_rejected=False, bedrock=bedrock)

    assert (result["deletedDeployment"], result["deletedModel"]) == (False, None)
    assert result["actions"] == [
        "kept the deployment and its custom model (evaluation.deleteRejectedDeployment is false)"
    ]


STAGE_MODELS = [f"arn:aws:bedrock:us-east-1:123456789012:custom-model/m{n}" for n in (1, 2)]
STAGE_DEPLOYMENTS = [f"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/d{n}" for n in (1, 2)]


def _stage(index: int, *, active_version: int = 0) -> dict[str, object]:
    return {
        "index": index,
        "method": "sft",
        "modelArn": STAGE_MODELS[index],
        "deploymentArn": STAGE_DEPLOYMENTS[index],
        "deploymentName": f"d{index + 1}",
        "verdict": "rejected",
        "activeVersion": active_version,
    }


def two_stages(cleanup: dict[str, bool] | None = None) -> tuple[RunState, EvaluationResult]:
    """A rejected two-stage run whose chosen stage is the first: $.job is still the second stage's job."""
    evaluation = {"verdict": "rejected", "failed": ["x"], "stages": [_stage(0), _stage(1)], "chosen": _stage(0)}
    state = gated(
        input={
            "dataset": {"uri": "raw/x.csv"},
            "stages": [{"method": "sft"}, {"method": "sft"}],
            "cleanup": cleanup or {},
        },
        job={
            "platform": "bedrock",
            "jobArn": "arn:j2",
            "jobName": "j2",
            "done": True,
            "outputModelArn": STAGE_MODELS[1],
        },
        deployment={"deploymentArn": STAGE_DEPLOYMENTS[0], "deploymentName": "d1", "modelArn": STAGE_MODELS[0]},
        evaluation=evaluation,
    )
    assert state.evaluation is not None
    return state, state.evaluation


def test_a_rejected_two_stage_run_deletes_every_stage_deployment_and_model() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    state, evaluation = two_stages()
    with Stubber(bedrock) as stub:
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": STAGE_DEPLOYMENTS[0]}
        )
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": STAGE_MODELS[0]})
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": STAGE_DEPLOYMENTS[1]}
        )
        stub.add_response("delete_custom_model", {}, {"modelIdentifier": STAGE_MODELS[1]})

        result = reject_candidate(state, evaluation, delete_rejected=True, bedrock=bedrock)

        stub.assert_no_pending_responses()
    assert (result["deletedDeployment"], result["deletedModel"]) == (True, STAGE_MODELS[0])
    assert result["discardedStages"] == [
        "deleted deployment d2 (stage 2)",
        f"deleted custom model {STAGE_MODELS[1]} (stage 2)",
    ]


def test_a_rejected_two_stage_run_keeps_every_stage_model_when_the_input_says_so() -> None:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    state, evaluation = two_stages({"keepRejectedModel": True})
    with Stubber(bedrock) as stub:  # the deployments go; DeleteCustomModel is never called
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": STAGE_DEPLOYMENTS[0]}
        )
        stub.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": STAGE_DEPLOYMENTS[1]}
        )

        result = reject_candidate(state, evaluation, delete_rejected=True, bedrock=bedrock)

        stub.assert_no_pending_responses()
    assert result["deletedModel"] is None
    assert result["actions"] == [f"kept custom model {STAGE_MODELS[0]} (cleanup.keepRejectedModel)"]
    assert result["discardedStages"] == [
        "deleted deployment d2 (stage 2)",
        f"kept custom model {STAGE_MODELS[1]} (stage 2, cleanup.keepRejectedModel)",
    ]


def test_a_chosen_stage_compared_with_a_replaced_record_is_not_promoted_and_nothing_is_discarded() -> None:
    # Given: the chosen stage was compared with "no active model"; another execution promoted meanwhile
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        other = ActiveModelRecord(
            deployment_arn=DEPLOYMENT,
            custom_model_arn=MODEL,
            base_model="nova-micro",
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:sm:other",
            promoted_at=datetime.now(UTC),
        )
        promote(ssm, "dev", other, None, expected_version=0, writer=other.execution_arn)
        state, evaluation = two_stages()
        passed = evaluation.model_copy(
            update={"verdict": "promoted", "primary_metric": "accuracy", "candidate": 0.9, "active_version": 0}
        )
        bedrock = boto3.client("bedrock", region_name="us-east-1")
        with Stubber(bedrock):  # no request: RejectCandidate discards the stages
            result = promote_candidate(state, passed, environment="dev", kms_key_arn=None, ssm=ssm, bedrock=bedrock)

    assert (result["promoted"], result["reason"]) == (False, ACTIVE_MODEL_CHANGED)
    assert "discardedStages" not in result
