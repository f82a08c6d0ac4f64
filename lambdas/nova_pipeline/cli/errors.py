"""One error path for the CLI: an expected failure is one or two lines with a hint and a non-zero exit; the
traceback only with `--debug`."""

from __future__ import annotations

EXIT_FAILED = 1
OFFLINE = "run-local, plan, prepare, validate, validate-input, evaluate and cost work without an AWS account"


def explain(error: BaseException) -> tuple[str, str | None]:  # noqa: PLR0911 - one answer per kind of failure
    """The message and the hint a user reads for `error`."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    from nova_pipeline.core.problems import InputProblemsError

    if isinstance(error, NoRegionError):
        return "no AWS region", "pass --region, set AWS_REGION, or use an environment of cdk.json (--env)"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials found", f"configure them (aws configure, AWS_PROFILE); {OFFLINE}"
    if isinstance(error, ProfileNotFound):
        return str(error), "aws configure list-profiles shows the profiles you have"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'AWS')}", "check the network and the region"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "request")
        return f"{operation}: {details.get('Code')}: {details.get('Message')}", None
    if isinstance(error, InputProblemsError):
        return str(error), None
    if isinstance(error, FileNotFoundError):
        return f"{error.filename}: no such file", None
    if isinstance(error, OSError):
        return f"{getattr(error, 'filename', '') or ''}: {error.strerror or error}".lstrip(": "), None
    return f"{type(error).__name__}: {error}", "rerun with --debug for the traceback"
