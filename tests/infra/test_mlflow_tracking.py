"""An environment with a SageMaker managed MLflow server: only the training jobs' role and AggregateEvaluation's may
log to it, only to it, each with the actions it uses; AggregateEvaluation may write under the server's artifact store
when one is configured, and nowhere else outside the pipeline's buckets. The functions get the ARN. An environment
without one grants no MLflow action at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.app_builder import add_environment, check_with_nag
from stacks.config import CONTEXT_KEY, ConfigError, load_environments
from stacks.constructs.service_grants import MLFLOW_LOGGING_ACTIONS, MLFLOW_TRACKING_ACTIONS
from tests.infra.conftest import as_list

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/nova-experiments"
ARTIFACT_STORE = "s3://team-mlflow-artifacts/nova/"
ARTIFACT_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _synth(tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Template:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    block = {**context[CONTEXT_KEY]["dev"], "mlflowTrackingArn": MLFLOW_ARN, **settings}
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context={**context, CONTEXT_KEY: {"qa": block}})
    [environment] = load_environments({"qa": block}, None)
    stacks = add_environment(app, environment)
    check_with_nag(app)  # an unsuppressed finding fails the synth
    app.synth()
    return Template.from_stack(stacks.pipeline)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _synth(tmp_path_factory, mlflowArtifactStoreUri=ARTIFACT_STORE, mlflowArtifactKeyArn=ARTIFACT_KEY)


@pytest.fixture(scope="module")
def tracked_without_store(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _synth(tmp_path_factory)


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


def _statements_of(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(role_fragment in role["Ref"] for role in policy["Properties"].get("Roles", []))
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_only_the_training_role_and_the_evaluation_may_log_and_only_to_the_configured_server(
    tracked: Template,
) -> None:
    grants = sorted(_mlflow_grants(tracked), key=lambda grant: "SageMakerTraining" in grant[0][0])
    [(aggregate_roles, aggregate), (training_roles, training)] = grants

    assert len(training_roles) == 1 and "SageMakerTraining" in training_roles[0]
    assert training["Effect"] == "Allow"
    assert sorted(as_list(training["Action"])) == sorted(MLFLOW_LOGGING_ACTIONS)
    assert training["Resource"] == MLFLOW_ARN
    assert len(aggregate_roles) == 1 and "AggregateEvaluation" in aggregate_roles[0]
    assert sorted(as_list(aggregate["Action"])) == sorted(MLFLOW_TRACKING_ACTIONS)
    assert aggregate["Resource"] == MLFLOW_ARN
    assert _variable(tracked, "start_training_job", "NOVA_MLFLOW_TRACKING_ARN") == MLFLOW_ARN
    assert _variable(tracked, "aggregate_evaluation", "NOVA_MLFLOW_TRACKING_ARN") == MLFLOW_ARN
    assert _variable(tracked, "aggregate_evaluation", "NOVA_MLFLOW_ARTIFACT_STORE_URI") == ARTIFACT_STORE


def test_the_evaluation_may_write_under_the_artifact_store_only_when_one_is_configured(
    tracked: Template, tracked_without_store: Template
) -> None:
    def outside_buckets(template: Template) -> list[dict[str, Any]]:
        return [
            statement
            for statement in _statements_of(template, "AggregateEvaluation")
            if any(str(resource).startswith("arn:aws:s3:::") for resource in as_list(statement["Resource"]))
        ]

    assert outside_buckets(tracked) == [
        {"Action": "s3:PutObject", "Effect": "Allow", "Resource": "arn:aws:s3:::team-mlflow-artifacts/nova/*"}
    ]
    assert outside_buckets(tracked_without_store) == []
    # the store's bucket encrypts with its own key: GenerateDataKey on that key only, and only when it is named
    key_grants = [s for s in _statements_of(tracked, "AggregateEvaluation") if ARTIFACT_KEY in as_list(s["Resource"])]
    assert key_grants == [{"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": ARTIFACT_KEY}]
    assert not [s for s in _statements_of(tracked_without_store, "AggregateEvaluation") if ARTIFACT_KEY in str(s)]
    assert _variable(tracked_without_store, "aggregate_evaluation", "NOVA_MLFLOW_ARTIFACT_STORE_URI") == ""


def test_an_environment_without_a_server_grants_no_mlflow_action(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        assert _mlflow_grants(template) == [], name
    assert _variable(templates["nova-dev-pipeline"], "start_training_job", "NOVA_MLFLOW_TRACKING_ARN") == ""
    assert _variable(templates["nova-dev-pipeline"], "aggregate_evaluation", "NOVA_MLFLOW_TRACKING_ARN") == ""


def test_a_tracking_arn_of_another_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"nova:environments.qa.mlflowTrackingArn: String should match pattern"):
        load_environments({"qa": {"mlflowTrackingArn": "arn:aws:sagemaker:us-east-1:123456789012:model/x"}}, None)


def test_an_artifact_store_without_a_server_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"mlflowArtifactStoreUri is set without mlflowTrackingArn"):
        load_environments({"qa": {"mlflowArtifactStoreUri": ARTIFACT_STORE}}, None)


def test_an_artifact_key_without_a_store_or_that_is_not_a_key_arn_is_refused() -> None:
    block = {"mlflowTrackingArn": MLFLOW_ARN, "mlflowArtifactKeyArn": ARTIFACT_KEY}
    with pytest.raises(ConfigError, match=r"mlflowArtifactKeyArn is set without mlflowArtifactStoreUri"):
        load_environments({"qa": block}, None)
    alias = {**block, "mlflowArtifactStoreUri": ARTIFACT_STORE, "mlflowArtifactKeyArn": "alias/mlflow"}
    with pytest.raises(ConfigError, match=r"nova:environments.qa.mlflowArtifactKeyArn: String should match pattern"):
        load_environments({"qa": alias}, None)


def test_an_artifact_store_that_is_not_an_s3_location_is_refused() -> None:
    block = {"mlflowTrackingArn": MLFLOW_ARN, "mlflowArtifactStoreUri": "https://example.com/artifacts"}
    with pytest.raises(ConfigError, match=r"nova:environments.qa.mlflowArtifactStoreUri: String should match pattern"):
        load_environments({"qa": block}, None)
