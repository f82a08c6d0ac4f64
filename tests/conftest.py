"""Shared test set-up: the pinned Node.js 22 first on PATH (jsii runs the CDK in it) and no AWS credentials."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
# Nothing in the tests may reach AWS: fake credentials, a fixed region, no instance metadata look-ups.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "NovaCustomizationTests",
        "POWERTOOLS_SERVICE_NAME": "tests",
    }
)

# Imported once here, before pytest-socket blocks sockets for each test: the X-Ray SDK (loaded by the Powertools
# tracer) creates its UDP emitter socket at import time. It never sends anything in the tests (tracing disabled).
import aws_xray_sdk.core  # noqa: E402, F401
