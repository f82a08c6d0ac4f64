#!/usr/bin/env python3
"""CDK entry point: `cdk synth` builds every environment of cdk.json; `-c env=NAME` builds only that one."""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App

sys.path.insert(0, str(Path(__file__).resolve().parent / "lambdas"))

from stacks.app_builder import add_environment, check_with_nag
from stacks.config import CONTEXT_KEY, SELECT_KEY, ConfigError, load_environments


def main() -> None:
    app = App()
    try:
        environments = load_environments(app.node.try_get_context(CONTEXT_KEY), app.node.try_get_context(SELECT_KEY))
    except ConfigError as error:
        sys.exit(f"error: {error}")
    for settings in environments:
        add_environment(app, settings)
    check_with_nag(app)
    app.synth()


if __name__ == "__main__":
    main()
