"""`nova-pipeline serve-local`: the inference API on 127.0.0.1 against a SIMULATED promoted model."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_INVALID, EXIT_OK, add_command

CURL = "curl -s -X POST http://{host}:{port}/v1/generate -H 'Content-Type: application/json' -d '{body}'"


def serve_local(args: argparse.Namespace) -> int:
    """Serve POST /v1/generate, GET /v1/model and GET /v1/health locally with the real handler (no AWS). The model
    is the one the last `run-local` promoted (or the run named by --run); the built-in support-ticket example when
    no local run promoted one."""
    from nova_pipeline.local.api_server import example_model, local_api_environment, make_server
    from nova_pipeline.local.runs import NoPromotedRun, promoted_model
    from nova_pipeline.local.simulator import SimulatorSettings

    try:
        promoted = (None if args.example else promoted_model(args.run)) or example_model()
    except NoPromotedRun as error:
        print(f"error: {error}", file=sys.stderr)
        print("hint: nova-pipeline run-local --input FILE promotes a model when it passes the gate", file=sys.stderr)
        return EXIT_INVALID
    # Powertools warns on every request that a request published no metrics (metrics are disabled here).
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    settings = SimulatorSettings(throttle_rate=args.throttle_rate)
    with local_api_environment(settings, promoted) as (handler, _):
        server = make_server(handler, args.port)
        host, port = str(server.server_address[0]), int(server.server_address[1])
        print(f"serving the inference API on http://{host}:{port} (model SIMULATED; Ctrl-C stops)", file=sys.stderr)
        print(f"  model: {_described(promoted)}", file=sys.stderr)
        print("  " + CURL.format(host=host, port=port, body='{"input": "I was charged twice"}'), file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return EXIT_OK


def _described(promoted: Any) -> str:
    if promoted.run == "built-in example":
        return "the built-in support-ticket example (no local run has promoted a model; run-local promotes one)"
    return f"promoted by the local run {promoted.run} ({promoted.record.base_model}, {len(promoted.examples)} examples)"


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "serve-local",
        help_text="serve the inference API locally (the model the last run-local promoted; simulated, no AWS)",
        description=serve_local.__doc__,
        example="nova-pipeline serve-local --port 8080",
    )
    parser.add_argument("--port", type=int, default=8080)
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--run", metavar="EXECUTION", help="serve the model this local run promoted")
    chosen.add_argument("--example", action="store_true", help="serve the built-in support-ticket example")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share of model calls throttled (0-0.5)")
    parser.set_defaults(handler=serve_local)
