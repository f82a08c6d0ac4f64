"""One in-process synthesis of every shipped environment (with cdk-nag), shared by the infra tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.app_builder import EnvironmentStacks, add_environment, check_with_nag
from stacks.config import CONTEXT_KEY, load_environments

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EnvironmentStacks]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=context)
    built = {
        settings.name: add_environment(app, settings) for settings in load_environments(context[CONTEXT_KEY], None)
    }
    check_with_nag(app)
    app.synth()
    return built


@pytest.fixture(scope="session")
def templates(environments: dict[str, EnvironmentStacks]) -> dict[str, Template]:
    """Every stack's template by stack name (nova-dev-storage, nova-prod-pipeline, ...)."""
    return {stack.stack_name: Template.from_stack(stack) for stacks in environments.values() for stack in stacks.all()}


def policy_statements(template: Template) -> Iterator[dict[str, object]]:
    """Every statement of every identity policy (inline policies and AWS::IAM::Policy) in a template."""
    for policy in template.find_resources("AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]
    for role in template.find_resources("AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            yield from inline["PolicyDocument"]["Statement"]


def as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]
