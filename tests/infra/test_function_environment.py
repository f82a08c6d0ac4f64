"""Every function receives exactly the `NOVA_*` variables its handler's settings model requires (one declaration, in
`nova_pipeline.core.settings`), and each handler loads the settings model its construct names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from nova_pipeline.core.settings import DataSettings, SettingsError, load_settings
from stacks.app_builder import EnvironmentStacks
from stacks.constructs.inference_api import INFERENCE
from stacks.constructs.pipeline_function import COMMON_VARIABLES
from stacks.constructs.stage import FunctionSpec
from stacks.pipeline_stack import function_specs

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def nova_variables(template: Template) -> dict[str, set[str]]:
    """The NOVA_* variable names of each of our functions, by handler folder (one function per folder)."""
    found: dict[str, set[str]] = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in variables:
            folder = variables["POWERTOOLS_SERVICE_NAME"]
            assert folder not in found, folder
            assert function["Properties"]["Handler"] == "handler.lambda_handler"
            found[folder] = {name for name in variables if name.startswith("NOVA_")}
    return found


def declared(spec: FunctionSpec) -> set[str]:
    return {*COMMON_VARIABLES, *spec.variables}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_pipeline_function_gets_exactly_the_variables_its_settings_require(
    templates: dict[str, Template], environments: dict[str, EnvironmentStacks], env: str
) -> None:
    synthesized = nova_variables(templates[f"nova-{env}-pipeline"])
    expected = {spec.handler_dir: declared(spec) for spec in function_specs(environments[env].settings)}

    assert synthesized == expected


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_inference_function_gets_exactly_its_declared_variables(templates: dict[str, Template], env: str) -> None:
    assert nova_variables(templates[f"nova-{env}-api"]) == {INFERENCE.handler_dir: declared(INFERENCE)}


def settings_loaded_by(handler_dir: str) -> str:
    """The settings model the handler module loads at import (`SETTINGS = load_settings(<Model>)`)."""
    module = ast.parse((LAMBDAS / handler_dir / "handler.py").read_text())
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load_settings":
            [argument] = node.args
            assert isinstance(argument, ast.Name)
            return argument.id
    raise AssertionError(f"lambdas/{handler_dir}/handler.py loads no settings at import")


@pytest.mark.parametrize("spec", function_specs(), ids=lambda spec: spec.construct_id)
def test_the_stack_passes_what_the_handler_settings_model_requires(spec: FunctionSpec) -> None:
    assert settings_loaded_by(spec.handler_dir) == spec.settings.__name__


def test_a_function_whose_settings_lack_a_variable_fails_its_cold_start_naming_it() -> None:
    with pytest.raises(SettingsError, match="NOVA_DATA_BUCKET is not set"):
        load_settings(DataSettings, {"NOVA_ENVIRONMENT": "dev"})
