"""An environment with a Bedrock guardrail: the inference function and the evaluation pass it on every Converse call
and may apply exactly that guardrail; an environment without one grants nothing of the kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.app_builder import add_environment, check_with_nag
from stacks.config import CONTEXT_KEY, load_environments
from tests.infra.conftest import as_list, policy_statements

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    block = {
        **context[CONTEXT_KEY]["dev"],
        "guardrail": {"identifier": "gr1abc", "version": "3"},
        "evaluation": {**context[CONTEXT_KEY]["dev"]["evaluation"], "maxGuardrailInterventionRate": 0.1},
    }
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context={**context, CONTEXT_KEY: {"qa": block}})
    [settings] = load_environments({"qa": block}, None)
    stacks = add_environment(app, settings)
    check_with_nag(app)
    app.synth()
    return {stack.stack_name: Template.from_stack(stack) for stack in stacks.all()}


def _variables(template: Template, folder: str) -> dict[str, Any]:
    for function in template.find_resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == folder:
            return dict(variables)
    raise AssertionError(f"no function {folder}")


def _apply_guardrail_resources(template: Template) -> list[str]:
    return [
        json.dumps(resource)
        for statement in policy_statements(template)
        if "bedrock:ApplyGuardrail" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def test_the_guardrail_reaches_every_function_that_calls_converse(guarded: dict[str, Template]) -> None:
    pipeline, api = guarded["nova-qa-pipeline"], guarded["nova-qa-api"]

    for template, folder in ((api, "inference"), (pipeline, "plan_evaluation")):
        variables = _variables(template, folder)
        assert (variables["NOVA_GUARDRAIL_ID"], variables["NOVA_GUARDRAIL_VERSION"]) == ("gr1abc", "3")
    assert _variables(pipeline, "validate_input")["NOVA_GUARDRAIL_ID"] == "gr1abc"
    assert (
        json.loads(_variables(pipeline, "aggregate_evaluation")["NOVA_GATE_DEFAULTS"])[
            "max_guardrail_intervention_rate"
        ]
        == 0.1
    )


def test_only_that_guardrail_may_be_applied_by_the_callers(guarded: dict[str, Template]) -> None:
    for name in ("nova-qa-pipeline", "nova-qa-api"):
        resources = _apply_guardrail_resources(guarded[name])
        assert resources, name
        assert all(":guardrail/gr1abc" in resource for resource in resources), resources


def test_an_environment_without_a_guardrail_grants_none(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        assert _apply_guardrail_resources(template) == [], name
    assert _variables(templates["nova-dev-pipeline"], "plan_evaluation")["NOVA_GUARDRAIL_ID"] == ""


def test_the_configured_evaluation_ceiling_reaches_plan_evaluation(templates: dict[str, Template]) -> None:
    # cdk.json's evaluation.requestsPerMinute (dev: 100, prod: 500) used to be dropped: the variable had a default.
    assert _variables(templates["nova-dev-pipeline"], "plan_evaluation")["NOVA_EVALUATION_RPM"] == "100"
    assert _variables(templates["nova-prod-pipeline"], "plan_evaluation")["NOVA_EVALUATION_RPM"] == "500"
