"""An environment with a SageMaker managed MLflow server: only the training jobs' role may log to it, only to it; the
StartTrainingJob function gets its ARN. An environment without one grants no MLflow action at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.app_builder import add_environment, check_with_nag
from stacks.config import CONTEXT_KEY, ConfigError, load_environments
from stacks.constructs.service_grants import MLFLOW_LOGGING_ACTIONS
from tests.infra.conftest import as_list

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Template:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    block = {**context[CONTEXT_KEY]["dev"], "mlflowTrackingArn": MLFLOW_ARN}
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context={**context, CONTEXT_KEY: {"qa": block}})
    [settings] = load_environments({"qa": block}, None)
    stacks = add_environment(app, settings)
    check_with_nag(app)
    app.synth()
    return Template.from_stack(stacks.pipeline)


def _mlflow_grants(template: Template) -> list[tuple[list[str], dict[str, Any]]]:
    """(roles the policy is attached to, statement) of every statement granting a sagemaker-mlflow action."""
    grants = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = [role["Ref"] for role in policy["Properties"].get("Roles", [])]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(str(action).startswith("sagemaker-mlflow:") for action in as_list(statement["Action"])):
                grants.append((roles, statement))
    return grants


def _variable(template: Template, folder: str, name: str) -> str:
    for function in template.find_resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == folder:
            return str(variables[name])
    raise AssertionError(f"no function {folder}")


def test_only_the_training_role_may_log_and_only_to_the_configured_server(tracked: Template) -> None:
    [(roles, statement)] = _mlflow_grants(tracked)

    assert len(roles) == 1 and "SageMakerTraining" in roles[0]
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == sorted(MLFLOW_LOGGING_ACTIONS)
    assert statement["Resource"] == MLFLOW_ARN
    assert _variable(tracked, "start_training_job", "NOVA_MLFLOW_TRACKING_ARN") == MLFLOW_ARN


def test_an_environment_without_a_server_grants_no_mlflow_action(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        assert _mlflow_grants(template) == [], name
    assert _variable(templates["nova-dev-pipeline"], "start_training_job", "NOVA_MLFLOW_TRACKING_ARN") == ""


def test_a_tracking_arn_of_another_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"nova:environments.qa.mlflowTrackingArn: String should match pattern"):
        load_environments({"qa": {"mlflowTrackingArn": "arn:aws:sagemaker:us-east-1:123456789012:model/x"}}, None)
