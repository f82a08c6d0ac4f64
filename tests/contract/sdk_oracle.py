"""Offline oracle: the CreateTrainingJob request the official SageMaker Python SDK v3 (sagemaker 3.27.0) sends for a
Nova recipe, through `ModelTrainer.from_recipe(...).train(wait=False)`.

Every AWS call is answered inside botocore (`BaseClient._make_api_call`, after botocore validated the parameters against
the service model), with fake credentials and no telemetry, so it runs with sockets disabled. Adapted from the research
oracle in /work/notes/sdk/oracle.py; see /work/notes/sdk/FINDINGS.md for the calls the SDK makes and why.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import importlib.util
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/NovaCustomizationRole"
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "HTTP_PROXY": "http://127.0.0.1:9",  # anything that slipped past the interceptor fails at once
    "HTTPS_PROXY": "http://127.0.0.1:9",
}


class UnexpectedCallError(RuntimeError):
    """The SDK called an AWS operation the oracle has no answer for."""


@dataclass
class Capture:
    region: str
    create_training_job: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, str] = field(default_factory=dict)  # s3://bucket/key -> body
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def answer(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        if (service, operation) == ("sts", "GetCallerIdentity"):
            return {"UserId": "AIDATESTING", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/testing"}
        if (service, operation) == ("iam", "SimulatePrincipalPolicy"):  # role checks: everything allowed
            return {
                "IsTruncated": False,
                "EvaluationResults": [
                    {"EvalActionName": action, "EvalDecision": "allowed"} for action in params["ActionNames"]
                ],
            }
        if (service, operation) == ("iam", "GetRole"):  # a role SageMaker may assume
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            name = params["RoleName"]
            return {
                "Role": {
                    "Path": "/",
                    "RoleName": name,
                    "RoleId": "AROATESTING",
                    "CreateDate": now,
                    "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                    "AssumeRolePolicyDocument": json.dumps(trust),
                }
            }
        if service == "s3" and operation in ("HeadBucket", "CreateBucket"):
            return {}
        if (service, operation) == ("s3", "ListBuckets"):
            return {"Buckets": [{"Name": f"sagemaker-{self.region}-{ACCOUNT}", "CreationDate": now}]}
        if (service, operation) == ("s3", "PutObject"):
            body = params.get("Body")
            data = body if isinstance(body, bytes | str) else body.read()  # type: ignore[union-attr]
            text = data.decode() if isinstance(data, bytes) else data
            self.uploads[f"s3://{params['Bucket']}/{params['Key']}"] = text
            return {"ETag": '"0123456789abcdef0123456789abcdef"'}
        if (service, operation) == ("sagemaker", "CreateTrainingJob"):
            self.create_training_job.append(copy.deepcopy(params))
            arn = f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:training-job/{params['TrainingJobName']}"
            self.jobs[params["TrainingJobName"]] = {**params, "TrainingJobArn": arn}
            return {"TrainingJobArn": arn}
        if (service, operation) == ("sagemaker", "DescribeTrainingJob"):  # TrainingJob.create re-reads the job
            job = {k: v for k, v in self.jobs[params["TrainingJobName"]].items() if k != "Tags"}
            return {**job, "TrainingJobStatus": "InProgress", "CreationTime": now, "LastModifiedTime": now}
        raise UnexpectedCallError(f"no answer for {service}.{operation}")


@contextmanager
def offline_aws(region: str) -> Iterator[Capture]:
    """Fake credentials in the environment and every botocore call answered by a `Capture`; both restored after."""
    import botocore.client
    import botocore.validate

    capture = Capture(region)
    validator = botocore.validate.ParamValidator()
    original = botocore.client.BaseClient._make_api_call

    def intercept(client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        model = client.meta.service_model.operation_model(operation)
        report = validator.validate(params, model.input_shape)
        if report.has_errors():
            raise AssertionError(f"SDK sent invalid {operation}: {report.generate_report()}")
        return capture.answer(client.meta.service_model.service_name, operation, params)

    environment = {**_ENVIRONMENT, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    saved = {name: os.environ.get(name) for name in [*environment, "AWS_PROFILE"]}
    os.environ.update(environment)
    os.environ.pop("AWS_PROFILE", None)
    botocore.client.BaseClient._make_api_call = intercept  # type: ignore[method-assign]
    try:
        yield capture
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_SDK: dict[str, ModuleType] = {}


def _sdk() -> dict[str, ModuleType]:
    """Import the SDK once (about 3.5 s) and switch its telemetry off."""
    if not _SDK:
        with offline_aws("us-east-1"):
            for name in (
                "boto3",
                "sagemaker.core.helper.session_helper",
                "sagemaker.core.shapes",
                "sagemaker.core.telemetry.telemetry_logging",
                "sagemaker.train",
                "sagemaker.core.training.configs",
                "sagemaker.train.common_utils.finetune_utils",
            ):
                _SDK[name] = importlib.import_module(name)
        telemetry = _SDK["sagemaker.core.telemetry.telemetry_logging"]
        for name in ("_send_telemetry_request", "_send_telemetry_request_sync"):
            if hasattr(telemetry, name):
                setattr(telemetry, name, lambda *args, **kwargs: None)
    return _SDK


def sdk_s3_data_type(model_name: str, technique: str) -> str:
    """The data channels' S3DataType the SDK's trainers choose (sagemaker/train/base_trainer.py, serverful path)."""
    is_nova = _sdk()["sagemaker.train.common_utils.finetune_utils"]._is_nova_model(model_name)
    return "Converse" if is_nova and technique not in ("RLVR", "RLAIF") else "S3Prefix"


@dataclass(frozen=True)
class SdkRequest:
    create_training_job: dict[str, Any]
    recipe_upload: str  # the recipe YAML the SDK uploaded as its `recipe` channel


def create_training_job(
    recipe_file: Path,
    *,
    region: str,
    image: str,
    instance_type: str,
    channels: list[tuple[str, str, str]],
    role_arn: str = ROLE_ARN,
) -> SdkRequest:
    """What `ModelTrainer.from_recipe(recipe_file, ...)` sends; channels are (name, s3 uri, S3DataType)."""
    sdk = _sdk()
    shapes, configs = sdk["sagemaker.core.shapes"], sdk["sagemaker.core.training.configs"]
    with offline_aws(region) as capture:
        session = sdk["sagemaker.core.helper.session_helper"].Session(
            boto_session=sdk["boto3"].Session(region_name=region)
        )
        trainer = sdk["sagemaker.train"].ModelTrainer.from_recipe(
            training_recipe=str(recipe_file),
            compute=configs.Compute(instance_type=instance_type),  # the count comes from run.replicas
            training_image=image,
            input_data_config=[
                configs.InputData(
                    channel_name=name,
                    data_source=shapes.S3DataSource(
                        s3_uri=uri, s3_data_type=data_type, s3_data_distribution_type="FullyReplicated"
                    ),
                )
                for name, uri, data_type in channels
            ],
            sagemaker_session=session,
            role=role_arn,
            base_job_name="oracle",
        )
        trainer.train(wait=False, logs=False)
    [request] = capture.create_training_job
    recipe_channel = next(c for c in request["InputDataConfig"] if c["ChannelName"] == "recipe")
    return SdkRequest(request, capture.uploads[recipe_channel["DataSource"]["S3DataSource"]["S3Uri"]])
