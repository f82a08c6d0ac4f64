"""What the Bedrock and SageMaker service roles need at run time besides data access: the Nova training image, logs
and metrics of training jobs, the Amazon-managed escrow bucket of SageMaker checkpoints, and the teacher models of
distillation. Each grant cites the user guide that states it; the offline twin checks each as the service does.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

from nova_pipeline.contract.catalog import MODELS, SAGEMAKER_REGIONS, TRAINING_IMAGE_REPOSITORY
from nova_pipeline.jobs.bedrock import PROFILE_ONLY_TEACHERS

# The Regions the US cross-Region inference profiles route to (Bedrock user guide, "Supported Regions and models for
# inference profiles").
US_PROFILE_REGIONS = ("us-east-1", "us-east-2", "us-west-2")
FORGE_RECIPE_OBJECTS = "arn:aws:s3:::*model-customization-recipes*/*"


def training_image_account(region: str) -> str:
    """The account of the Nova training images in `region` (one table: `contract.catalog.SAGEMAKER_REGIONS`)."""
    if region not in SAGEMAKER_REGIONS:
        raise ValueError(
            f"SageMaker Nova training images are published in {', '.join(sorted(SAGEMAKER_REGIONS))}, not {region}"
        )
    return SAGEMAKER_REGIONS[region].image_account


def grant_training_runtime(role: iam.Role, stack: Stack) -> None:
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=[
                stack.format_arn(
                    service="ecr",
                    account=training_image_account(str(stack.region)),
                    resource="repository",
                    resource_name=TRAINING_IMAGE_REPOSITORY,
                )
            ],
        )
    )
    log_group = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="/aws/sagemaker/TrainingJobs*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group, f"{log_group}:log-stream:*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ecr:GetAuthorizationToken"],
            resources=["*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        )
    )
    # Nova Forge data mixing (serverless jobs): "The execution role must have Amazon S3 read access to the Amazon
    # Nova Forge subscription buckets so that the service can validate your subscription status" (Nova 2 user
    # guide, "Data mixing on SageMaker Training Jobs"); the buckets follow the recipe-bucket pattern of "IAM policy
    # requirements for Amazon Nova recipes" (s3:GetObject on arn:aws:s3:::*model-customization-recipes*).
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[FORGE_RECIPE_OBJECTS]))
    NagSuppressions.add_resource_suppressions(
        role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level "
                "permissions (the latter is limited to SageMaker namespaces by condition); training job log "
                "groups and streams are named by SageMaker per job; the Nova Forge recipe buckets are Amazon's, "
                "named per Region (read only: the subscription check of data mixing).",
                applies_to=[
                    "Resource::*",
                    f"Resource::{FORGE_RECIPE_OBJECTS}",
                    RegexAppliesTo(
                        regex=r"/^Resource::arn:.*:log-group:\/aws\/sagemaker\/TrainingJobs\*(:log-stream:\*)?$/g"
                    ),
                ],
            ),
        ],
        apply_to_children=True,
    )


def grant_checkpoint_import(role: iam.Role, stack: Stack) -> None:
    """CreateCustomModel from a SageMaker-trained Nova checkpoint reads the Amazon-managed escrow bucket SageMaker
    wrote it to, as this role (Bedrock user guide, "Create a service role for importing pre-trained models":
    s3:GetObject and s3:ListBucket on the bucket of the model artifacts; escrow buckets are named
    `customer-escrow-<account>-smtj-<id>` for training jobs, as in the aws/nova-forge-sdk IAM templates)."""
    bucket = f"arn:{stack.partition}:s3:::customer-escrow-{stack.account}-smtj-*"
    role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket]))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket}/*"]))
    NagSuppressions.add_resource_suppressions(
        role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="SageMaker names the Amazon-managed escrow bucket of this account's training checkpoints "
                "customer-escrow-<account>-smtj-<id>; the id is SageMaker's, so the name ends in a wildcard.",
                applies_to=[RegexAppliesTo(regex=r"/^Resource::arn:.*:s3:::customer-escrow-.*-smtj-\*(\/\*)?$/g")],
            )
        ],
        apply_to_children=True,
    )


def grant_teachers(role: iam.Role, stack: Stack) -> None:
    """A distillation job invokes its teacher as this role. A teacher reached through its cross-Region profile
    needs the profile and the foundation model in every Region the profile routes to (Bedrock user guide,
    "Prerequisites for model distillation"); the US profiles span us-east-1, us-east-2 and us-west-2."""
    resources = []
    for spec in MODELS.values():
        if not spec.distillation_teacher:
            continue
        model = spec.inference_profile_id.removeprefix("us.")
        if spec.short_name in PROFILE_ONLY_TEACHERS:
            profile = stack.format_arn(
                service="bedrock", resource="inference-profile", resource_name=spec.inference_profile_id
            )
            regions: tuple[str, ...] = US_PROFILE_REGIONS
            resources.append(profile)
        else:
            regions = (str(stack.region),)
        resources += [
            stack.format_arn(service="bedrock", region=r, account="", resource="foundation-model", resource_name=model)
            for r in regions
        ]
    role.add_to_policy(iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=resources))


# What a training job does on a SageMaker managed MLflow server when CreateTrainingJob carries `MlflowConfig`:
# find or create the experiment, create and update its run, log parameters, metrics and tags. Actions and their
# resource type (mlflow-tracking-server): Service Authorization Reference, "Actions, resources, and condition keys for
# Amazon SageMaker with MLflow" (https://docs.aws.amazon.com/service-authorization/latest/reference/
# list_amazonsagemakerwithmlflow.html). Only the configured server or app.
MLFLOW_LOGGING_ACTIONS = [
    f"sagemaker-mlflow:{action}"
    for action in (
        "CreateExperiment",
        "GetExperiment",
        "GetExperimentByName",
        "CreateRun",
        "UpdateRun",
        "GetRun",
        "LogBatch",
        "LogMetric",
        "LogParam",
        "SetTag",
    )
]


def grant_mlflow_logging(role: iam.Role, tracking_arn: str) -> None:
    role.add_to_policy(iam.PolicyStatement(actions=MLFLOW_LOGGING_ACTIONS, resources=[tracking_arn]))


# What AggregateEvaluation does on the server (evaluation.tracking): find or create the experiment
# (GET experiments/get-by-name, POST experiments/create), find or create the execution's run (runs/search,
# runs/create), log the stage (runs/log-batch) and end a run it created (runs/update). Action names: Service
# Authorization Reference, "Actions, resources, and condition keys for Amazon SageMaker with MLflow"
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html).
MLFLOW_TRACKING_ACTIONS = [
    f"sagemaker-mlflow:{action}"
    for action in ("GetExperimentByName", "CreateExperiment", "SearchRuns", "CreateRun", "LogBatch", "UpdateRun")
]


def grant_mlflow_tracking(
    role: iam.Role, tracking_arn: str, artifact_store_uri: str | None, artifact_key_arn: str | None = None
) -> None:
    """The MLflow calls of the evaluation on the configured server or app only, and writing objects (the reports as
    run artifacts) under its artifact store, when one is configured, only, with its bucket's KMS key if it has one."""
    role.add_to_policy(iam.PolicyStatement(actions=MLFLOW_TRACKING_ACTIONS, resources=[tracking_arn]))
    if artifact_store_uri:
        store = artifact_store_uri.removeprefix("s3://").rstrip("/")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[f"arn:aws:s3:::{store}/*"]))
    if artifact_key_arn:
        role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[artifact_key_arn]))
