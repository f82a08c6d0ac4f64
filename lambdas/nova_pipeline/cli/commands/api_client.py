"""`nova-pipeline invoke` (call the deployed API with SigV4) and `nova-pipeline promote` (write a record by hand)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command, aws_session
from nova_pipeline.cli.commands.start import StackNotFoundError
from nova_pipeline.contract.catalog import CUSTOMIZABLE_MODELS
from nova_pipeline.promotion.record import ActiveModelRecord

ALLOWED_URL_PREFIXES = ("https://", "http://127.0.0.1:", "http://localhost:")


def api_url(cloudformation: Any, environment: str) -> str:
    stack_name = f"nova-{environment}-api"
    from botocore.exceptions import ClientError

    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        raise StackNotFoundError(
            f"stack {stack_name} not found ({error.response['Error']['Message']}); deploy it "
            f"with `make deploy ENV={environment}`"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return str(outputs["ApiUrl"])


def signed_request(url: str, body: bytes, credentials: Any, region: str) -> urllib.request.Request:
    """A POST signed with SigV4 for execute-api with the caller's credentials."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    aws_request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "execute-api", region).add_auth(aws_request)
    return urllib.request.Request(url, data=body, headers=dict(aws_request.headers.items()), method="POST")  # noqa: S310 - scheme checked by invoke


def invoke(args: argparse.Namespace) -> int:
    """Send one prompt to the environment's inference API (SigV4-signed) and print the answer."""

    session = aws_session(args)
    try:
        base = args.url or api_url(session.client("cloudformation"), args.env)
    except StackNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    payload: dict[str, Any] = {"input": args.input}
    if args.context:
        payload["context"] = args.context
    url = base.rstrip("/") + "/v1/generate"
    if not url.startswith(ALLOWED_URL_PREFIXES):
        print(f"error: {url}: only https:// (or http://127.0.0.1 for serve-local) is allowed", file=sys.stderr)
        return EXIT_INVALID
    credentials = session.get_credentials()
    body = json.dumps(payload).encode()
    request = (
        signed_request(url, body, credentials.get_frozen_credentials(), session.region_name or "us-east-1")
        if credentials
        else urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})  # noqa: S310
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the API's own https URL
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}")
        print(f"error: HTTP {error.code}: {detail.get('message', error.reason)}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(answer["output"])
        print(
            f"({answer['usage']['inputTokens']} in / {answer['usage']['outputTokens']} out tokens, "
            f"{answer['latencyMs']} ms, model version {answer['model']['version']})",
            file=sys.stderr,
        )
    return EXIT_OK


def promote_command(args: argparse.Namespace) -> int:
    """Write an active-model record by hand (e.g. a deployment made outside the pipeline)."""

    from nova_pipeline.promotion.store import promote

    system = Path(args.system_prompt_file).read_text(encoding="utf-8").strip() if args.system_prompt_file else None
    record = ActiveModelRecord(
        deployment_arn=args.deployment_arn,
        custom_model_arn=args.custom_model_arn or "",
        base_model=args.base_model,
        system_prompt=system,
        promoted_at=datetime.now(UTC),
    )
    session = aws_session(args)
    stamped, version = promote(session.client("ssm"), args.env, record, args.kms_key)
    print(f"{args.env}: promoted {stamped.deployment_arn} as version {version}")
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "invoke",
        help_text="call the deployed inference API (SigV4)",
        description=invoke.__doc__,
        example='nova-pipeline invoke --env dev --input "I was charged twice this month"',
    )
    parser.add_argument("--env", default="dev")
    parser.add_argument("--input", required=True)
    parser.add_argument("--context", help="context for a system prompt with a placeholder (e.g. CREATE TABLE ...)")
    parser.add_argument("--url", help="API base URL (default: the ApiUrl output of nova-<env>-api)")
    parser.add_argument("--json", action="store_true", help="print the whole response")
    parser.add_argument("--profile")
    parser.add_argument("--region")
    parser.set_defaults(handler=invoke)

    parser = add_command(
        subparsers,
        "promote",
        help_text="write the active-model record by hand",
        description=promote_command.__doc__,
        example="nova-pipeline promote --env dev --deployment-arn arn:aws:bedrock:...:"
        "custom-model-deployment/abc --system-prompt-file prompt.txt",
    )
    parser.add_argument("--env", required=True)
    parser.add_argument("--deployment-arn", required=True)
    parser.add_argument("--custom-model-arn")
    parser.add_argument("--base-model", default="nova-micro", choices=CUSTOMIZABLE_MODELS)
    parser.add_argument("--system-prompt-file")
    parser.add_argument("--kms-key", help="the environment's key (stack output DataKeyArn)")
    parser.add_argument("--profile")
    parser.add_argument("--region")
    parser.set_defaults(handler=promote_command)
