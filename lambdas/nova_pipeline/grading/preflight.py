"""The reward function's pre-flight check: before an RFT job starts, the *deployed* grader is invoked on samples of
the prepared training set (the reference answer as a perfect candidate, and an empty one); the job is not started
if the grader errors or scores outside [0, 1].
"""

from __future__ import annotations

import json
from typing import Any

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.grading.rewards import check_grader_output

SAMPLE_RECORDS = 8
SAMPLE_BYTES = 262_144


class GraderPreflightFailed(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """The reward function failed its check: the RFT job is not started."""


def preflight_samples(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two samples per record, in exactly the shape Bedrock and SageMaker send (see `grading.rewards`): the record's
    own fields at the top level, a sample `id`, and `messages` = the record's prompt with a generated assistant turn
    (string content) appended: its reference answer, then an empty answer."""
    samples = []
    for index, record in enumerate(records):
        fields = {key: value for key, value in record.items() if key not in ("id", "messages")}
        prompt = [m for m in record.get("messages", []) if m.get("role") in ("system", "user")]
        for variant, answer in (("reference", answer_text(record.get("reference_answer", ""))), ("empty", "")):
            samples.append(
                {
                    **fields,
                    "id": f"{record.get('id', index)}-{variant}",
                    "messages": [*prompt, {"role": "assistant", "content": answer}],
                }
            )
    return samples


def answer_text(reference: Any) -> str:
    """A reference answer as the text a model would generate (structured references as JSON)."""
    return reference if isinstance(reference, str) else json.dumps(reference)


def check_grader(state: RunState, *, grader_arn: str, s3: Any, lambda_client: Any) -> dict[str, Any]:
    """Invoke the grader on samples of the training file; raise `GraderPreflightFailed` with the reason."""
    assert state.data is not None, "PreflightGrader runs after PrepareData"
    bucket, key = split_s3(state.data.train.uri)
    with aws_call("s3", "GetObject"):
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
    lines = body.decode("utf-8", errors="ignore").splitlines()
    records = [json.loads(line) for line in lines[:SAMPLE_RECORDS] if line.strip().endswith("}")]
    samples = preflight_samples(records)
    with aws_call("lambda", "Invoke"):
        response = lambda_client.invoke(FunctionName=grader_arn, Payload=json.dumps(samples).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        raise GraderPreflightFailed(f"the reward function failed on {len(samples)} samples: {message}")
    problems = check_grader_output(samples, payload)
    if problems:
        raise GraderPreflightFailed("the reward function's output is invalid: " + "; ".join(problems[:10]))
    scores = {result["id"]: result["aggregate_reward_score"] for result in payload}
    reference_mean = sum(v for k, v in scores.items() if k.endswith("-reference")) / max(1, len(records))
    return {"samples": len(samples), "referenceMeanScore": reference_mean, "ok": True}
