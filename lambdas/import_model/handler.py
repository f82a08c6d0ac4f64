"""ImportModel: CreateCustomModel from the checkpoint the training job's manifest names."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.run_state import RunState
from nova_pipeline.core.clients import client
from nova_pipeline.core.observability import logger
from nova_pipeline.core.settings import ImportModelSettings, load_settings
from nova_pipeline.core.tracing import tracer
from nova_pipeline.jobs.training import import_trained_model

SETTINGS = load_settings(ImportModelSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunState)
def lambda_handler(state: RunState, context: LambdaContext) -> dict[str, Any]:
    model = import_trained_model(
        state,
        environment=SETTINGS.environment,
        role_arn=SETTINGS.bedrock_role_arn,
        kms_key_arn=SETTINGS.kms_key_arn,
        s3=client("s3"),
        bedrock=client("bedrock"),
        wait_seconds=SETTINGS.poll_interval_seconds,
    )
    logger.info("Custom model import started", extra={"modelArn": model.model_arn})
    return model.dump()
