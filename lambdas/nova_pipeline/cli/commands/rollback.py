"""`nova-pipeline rollback --env E`: restore the previously promoted model as the active one."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, aws_session
from nova_pipeline.promotion.store import NothingToRollBackError, rollback


def rollback_command(args: argparse.Namespace) -> int:
    """Put the record the active one replaced back in place (a new SSM version; the API picks it up in a minute)."""

    session = aws_session(args)
    try:
        record, version = rollback(session.client("ssm"), args.env, args.kms_key)
    except NothingToRollBackError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"{args.env}: active model is now {record.deployment_arn} (promoted {record.promoted_at.isoformat()}), "
        f"parameter version {version}"
    )
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "rollback",
        help_text="restore the previously promoted model (SSM active-model record)",
        description=rollback_command.__doc__,
        example="nova-pipeline rollback --env prod",
    )
    parser.add_argument("--env", required=True)
    parser.add_argument("--kms-key", help="KMS key for the SecureString (default: the one the record used)")
    parser.add_argument("--profile")
    parser.add_argument("--region")
    parser.set_defaults(handler=rollback_command)
