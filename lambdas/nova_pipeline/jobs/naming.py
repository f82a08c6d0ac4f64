"""Names and idempotency tokens derived from the environment and the execution.

Every name fits Bedrock's 63-character limit and pattern; the same execution always derives the same names and
`clientRequestToken`s, so a retried state or a re-driven execution finds its job instead of starting a second one.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME_LENGTH = 63
_INVALID = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _INVALID.sub("-", text.lower()).strip("-")


def resource_name(environment: str, run_name: str | None, execution_name: str, kind: str) -> str:
    """`nova-<env>-<run>-<kind>-<hash>`: readable, unique per execution and kind, at most 63 characters."""
    digest = hashlib.sha256(f"{environment}/{execution_name}/{kind}".encode()).hexdigest()[:10]
    run = _slug(run_name or execution_name) or "run"
    head = f"nova-{_slug(environment)}-"
    tail = f"-{kind}-{digest}"
    room = MAX_NAME_LENGTH - len(head) - len(tail)
    return f"{head}{run[:room].strip('-')}{tail}"


PROJECT_TAG = "nova-customization"
# The tags every resource the pipeline creates carries (jobs, custom models, imported models, deployments, training
# jobs): the clean-up and `gc` act only on resources tagged with their own environment, IAM conditions on
# `aws:ResourceTag/environment` scope them, and the execution and run say where a resource came from
# (`contract.execution_input.PIPELINE_TAG_KEYS`, which a user's tags may not use).


def pipeline_tags(
    environment: str, run_name: str | None, execution_name: str, user_tags: dict[str, str] | None = None
) -> dict[str, str]:
    """The user's tags, then the pipeline's own (which always win: a user tag cannot move a resource to another
    environment's scope)."""
    tags = dict(user_tags or {})
    tags.update(
        {
            "project": PROJECT_TAG,
            "environment": environment,
            "run": (run_name or execution_name)[:256],
            "execution": execution_name[:256],
        }
    )
    return tags


def client_request_token(execution_arn: str, purpose: str) -> str:
    """A token unique to (execution, purpose); Bedrock accepts [a-zA-Z0-9](-*[a-zA-Z0-9])*, up to 256 characters."""
    return hashlib.sha256(f"{execution_arn}#{purpose}".encode()).hexdigest()


def staged(kind: str, stage: int) -> str:
    """The name kind (or token purpose) of stage `stage` (0-based) of a multi-stage run: the first stage keeps the
    single-stage name, so a one-stage run names everything as before; later ones get `<kind><n>` (`train2`)."""
    return kind if stage == 0 else f"{kind}{stage + 1}"
