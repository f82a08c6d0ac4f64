"""RejectCandidate: the reason a user reads, and what is deleted (deployment, then its custom model) or kept."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from nova_pipeline.contract.run_state import EvaluationResult, RunState
from nova_pipeline.promotion.service import reject_candidate

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
