"""The simulated RFT job calls the grader Lambda as Bedrock does, and fails when the grader breaks the contract."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nova_pipeline.grading.rewards import grade, grader_for, score_samples
from nova_pipeline.local.simulator import BedrockSimulator, SimulatorSettings
from tests.unit.prepare.conftest import run_prepare

ROOT = Path(__file__).resolve().parents[3]
BUCKET = "data"
GRADER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:RftGrader"
Grader = Callable[[list[dict[str, Any]]], Any]


@pytest.fixture(scope="module")
def train_jsonl(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The training file `prepare --method rft` writes for the shipped text-to-SQL example."""
    example = json.loads((ROOT / "examples" / "rft-text-to-sql-nova-2-lite.json").read_text())
    output = tmp_path_factory.mktemp("rft")
    run_prepare(
        ROOT / "examples" / "data" / "text-to-sql" / "train.csv",
        output,
        **{key: value for key, value in example.items() if key not in ("dataset", "runName")},
        dataset={"uri": "unused", "format": "csv", "columns": example["dataset"]["columns"]},
    )
    return (output / "train.jsonl").read_bytes()


class FakeLambda:
    """lambda:Invoke answered by `grader` (an exception becomes a FunctionError, as Lambda reports it)."""

    def __init__(self, grader: Grader) -> None:
        self.grader, self.events = grader, []  # type: list[Any]

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        assert FunctionName == GRADER_ARN
        event = json.loads(Payload)
        self.events.append(event)
        try:
            body, error = self.grader(event), False
        except Exception as failure:  # reported as Lambda reports it
            body, error = {"errorMessage": str(failure), "errorType": type(failure).__name__}, True
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}
        if error:
            response["FunctionError"] = "Unhandled"
        return response


@pytest.fixture
def run_job(train_jsonl: bytes) -> Iterator[Callable[[Grader], tuple[dict[str, Any], BedrockSimulator, FakeLambda]]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="prepared/e/train.jsonl", Body=train_jsonl)

        def run(grader: Grader) -> tuple[dict[str, Any], BedrockSimulator, FakeLambda]:
            now = [0.0]
            fake = FakeLambda(grader)
            simulator = BedrockSimulator(
                SimulatorSettings(job_seconds=1.0, rft_prompts=10, rft_batch_size=8),
                s3_client=lambda: s3,
                lambda_client=lambda: fake,
                clock=lambda: now[0],
            )
            arn = simulator.handle("bedrock", "CreateModelCustomizationJob", rft_request())["jobArn"]
            running = simulator.handle("bedrock", "GetModelCustomizationJob", {"jobIdentifier": arn})
            assert running["status"] == "InProgress" and fake.events == []
            now[0] = 5.0
            return simulator.handle("bedrock", "GetModelCustomizationJob", {"jobIdentifier": arn}), simulator, fake

        yield run


def rft_request() -> dict[str, Any]:
    return {
        "jobName": "nova-dev-sql-rft-job",
        "customModelName": "nova-dev-sql-rft-model",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "baseModelIdentifier": "amazon.nova-2-lite-v1:0:256k",
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/prepared/e/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/jobs/"},
        "customizationConfig": {
            "rftConfig": {"graderConfig": {"lambdaGrader": {"lambdaArn": GRADER_ARN}}, "hyperParameters": {}}
        },
    }


def test_the_grader_gets_batches_in_the_documented_shape_and_the_reward_is_recorded(run_job: Any) -> None:
    job, simulator, grader = run_job(score_samples)

    assert job["status"] == "Completed", job.get("failureMessage")
    assert [len(batch) for batch in grader.events] == [8, 8, 4]  # 10 prompts x 2 rollouts, batches of 8
    sample = grader.events[0][1]
    assert {"id", "messages", "reference_answer", "task", "grader", "context"} <= set(sample)
    assert "metadata" not in sample
    assert [m["role"] for m in sample["messages"]] == ["system", "user", "assistant"]
    assert isinstance(sample["messages"][-1]["content"], str)
    [record] = simulator.jobs.values()
    assert record.rewards["trained"] == 1.0 and record.rewards["base"] < 1.0
    s3 = boto3.client("s3", region_name="us-east-1")
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"] if "step_wise" in o["Key"]]
    curve = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    assert curve[0] == "step_number,epoch_number,training_loss,mean_reward"
    assert curve[-1].endswith(",1.0000")


def test_a_grader_that_reads_only_metadata_fails_the_job(run_job: Any) -> None:
    def metadata_only(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The grader as it was: record fields read from `metadata` only (absent in what Bedrock sends)."""
        results = []
        for sample in samples:
            metadata = sample.get("metadata") or {}
            answer = sample["messages"][-1]["content"]
            score = grade(grader_for(metadata), answer, metadata.get("reference_answer", ""), metadata)
            results.append({"id": sample["id"], "aggregate_reward_score": score})
        return results

    job, simulator, _ = run_job(metadata_only)

    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith(f"The reward function {GRADER_ARN} scored 0 for all 10 generated answers")
    assert "reference_answer" in job["failureMessage"] and "outputModelArn" not in job
    assert simulator.models == {}


def test_a_grader_that_errors_fails_the_job_with_its_error(run_job: Any) -> None:
    def strict_metadata(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"id": s["id"], "aggregate_reward_score": float(s["metadata"]["reference_answer"] == "")} for s in samples
        ]

    job, _, grader = run_job(strict_metadata)

    assert job["status"] == "Failed"
    assert job["failureMessage"] == (
        f"The reward function {GRADER_ARN} failed on a batch of 8 samples: KeyError: 'metadata'"
    )
    assert len(grader.events) == 1


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (lambda samples: {"results": []}, "returned an invalid response: the grader returned dict, expected a list"),
        (
            lambda samples: [{"id": s["id"], "aggregate_reward_score": 7} for s in samples],
            "returned an invalid response: result 0 (sample-0-base): aggregate_reward_score 7 is not in [0, 1]",
        ),
        (
            lambda samples: [
                {"id": s["id"], "aggregate_reward_score": 1, "metrics_list": [{"name": "x", "value": 1, "type": "R"}]}
                for s in samples
            ],
            "returned an invalid response: result 0 (sample-0-base): metrics_list[0].type 'R' is not 'Reward' or",
        ),
    ],
)
def test_an_invalid_grader_response_fails_the_job(run_job: Any, answer: Grader, problem: str) -> None:
    job, _, _ = run_job(answer)

    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith(f"The reward function {GRADER_ARN} {problem}")


def test_the_reported_training_loss_is_the_last_point_of_the_curve(run_job: Any) -> None:
    job, _, _ = run_job(score_samples)

    s3 = boto3.client("s3", region_name="us-east-1")
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"] if "step_wise" in o["Key"]]
    last = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()[-1].split(",")
    assert job["trainingMetrics"] == {"trainingLoss": float(last[2])}
    assert "validationMetrics" not in job  # the job was given no validation set
