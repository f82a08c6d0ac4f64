"""`nova-pipeline gc --env E [--dry-run]`: delete the environment's expired custom models (as the schedule does)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_OK, add_command, aws_session, environment_block, non_negative_int
from nova_pipeline.promotion.gc import DEFAULT_KEEP_VERSIONS, DEFAULT_RETENTION_DAYS, GcPolicy, collect_and_delete


def gc_command(args: argparse.Namespace) -> int:
    """Delete the custom models of an environment that are not the active model, not one of the last N promoted
    before it (the rollback targets) and older than the retention; their deployments go first. Only models tagged
    by the pipeline for this environment are considered. Retention and N default to the environment's `lifecycle`
    block in cdk.json. Prints what it deleted (or would delete) and the monthly storage cost saved."""
    needs_config = args.retention_days is None or args.keep_versions is None
    lifecycle = environment_block(args.env).get("lifecycle", {}) if needs_config else {}
    policy = GcPolicy(
        environment=args.env,
        retention_days=(
            args.retention_days
            if args.retention_days is not None
            else int(lifecycle.get("retentionDays", DEFAULT_RETENTION_DAYS))
        ),
        keep_versions=(
            args.keep_versions
            if args.keep_versions is not None
            else int(lifecycle.get("keepVersions", DEFAULT_KEEP_VERSIONS))
        ),
    )
    session = aws_session(args)
    report = collect_and_delete(
        session.client("bedrock"), session.client("ssm"), policy, now=datetime.now(UTC), dry_run=args.dry_run
    )
    print(json.dumps(report.dump(), indent=2) if args.json else report.summary())
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "gc",
        help_text="delete expired custom models of an environment (not active, not a rollback target)",
        description=gc_command.__doc__,
        example="nova-pipeline gc --env dev --dry-run",
    )
    parser.add_argument("--env", required=True)
    parser.add_argument("--dry-run", action="store_true", help="report what would be deleted; delete nothing")
    parser.add_argument("--retention-days", type=non_negative_int, help="override lifecycle.retentionDays")
    parser.add_argument("--keep-versions", type=non_negative_int, help="override lifecycle.keepVersions")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--profile")
    parser.add_argument("--region")
    parser.set_defaults(handler=gc_command)
