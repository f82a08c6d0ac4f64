"""PipelineStack: service role trust and scope, the Lambda pattern, and IAM rules that hold for every stack."""

from __future__ import annotations

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from stacks.constructs.customization_roles import CustomizationRoles
from tests.infra.conftest import as_list, policy_statements

# Actions that AWS only authorizes on Resource "*" (X-Ray, CloudWatch Logs vended-log delivery used by Step
# Functions logging, ECR authorization, CloudWatch metrics).
ACTIONS_WITHOUT_RESOURCE_SCOPE = {
    "bedrock:ListCustomModels",  # gc (Service Authorization Reference: no resource types for list actions)
    "bedrock:ListCustomModelDeployments",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def role_named(template: Template, description_start: str) -> dict[str, object]:
    roles = [
        role
        for role in template.find_resources("AWS::IAM::Role").values()
        if str(role["Properties"].get("Description", "")).startswith(description_start)
    ]
    assert len(roles) == 1
    return roles[0]


@pytest.mark.parametrize(
    ("description", "service", "source_arn_resource"),
    [
        ("Assumed by Amazon Bedrock", "bedrock.amazonaws.com", ":model-customization-job/*"),
        ("Assumed by SageMaker AI", "sagemaker.amazonaws.com", ":training-job/*"),
    ],
)
def test_service_roles_trust_only_their_service_for_this_account(
    templates: dict[str, Template], description: str, service: str, source_arn_resource: str
) -> None:
    role = role_named(templates["nova-prod-pipeline"], description)
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert statement["Principal"] == {"Service": service}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arns = as_list(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert any(source_arn_resource in str(arn) for arn in source_arns)


def test_bedrock_role_reads_only_prepared_data_and_writes_only_job_output(templates: dict[str, Template]) -> None:
    template = templates["nova-prod-pipeline"]
    policies = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("CustomizationRolesBedrockCustomization")}]}},
    )
    [policy] = policies.values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    object_statements = [s for s in statements if "s3:GetObject" in as_list(s["Action"])]
    prefixes = sorted(str(r["Fn::Join"][1][-1]) for s in object_statements for r in as_list(s["Resource"]))

    # its data, its output, and the Amazon-managed escrow bucket of SageMaker checkpoints it imports
    assert prefixes == ["-smtj-*/*", "/jobs/*", "/prepared/*"]
    writes = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
    assert [str(s["Resource"]["Fn::Join"][1][-1]) for s in writes] == ["/jobs/*"]
    kms = [s for s in statements if any(str(a).startswith("kms:") for a in as_list(s["Action"]))]
    assert sorted(kms[0]["Action"]) == ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_validator_function_uses_the_shared_defaults(templates: dict[str, Template], env: str) -> None:
    template = templates[f"nova-{env}-pipeline"]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "handler.lambda_handler",
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Layers": [Match.any_value()],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "POWERTOOLS_SERVICE_NAME": "validate_input",
                        "POWERTOOLS_METRICS_NAMESPACE": "NovaCustomization",
                        "NOVA_ENVIRONMENT": env,
                        "NOVA_DEFAULT_BASE_MODEL": "nova-micro",
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.14"], "CompatibleArchitectures": ["arm64"]},
    )


@pytest.mark.parametrize(
    ("service", "memory"), [("prepare_data", 3584), ("prepare_shard", 3584), ("merge_shards", 2048)]
)
def test_preparation_functions_have_two_vcpus_and_room_in_tmp_for_a_few_gb(
    templates: dict[str, Template], service: str, memory: int
) -> None:
    templates["nova-dev-pipeline"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": memory,
            "Timeout": 900,
            "EphemeralStorage": {"Size": 10240},
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": service})},
        },
    )


def test_log_groups_keep_the_environment_retention(templates: dict[str, Template]) -> None:
    templates["nova-dev-pipeline"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 14})
    templates["nova-prod-pipeline"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 365})


def test_function_role_may_write_only_its_own_log_group(templates: dict[str, Template]) -> None:
    template = templates["nova-prod-pipeline"]
    statements = [s for s in policy_statements(template) if "logs:PutLogEvents" in as_list(s["Action"])]
    function_statements = [s for s in statements if "CreateLogStream" in str(s["Action"])]

    assert function_statements
    for statement in function_statements:
        for resource in as_list(statement["Resource"]):
            assert "Fn::GetAtt" in resource or "/aws/sagemaker/TrainingJobs" in str(resource), resource


def test_no_statement_allows_every_resource_unless_its_action_requires_it(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        for statement in policy_statements(template):
            if "*" in as_list(statement.get("Resource")):
                actions = set(as_list(statement["Action"]))
                assert actions <= ACTIONS_WITHOUT_RESOURCE_SCOPE, (name, statement)


def test_no_wildcard_pass_role_anywhere(templates: dict[str, Template]) -> None:
    for template in templates.values():
        for statement in policy_statements(template):
            if "iam:PassRole" in as_list(statement["Action"]):
                assert "*" not in as_list(statement["Resource"])
                assert "iam:PassedToService" in statement["Condition"]["StringEquals"]


def test_pass_role_grant_is_limited_to_the_chosen_role_and_its_service() -> None:
    stack = Stack(App(), "Consumer", env=Environment(account="123456789012", region="us-east-1"))
    roles = CustomizationRoles(
        stack,
        "Roles",
        data_bucket=s3.Bucket(stack, "Data"),
        artifacts_bucket=s3.Bucket(stack, "Artifacts"),
        key=kms.Key(stack, "Key", enable_key_rotation=True),
    )
    starter = iam.Role(stack, "Starter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    roles.grant_pass_role(starter, bedrock=True)

    statements = [s for s in policy_statements(Template.from_stack(stack)) if s["Action"] == "iam:PassRole"]
    assert len(statements) == 1
    assert statements[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert statements[0]["Resource"]["Fn::GetAtt"][0].startswith("RolesBedrockCustomization")
