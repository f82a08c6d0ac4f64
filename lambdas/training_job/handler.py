"""SageMaker training path: StartTrainingJob (recipe merged and uploaded), PollTrainingJob, ImportModel
(CreateCustomModel from the job's checkpoint manifest) and PollImportedModel.
"""

from __future__ import annotations

from typing import Any

import yaml
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core import layout
from nova_pipeline.core.clients import client
from nova_pipeline.core.errors import aws_call
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.s3 import split_s3
from nova_pipeline.core.settings import function_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs import bedrock, training
from nova_pipeline.jobs.naming import client_request_token, resource_name


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunState)
def start_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    run, data = state.input, state.data
    assert run is not None and data is not None, "StartTrainingJob runs after PrepareData"
    recipe_source = run.sagemaker.recipe or training.DEFAULT_RECIPES[(run.base_model or "", run.method)]
    if recipe_source.startswith("s3://"):
        bucket, key = split_s3(recipe_source)
        with aws_call("s3", "GetObject"):
            text = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        recipe_name = key.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
        base_recipe = training.parse_recipe(text, recipe_source)
    else:
        recipe_name, base_recipe = recipe_source, training.load_shipped_recipe(recipe_source)
    recipe = training.build_recipe(run, base_recipe)
    resources = training.TrainingResources(
        environment=settings.environment,
        region=settings.region,
        role_arn=settings.require("sagemaker_role_arn"),
        artifacts_bucket=settings.require("artifacts_bucket"),
        kms_key_arn=settings.kms_key_arn,
    )
    job_name = resource_name(settings.environment, run.run_name, state.execution.name, "train")
    recipe_file = f"{recipe_name}.yaml"
    recipe_key = layout.recipe(job_name, recipe_file)
    with aws_call("s3", "PutObject"):
        client("s3").put_object(
            Bucket=resources.artifacts_bucket,
            Key=recipe_key,
            Body=yaml.safe_dump(recipe, sort_keys=False).encode(),
            ContentType="application/yaml",
        )
    request = training.training_job_request(
        run,
        data,
        state.execution,
        resources,
        recipe_uri=f"s3://{resources.artifacts_bucket}/{recipe_key}",
        recipe_file=recipe_file,
    )
    job = training.start_training_job(client("sagemaker"), request, wait_seconds=settings.poll_interval_seconds)
    logger.info("Training job", extra={"job": job.job_name, "recipe": recipe_name})
    metrics.add_metric(name="TrainingJobsStarted", unit="Count", value=1)
    return job.dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def poll_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.job is not None, "PollTrainingJob runs after StartTrainingJob"
    job = training.poll_training_job(
        client("sagemaker"), state.job, wait_seconds=function_settings().poll_interval_seconds
    )
    logger.info("Training job status", extra={"job": job.job_name, "status": job.status})
    return job.dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def import_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    settings = function_settings()
    assert state.job is not None and state.job.output_uri and state.input is not None
    bucket, key = split_s3(state.job.output_uri)
    with aws_call("s3", "GetObject"):
        archive = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    checkpoint = training.checkpoint_from_output(archive, state.job.output_uri)
    model = bedrock.import_custom_model(
        client("bedrock"),
        checkpoint_uri=checkpoint,
        role_arn=settings.require("bedrock_role_arn"),
        model_name=resource_name(settings.environment, state.input.run_name, state.execution.name, "model"),
        token=client_request_token(state.execution.arn, "custom-model"),
        kms_key_arn=settings.kms_key_arn,
        wait_seconds=settings.poll_interval_seconds,
    )
    logger.info("Custom model import started", extra={"modelArn": model.model_arn, "checkpoint": checkpoint})
    return model.dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def poll_model_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    assert state.model is not None, "PollImportedModel runs after ImportModel"
    model = bedrock.poll_custom_model(
        client("bedrock"), state.model, wait_seconds=function_settings().poll_interval_seconds
    )
    return model.dump()
