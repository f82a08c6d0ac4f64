"""AWS errors as the state machine sees them: transient ones are retried, the rest fail with a readable cause.

The exception class name is the Step Functions error name (`errorType`), so the ASL retries `ThrottledError` and
`TransientServiceError` with backoff and catches everything else into the cleanup path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded", "SlowDown"}
)
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "InternalServerException",
        "InternalFailure",
        "ServiceUnavailable",
        "ModelNotReadyException",
    }
)


class ThrottledError(Exception):
    """The service throttled the call even after the SDK's own retries: retried by the state machine."""


class TransientServiceError(Exception):
    """A 5xx or not-ready answer: retried by the state machine."""


class AwsRequestFailed(Exception):  # noqa: N818 - the Step Functions error name a user reads
    """A request the service rejected (validation, access, conflict...): not retried; the cause says why."""


def error_code(error: BaseException) -> str | None:
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


@contextmanager
def aws_call(service: str, operation: str) -> Iterator[None]:
    """Translate a botocore ClientError raised inside the block into the pipeline's error classes."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as error:
        code = error_code(error) or "Unknown"
        message = error.response.get("Error", {}).get("Message", str(error))
        text = f"{service} {operation}: {code}: {message}"
        if code in THROTTLING_CODES:
            raise ThrottledError(text) from None
        if code in TRANSIENT_CODES:
            raise TransientServiceError(text) from None
        raise AwsRequestFailed(text) from None
