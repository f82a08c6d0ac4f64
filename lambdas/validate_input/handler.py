"""ValidateInput: the first state. Checks the execution input and returns it with every default resolved.

A bad input fails the execution here, before anything costs money, with error `InvalidExecutionInput` and a cause
listing every problem with its JSON path.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from nova_pipeline.contract.execution_input import ApprovalInput, parse_execution_input
from nova_pipeline.core.observability import logger, metrics
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.core.settings import ValidateInputSettings, load_settings
from nova_pipeline.core.tracing import tracer

SETTINGS = load_settings(ValidateInputSettings)
APPROVAL = ApprovalInput.model_validate(SETTINGS.approval_defaults)


class InvalidExecutionInput(Exception):  # noqa: N818 - the name is the Step Functions error a user sees
    """The Step Functions error name of a rejected execution input."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=dict[str, Any])
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        parsed = parse_execution_input(
            event,
            default_base_model=SETTINGS.default_base_model,
            region=SETTINGS.region,
            gate_defaults=SETTINGS.gate_defaults,
            approval_defaults=APPROVAL,
            guardrail=bool(SETTINGS.guardrail_id),
        )
    except InputProblemsError as error:
        logger.warning("Execution input rejected", extra={"problems": [str(p) for p in error.problems]})
        metrics.add_metric(name="InvalidExecutionInput", unit="Count", value=1)
        raise InvalidExecutionInput(str(error)) from None
    logger.info("Execution input accepted", extra={"baseModel": parsed.base_model, "method": parsed.method})
    return parsed.model_dump(mode="json", by_alias=True)
