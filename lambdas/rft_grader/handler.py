"""RFT reward function (called by Bedrock during RFT) and its pre-flight check (called by the state machine).

`lambda_handler` implements the grader contract; `preflight_handler` invokes the *deployed* grader on samples of
the prepared training set (the reference answer as a perfect candidate, and an empty one) and refuses to start the
RFT job if the grader errors or scores outside [0, 1].
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.grading.rewards import check_grader_output, score_samples

SAMPLE_RECORDS = 8


class GraderPreflightFailed(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """The reward function failed its check: the RFT job is not started."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: list[dict[str, Any]], context: LambdaContext) -> list[dict[str, Any]]:
    results = score_samples(event)
    metrics.add_metric(name="RewardsScored", unit="Count", value=len(results))
    return results


def _samples(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    samples = []
    for index, record in enumerate(records):
        reference = record.get("reference_answer", "")
        metadata = {key: value for key, value in record.items() if key != "messages"}
        prompt = [m for m in record.get("messages", []) if m.get("role") in ("system", "user")]
        for variant, answer in (("reference", reference), ("empty", "")):
            samples.append(
                {
                    "id": f"{record.get('id', index)}-{variant}",
                    "messages": [*prompt, {"role": "assistant", "content": str(answer)}],
                    "metadata": metadata,
                }
            )
    return samples


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def preflight_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    assert state.data is not None, "PreflightGrader runs after PrepareData"
    bucket, key = split_s3(state.data.train.uri)
    with aws_call("s3", "GetObject"):
        body = client("s3").get_object(Bucket=bucket, Key=key, Range="bytes=0-262143")["Body"].read()
    lines = body.decode("utf-8", errors="ignore").splitlines()
    records = [json.loads(line) for line in lines[:SAMPLE_RECORDS] if line.strip().endswith("}")]
    samples = _samples(records)
    with aws_call("lambda", "Invoke"):
        response = client("lambda").invoke(
            FunctionName=function_settings().require("grader_function_arn"),
            Payload=json.dumps(samples).encode(),
        )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        raise GraderPreflightFailed(f"the reward function failed on {len(samples)} samples: {message}")
    problems = check_grader_output(samples, payload)
    if problems:
        raise GraderPreflightFailed("the reward function's output is invalid: " + "; ".join(problems[:10]))
    scores = {result["id"]: result["aggregate_reward_score"] for result in payload}
    reference_mean = sum(v for k, v in scores.items() if k.endswith("-reference")) / max(1, len(records))
    logger.info("Reward function checked", extra={"samples": len(samples), "referenceMean": reference_mean})
    return {"samples": len(samples), "referenceMeanScore": reference_mean, "ok": True}
