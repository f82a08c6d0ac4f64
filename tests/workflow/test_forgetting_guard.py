"""The forgetting guard through the offline twin: a general set answered by candidate and base model beside the test
split, its figures in the report, and a candidate better on the task but worse on the general set rejected."""

from __future__ import annotations

import json
from typing import Any

import boto3

from nova_pipeline.evaluation.general import builtin_jsonl
from tests.workflow.conftest import example


def _report(result: Any) -> dict[str, Any]:
    bucket, _, key = result.output["evaluation"]["reportUri"].removeprefix("s3://").partition("/")
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def test_better_on_the_task_worse_on_the_general_set_is_rejected(offline_twin: Any) -> None:
    document = example("sft-classification-nova-micro.json")
    document["evaluation"] = {**document.get("evaluation", {}), "general": {"uri": "builtin:general-v1", "maxRows": 40}}
    document["gate"] = {**document.get("gate", {}), "maxGeneralRegression": 0.05}
    with offline_twin() as twin:
        result = twin.run(document)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        evaluation = result.output["evaluation"]
        assert evaluation["candidate"] > evaluation["baseline"]  # better on the task...
        assert evaluation["verdict"] == "rejected"  # ...but it forgot
        [reason] = [r for r in evaluation["failed"] if r.startswith("general-set accuracy")]
        assert reason == "general-set accuracy fell +1.0000 from the base model's 1.0000 to 0.0000 > maximum 0.0500"
        report = _report(result)
        general = report["general"]
        assert (general["set"], general["baseModel"]) == ("builtin:general-v1", "us.amazon.nova-micro-v1:0")
        assert general["candidate"]["rows"] == general["base"]["rows"] == 40
        # The general questions are asked without the task's prompt, of the candidate and of the base model; the
        # task's metrics are over the test split only
        calls = [p for _, o, p in twin.simulator.calls if o == "ConverseStream"]
        general_calls = [p for p in calls if "letter of the correct choice" in str(p)]
        assert len(general_calls) == 80 and all("system" not in p for p in general_calls)
        assert report["candidate"]["rows"] == (len(calls) - 80) // 2
        assert {p["modelId"] for p in general_calls} == {result.output["deploymentArn"], "us.amazon.nova-micro-v1:0"}


def test_a_general_set_in_the_data_bucket_is_checked_before_any_job(offline_twin: Any) -> None:
    with offline_twin() as twin:
        s3 = boto3.client("s3", region_name="us-east-1")
        lines = builtin_jsonl().splitlines()
        lines[2] = json.dumps({"question": "Which?", "choices": ["a", "b"], "answer": 5})
        s3.put_object(Bucket=twin.data_bucket, Key="raw/general/bad.jsonl", Body="\n".join(lines).encode())
        document = example("sft-classification-nova-micro.json")
        document["evaluation"] = {**document.get("evaluation", {}), "general": {"uri": "raw/general/bad.jsonl"}}

        result = twin.run(document)

        assert result.status == "FAILED" and result.error == "InvalidGeneralSet"
        assert "general/bad.jsonl line 3" in (result.cause or "")
        assert "answer: 5 is not one of the 2 choices" in (result.cause or "")
        assert not [c for c in twin.simulator.calls if c[1] in ("CreateModelCustomizationJob", "CreateTrainingJob")]
