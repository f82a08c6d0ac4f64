"""Environment scope in the offline twin: when dev and prod share an account, dev's Cleanup cannot stop prod's job and
dev's inference API cannot invoke prod's deployment; IAM refuses them on the resources' `environment` tag."""

from __future__ import annotations

import json
from typing import Any

import boto3

from nova_pipeline.local.twin import OfflineTwin

ACCOUNT = "123456789012"


def _tags(environment: str) -> list[dict[str, str]]:
    return [
        {"key": "project", "value": "nova-customization"},
        {"key": "environment", "value": environment},
        {"key": "run", "value": "shared"},
        {"key": "execution", "value": f"{environment}-exec"},
    ]


def _start_job(twin: OfflineTwin, environment: str) -> tuple[str, str]:
    """A running customization job of `environment` (created as the operator, outside the pipeline)."""
    [role] = [arn for arn, trust in twin.authorizer.book.trust.items() if "bedrock.amazonaws" in json.dumps(trust)]  # type: ignore[union-attr]
    name = f"nova-{environment}-shared-job-0123456789"
    arn = boto3.client("bedrock", region_name="us-east-1").create_model_customization_job(
        jobName=name,
        customModelName=f"nova-{environment}-shared-model-0123456789",
        roleArn=role,
        baseModelIdentifier="amazon.nova-micro-v1:0:128k",
        trainingDataConfig={"s3Uri": f"s3://{twin.data_bucket}/prepared/x/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{twin.data_bucket}/jobs/"},
        jobTags=_tags(environment),
        customModelTags=_tags(environment),
    )["jobArn"]
    return name, arn


def _cleanup(twin: OfflineTwin, job_name: str, job_arn: str) -> dict[str, Any]:
    """Invoke dev's Cleanup function, as the state machine does, for a run whose job is `job_arn`."""
    [function] = [f for f in twin.dispatcher.functions.values() if f.handler_dir.name == "cleanup"][:1]
    state = {
        "execution": {"name": "dev-exec", "arn": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:sm:dev-exec"},
        "job": {"platform": "bedrock", "jobArn": job_arn, "jobName": job_name, "status": "InProgress"},
        "error": {"Error": "InjectedFailure", "Cause": "boom"},
    }
    response = twin.dispatcher.invoke(function.arn, json.dumps(state).encode())
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    return payload


def test_devs_cleanup_is_refused_on_prods_job_and_stops_its_own(offline_twin: Any) -> None:
    with offline_twin(job_seconds=300) as twin:
        # Given: a running job of each environment in the shared account
        prod_name, prod_job = _start_job(twin, "prod")
        dev_name, dev_job = _start_job(twin, "dev")

        # When: dev's Cleanup is pointed at prod's job (a state naming it), then at its own
        refused = _cleanup(twin, prod_name, prod_job)
        stopped = _cleanup(twin, dev_name, dev_job)

        # Then: IAM refuses the stop on prod's job, which keeps running; dev's own job is stopped
        assert "AccessDeniedException" in refused["errorMessage"]
        assert "not authorized to perform: bedrock:StopModelCustomizationJob" in refused["errorMessage"]
        assert twin.simulator.jobs[prod_job].status == "InProgress"
        assert stopped["stoppedJob"] == dev_job
        assert twin.simulator.jobs[dev_job].status == "Stopped"


def _deployment(twin: OfflineTwin, environment: str) -> str:
    """An active on-demand deployment of `environment` in the shared account (its model answers as trained)."""
    from nova_pipeline.local.simulated_model import CustomizedModel
    from nova_pipeline.local.simulator import _Deployment, _Model

    simulator = twin.simulator
    model_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/imported/{environment}0000000"
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/{environment}0000000"
    tags = {tag["key"]: tag["value"] for tag in _tags(environment)}
    simulator.models[model_arn] = _Model(model_arn, f"{environment}-model", 0.0, CustomizedModel([]), "t", tags=tags)
    simulator.deployments[arn] = _Deployment(arn, f"{environment}-deployment", model_arn, 0.0, None, tags=tags)
    simulator._register_tags(tags, arn)
    return arn


def test_devs_api_cannot_invoke_prods_deployment(offline_twin: Any) -> None:
    from datetime import UTC, datetime

    from nova_pipeline.inference import api as inference_api
    from nova_pipeline.promotion.record import ActiveModelRecord
    from nova_pipeline.promotion.store import promote

    with offline_twin() as twin:
        ssm = boto3.client("ssm", region_name="us-east-1")
        answers = {}
        for environment in ("prod", "dev"):
            # Given: dev's active-model record names a deployment of `environment`
            deployment = _deployment(twin, environment)
            record = ActiveModelRecord(
                deployment_arn=deployment, custom_model_arn="m", base_model="nova-micro", promoted_at=datetime.now(UTC)
            )
            promote(ssm, "dev", record, None)
            inference_api._provider.cache_clear()  # the API caches the record for 30 s
            # When: dev's API serves a request
            answers[environment] = twin.invoke_api("POST", "/v1/generate", {"input": "hello"})

        # Then: IAM refused prod's deployment to dev's API role; dev's own is served
        assert answers["prod"]["statusCode"] >= 400
        denied = [d for d in twin.authorizer.decisions if not d.granted_by]  # type: ignore[union-attr]
        assert {(d.need.action, d.need.resource) for d in denied} == {("bedrock:InvokeModel", _arn("prod"))}
        assert answers["dev"]["statusCode"] == 200, answers["dev"]


def _arn(environment: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/{environment}0000000"
