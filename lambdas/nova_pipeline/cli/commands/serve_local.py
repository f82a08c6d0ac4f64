"""`nova-pipeline serve-local`: the inference API on 127.0.0.1 against a SIMULATED promoted model."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nova_pipeline.cli.commands._common import EXIT_OK, add_command


def serve_local(args: argparse.Namespace) -> int:
    """Serve POST /v1/generate, GET /v1/model and GET /v1/health locally with the real handler (no AWS)."""
    from nova_pipeline.local.api_server import local_api_environment, make_server
    from nova_pipeline.local.simulator import SimulatorSettings

    with local_api_environment(SimulatorSettings(throttle_rate=args.throttle_rate)) as (handler, _):
        server = make_server(handler, args.port)
        host, port = str(server.server_address[0]), int(server.server_address[1])
        print(f"serving the inference API on http://{host}:{port} (model SIMULATED; Ctrl-C stops)", file=sys.stderr)
        print(
            f'  curl -s -X POST http://{host}:{port}/v1/generate -d \'{{"input": "I was charged twice"}}\'',
            file=sys.stderr,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "serve-local",
        help_text="serve the inference API locally (simulated model, no AWS)",
        description=serve_local.__doc__,
        example="nova-pipeline serve-local --port 8080",
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share of model calls throttled (0-0.5)")
    parser.set_defaults(handler=serve_local)
