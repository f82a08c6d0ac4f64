"""Reading an evaluation job's metrics and polling the jobs: reported, never failing the run."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from nova_pipeline.contract.run_state import SageMakerEvaluationJob, SageMakerEvaluationState
from nova_pipeline.core.errors import AwsRequestFailed
from nova_pipeline.jobs.sagemaker_evaluation import metrics_from_output, poll_sagemaker_evaluation


def _archive(members: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            body = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_the_all_key_of_a_benchmark_is_read() -> None:
    archive = _archive(
        {"eval-result/results_2026-01-01.json": {"results": {"all": {"accuracy": 0.61, "accuracy_stderr": 0.02}}}}
    )

    assert metrics_from_output(archive, "s3://a/out.tar.gz") == ({"accuracy": 0.61, "accuracy_stderr": 0.02}, False)


def test_gen_qa_metrics_come_from_its_task_key_numbers_only() -> None:
    results = {"results": {"custom|gen_qa_gen_qa|0": {"rouge1": 0.5, "bleu": 12, "note": "text"}}, "simulated": True}

    assert metrics_from_output(_archive({"results_x.json": results}), "src") == ({"rouge1": 0.5, "bleu": 12.0}, True)


def test_an_output_without_results_names_the_source() -> None:
    with pytest.raises(AwsRequestFailed, match=r"s3://a/out.tar.gz has no results_\*.json"):
        metrics_from_output(_archive({"manifest.json": {}}), "s3://a/out.tar.gz")


def _job(task: str, status: str = "InProgress") -> SageMakerEvaluationJob:
    return SageMakerEvaluationJob(
        task=task,
        job_name=f"nova-dev-run-eval-{task}-0123456789",
        job_arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/nova-dev-run-eval-{task}-0123456789",
        output_uri=f"s3://artifacts/jobs/nova-dev-run-eval-{task}-0123456789/output/output.tar.gz",
        status=status,
    )


def test_a_failed_job_is_reported_and_the_step_still_succeeds() -> None:
    sagemaker, s3 = boto3.client("sagemaker", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    state = SageMakerEvaluationState(model_path="s3://escrow/ckpt/", jobs=[_job("mmlu"), _job("bbh")])
    archive = _archive({"results_1.json": {"results": {"all": {"accuracy": 0.7}}}})
    with Stubber(sagemaker) as sm, Stubber(s3) as s3_stub:
        sm.add_response(
            "describe_training_job",
            _described("mmlu", "Completed"),
            {"TrainingJobName": state.jobs[0].job_name},
        )
        s3_stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(archive), len(archive))},
            {"Bucket": "artifacts", "Key": "jobs/nova-dev-run-eval-mmlu-0123456789/output/output.tar.gz"},
        )
        sm.add_response(
            "describe_training_job",
            _described("bbh", "Failed", "AlgorithmError: out of memory"),
            {"TrainingJobName": state.jobs[1].job_name},
        )
        polled = poll_sagemaker_evaluation(sagemaker, s3, state, wait_seconds=30)

        assert (polled.done, polled.succeeded, polled.wait_seconds) == (True, True, 30)
        mmlu, bbh = polled.jobs
        assert (mmlu.status, mmlu.metrics) == ("Completed", {"accuracy": 0.7})
        assert (bbh.status, bbh.failure_message, bbh.metrics) == ("Failed", "AlgorithmError: out of memory", None)
        # ended jobs are not described again
        assert poll_sagemaker_evaluation(sagemaker, s3, polled, wait_seconds=30).jobs == polled.jobs


def test_a_running_job_keeps_the_loop_going() -> None:
    sagemaker, s3 = boto3.client("sagemaker", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    state = SageMakerEvaluationState(model_path="s3://escrow/ckpt/", jobs=[_job("mmlu")])
    with Stubber(sagemaker) as sm:
        sm.add_response("describe_training_job", _described("mmlu", "InProgress"))
        polled = poll_sagemaker_evaluation(sagemaker, s3, state, wait_seconds=30)

    assert polled.done is False and polled.jobs[0].status == "InProgress"


def _described(task: str, status: str, reason: str | None = None) -> dict[str, Any]:
    import datetime as dt

    response: dict[str, Any] = {
        "TrainingJobName": f"nova-dev-run-eval-{task}-0123456789",
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/nova-dev-run-eval-{task}-0123456789",
        "TrainingJobStatus": status,
        "SecondaryStatus": "Completed" if status == "Completed" else "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "img"},
        "ResourceConfig": {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 1, "VolumeSizeInGB": 200},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "ModelArtifacts": {"S3ModelArtifacts": "s3://artifacts/jobs/x/output/model.tar.gz"},
    }
    if reason:
        response["FailureReason"] = reason
    return response
