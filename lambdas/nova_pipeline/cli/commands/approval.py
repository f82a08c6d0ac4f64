"""`nova-pipeline approve` / `reject --execution ARN`: decide an execution's pending approval before promotion."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, aws_session
from nova_pipeline.promotion.approval import ApprovalNotPendingError, decide, execution_name


class DataBucketNotFoundError(Exception):
    """The environment's storage stack (its DataBucketName output) is not where the credentials point."""


def data_bucket(cloudformation: Any, environment: str) -> str:
    """The `DataBucketName` output of `nova-<env>-storage`, where the approvals' task tokens are."""
    from botocore.exceptions import ClientError

    stack_name = f"nova-{environment}-storage"
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise DataBucketNotFoundError(
            f"stack {stack_name} not found ({error.response['Error']['Message']}); pass --bucket or check "
            "AWS_PROFILE/AWS_REGION"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "DataBucketName" not in outputs:
        raise DataBucketNotFoundError(f"stack {stack_name} has no output DataBucketName; pass --bucket")
    return str(outputs["DataBucketName"])


def _decide(args: argparse.Namespace, *, approve: bool) -> int:
    try:
        execution_name(args.execution)
    except ValueError as error:
        print(f"error: --execution: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.env is None and args.bucket is None:
        print("error: give --env (the data bucket is found in nova-<env>-storage) or --bucket", file=sys.stderr)
        return EXIT_INVALID
    if args.env is None and args.region is None:
        args.region = args.execution.split(":")[3]  # the execution's own region
    session = aws_session(args)
    try:
        bucket = args.bucket or data_bucket(session.client("cloudformation"), args.env)
        by = session.client("sts").get_caller_identity()["Arn"]
        decision = decide(
            stepfunctions=session.client("stepfunctions"),
            s3=session.client("s3"),
            data_bucket=bucket,
            execution_arn=args.execution,
            approve=approve,
            by=by,
            reason=args.reason,
        )
    except (ApprovalNotPendingError, DataBucketNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    verb = "approved: the candidate is promoted next" if approve else "rejected: the candidate is cleaned up"
    print(f"{args.execution}: {verb} (by {decision['by']})")
    return EXIT_OK


def approve(args: argparse.Namespace) -> int:
    """Approve the execution's candidate: Step Functions continues with Promote (SendTaskSuccess)."""
    return _decide(args, approve=True)


def reject(args: argparse.Namespace) -> int:
    """Reject the execution's candidate: it goes the way of a gate rejection (SendTaskFailure ApprovalRejected)."""
    return _decide(args, approve=False)


def register(subparsers: Any) -> None:
    for name, handler, example in (
        ("approve", approve, "nova-pipeline approve --env prod --execution arn:aws:states:...:execution:...:run-1"),
        (
            "reject",
            reject,
            "nova-pipeline reject --env prod --execution arn:aws:states:...:execution:...:run-1 --reason 'too slow'",
        ),
    ):
        parser = add_command(
            subparsers,
            name,
            help_text=f"{name} an execution's candidate waiting for an approval before promotion",
            description=handler.__doc__,
            example=example,
        )
        parser.add_argument("--execution", required=True, metavar="ARN", help="the execution's ARN")
        parser.add_argument("--env", help="environment (finds the data bucket in nova-<env>-storage)")
        parser.add_argument("--bucket", help="the environment's data bucket (instead of the stack output)")
        parser.add_argument("--reason", help="why (shown in the execution's output and history)")
        parser.add_argument("--profile")
        parser.add_argument("--region")
        parser.set_defaults(handler=handler)
