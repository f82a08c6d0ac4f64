"""Every function receives exactly the `NOVA_*` variables its construct declares, and the declarations match what
the handlers read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from nova_pipeline.core.settings import FunctionSettings
from stacks.constructs.inference_api import INFERENCE
from stacks.constructs.pipeline_function import COMMON_VARIABLES
from stacks.constructs.stage import FunctionSpec
from stacks.pipeline_stack import function_specs

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# Read by a handler but deliberately not set by the stacks: the fan-out thresholds keep the settings' defaults, and
# only the offline twin sets NOVA_SIMULATED.
LEFT_AT_DEFAULT = {"NOVA_FANOUT_BYTES", "NOVA_FANOUT_OBJECTS", "NOVA_SIMULATED"}
# Always present: NOVA_ENVIRONMENT from PipelineFunction, AWS_REGION from Lambda itself.
NOT_DECLARED = {*COMMON_VARIABLES, "AWS_REGION"}


def nova_variables(template: Template) -> dict[tuple[str, str], set[str]]:
    """The NOVA_* variable names of each of our functions, by (handler folder, handler function)."""
    found: dict[tuple[str, str], set[str]] = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in variables:
            key = (variables["POWERTOOLS_SERVICE_NAME"], function["Properties"]["Handler"].removeprefix("handler."))
            assert key not in found, key
            found[key] = {name for name in variables if name.startswith("NOVA_")}
    return found


def declared(spec: FunctionSpec) -> set[str]:
    return {*COMMON_VARIABLES, *spec.variables}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_pipeline_function_gets_exactly_the_variables_its_construct_declares(
    templates: dict[str, Template], env: str
) -> None:
    synthesized = nova_variables(templates[f"nova-{env}-pipeline"])
    expected = {(spec.handler_dir, spec.handler): declared(spec) for spec in function_specs()}

    assert synthesized == expected


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_inference_function_gets_exactly_its_declared_variables(templates: dict[str, Template], env: str) -> None:
    assert nova_variables(templates[f"nova-{env}-api"]) == {
        (INFERENCE.handler_dir, INFERENCE.handler): declared(INFERENCE)
    }


def settings_read_by(handler_dir: str, handler: str) -> set[str]:
    """The FunctionSettings variables read by `handler` and the module functions it calls (read from the source)."""
    module = ast.parse((LAMBDAS / handler_dir / "handler.py").read_text())
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    aliases = {name: str(field.alias) for name, field in FunctionSettings.model_fields.items()}
    reads: set[str] = set()
    pending, seen = [handler], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Attribute) and node.attr in aliases and _is_settings(node.value):
                reads.add(aliases[node.attr])
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "require":
                [argument] = node.args
                assert isinstance(argument, ast.Constant)
                reads.add(aliases[str(argument.value)])
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                callee = node.func.id
                if callee in functions and callee not in seen:
                    pending.append(callee)
    return reads


def _is_settings(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "settings"
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "function_settings"


@pytest.mark.parametrize("spec", function_specs(), ids=lambda spec: spec.construct_id)
def test_declared_variables_are_what_the_handler_reads(spec: FunctionSpec) -> None:
    reads = settings_read_by(spec.handler_dir, spec.handler) - NOT_DECLARED

    assert set(spec.variables) <= reads, f"{spec.construct_id} is given variables its handler never reads"
    assert reads - LEFT_AT_DEFAULT <= set(spec.variables), f"{spec.construct_id} reads variables it is not given"
