"""CustomizationJobs: the Bedrock job or SageMaker training job, the model import, the on-demand deployment, the RFT
reward function and its pre-flight check, and Cleanup (stops the job, deletes the deployment, notifies).

Jobs, custom models, deployments and training jobs are created per execution with generated ids, so each action is
granted on its resource type (`.../custom-model/*`) and no wider.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.core import layout
from nova_pipeline.core.settings import (
    BedrockJobSettings,
    CleanupSettings,
    ImportModelSettings,
    PollSettings,
    PreflightSettings,
    TrainingJobSettings,
)
from stacks.constructs import stage
from stacks.constructs.customization_roles import grant_prefix_read, grant_prefix_write
from stacks.constructs.stage import (
    PipelineResources,
    add_functions,
    allow_wildcards,
    bedrock_arn,
    build_function,
    spec,
)

START_BEDROCK_JOB = spec("StartBedrockJob", "start_bedrock_job", "Starts a customization job", BedrockJobSettings)
POLL_BEDROCK_JOB = spec("PollBedrockJob", "poll_bedrock_job", "Polls a customization job", PollSettings)
START_TRAINING_JOB = spec(
    "StartTrainingJob", "start_training_job", "Starts a Nova recipe training job", TrainingJobSettings
)
POLL_TRAINING_JOB = spec("PollTrainingJob", "poll_training_job", "Polls a training job", PollSettings)
IMPORT_MODEL = spec("ImportModel", "import_model", "Imports a trained checkpoint", ImportModelSettings)
POLL_IMPORTED_MODEL = spec("PollImportedModel", "poll_imported_model", "Polls a custom model import", PollSettings)
CREATE_DEPLOYMENT = spec("CreateDeployment", "create_deployment", "Creates an on-demand deployment", PollSettings)
POLL_DEPLOYMENT = spec("PollDeployment", "poll_deployment", "Polls an on-demand deployment", PollSettings)
RFT_GRADER = spec("RftGrader", "rft_grader", "RFT reward function", seconds=60, memory=1024, task=False)
PREFLIGHT_GRADER = spec(
    "PreflightGrader", "preflight_grader", "Checks the reward function before RFT", PreflightSettings, seconds=120
)
CLEANUP = spec("Cleanup", "cleanup", "Stops, deletes and notifies on failure", CleanupSettings, seconds=60)
FUNCTIONS = (
    START_BEDROCK_JOB,
    POLL_BEDROCK_JOB,
    START_TRAINING_JOB,
    POLL_TRAINING_JOB,
    IMPORT_MODEL,
    POLL_IMPORTED_MODEL,
    CREATE_DEPLOYMENT,
    POLL_DEPLOYMENT,
    RFT_GRADER,
    PREFLIGHT_GRADER,
    CLEANUP,
)


class CustomizationJobs(Construct):
    """The job, import and deployment functions with their Bedrock/SageMaker permissions. The stack wires
    Cleanup's publish grant on the topic."""

    FUNCTIONS = FUNCTIONS

    def __init__(self, scope: Construct, construct_id: str, *, resources: PipelineResources, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        roles, key = resources.roles, resources.key
        self.grader = build_function(
            self, RFT_GRADER, settings=resources.settings, layer=resources.layer, values={}, log_key=key
        )
        values = {
            "NOVA_POLL_INTERVAL_SECONDS": str(resources.settings.poll_interval_seconds),
            "NOVA_BEDROCK_ROLE_ARN": roles.bedrock.role_arn,
            "NOVA_SAGEMAKER_ROLE_ARN": roles.sagemaker.role_arn,
            "NOVA_ARTIFACTS_BUCKET": resources.artifacts_bucket.bucket_name,
            "NOVA_KMS_KEY_ARN": key.key_arn,
            "NOVA_GRADER_FUNCTION_ARN": self.grader.function.function_arn,
            "NOVA_TOPIC_ARN": topic.topic_arn,
            "NOVA_DATA_BUCKET": resources.data_bucket.bucket_name,
            "NOVA_MLFLOW_TRACKING_ARN": resources.settings.mlflow_tracking_arn or "",
        }
        others = [s for s in FUNCTIONS if s is not RFT_GRADER]
        self.functions = {**add_functions(self, others, resources, values), RFT_GRADER.construct_id: self.grader}
        role = {name: function.role for name, function in self.functions.items()}
        start_job, start_training, import_model = (
            role[s.construct_id] for s in (START_BEDROCK_JOB, START_TRAINING_JOB, IMPORT_MODEL)
        )
        cleanup = role[CLEANUP.construct_id]
        self.cleanup = self.functions[CLEANUP.construct_id]

        jobs, custom_models = bedrock_arn(self, "model-customization-job"), bedrock_arn(self, "custom-model")
        deployments = bedrock_arn(self, "custom-model-deployment")
        training_jobs = Stack.of(self).format_arn(service="sagemaker", resource="training-job", resource_name="*")
        base_models = [
            bedrock_arn(self, "foundation-model", model.customization_id.split(":")[0] + ":*", account=False)
            for model in MODELS.values()
            if model.customization_id
        ] + [
            bedrock_arn(self, "foundation-model", "amazon.nova-pro-v1:0", account=False),
            bedrock_arn(self, "foundation-model", "amazon.nova-premier-v1:0", account=False),
        ]
        _allow(
            start_job,
            ["bedrock:CreateModelCustomizationJob", "bedrock:GetModelCustomizationJob", "bedrock:TagResource"],
            [jobs, custom_models, *base_models],
        )
        _allow(role[POLL_BEDROCK_JOB.construct_id], ["bedrock:GetModelCustomizationJob"], [jobs])
        roles.grant_pass_role(start_job, bedrock=True)
        roles.grant_pass_role(import_model, bedrock=True)
        roles.grant_pass_role(start_training, sagemaker=True)
        _allow(
            start_training,
            ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"],
            [training_jobs],
        )
        _allow(role[POLL_TRAINING_JOB.construct_id], ["sagemaker:DescribeTrainingJob"], [training_jobs])
        grant_prefix_write(start_training, resources.artifacts_bucket, layout.RECIPES, listing=False)
        # Multi-stage runs: each later stage's training file is read from and written under prepared/<run>/.
        for grantee in (start_job, start_training):
            grant_prefix_write(grantee, resources.data_bucket, layout.PREPARED, listing=False)
        grant_prefix_read(import_model, resources.artifacts_bucket, layout.JOBS, listing=False)
        _allow(import_model, ["bedrock:CreateCustomModel", "bedrock:TagResource"], [custom_models])
        _allow(role[POLL_IMPORTED_MODEL.construct_id], ["bedrock:GetCustomModel"], [custom_models])
        # Cleanup looks this execution's job up by its derived name when a start was accepted but never recorded;
        # what it stops or deletes must be this environment's (tagged) resource: dev's cleanup cannot touch prod's.
        scoped = stage.environment_scope(resources.settings)
        _allow(cleanup, ["bedrock:GetModelCustomizationJob"], [jobs])
        _allow(cleanup, ["bedrock:StopModelCustomizationJob"], [jobs], scoped)
        _allow(cleanup, ["sagemaker:DescribeTrainingJob"], [training_jobs])
        _allow(cleanup, ["sagemaker:StopTrainingJob"], [training_jobs], scoped)
        _allow(
            cleanup,
            ["bedrock:DeleteCustomModelDeployment", "bedrock:DeleteCustomModel"],
            [deployments, custom_models],
            scoped,
        )
        for grantee in (start_job, start_training, import_model):
            key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")

        _allow(
            role[CREATE_DEPLOYMENT.construct_id],
            ["bedrock:CreateCustomModelDeployment", "bedrock:TagResource"],
            [deployments, custom_models],
        )
        # The custom models are encrypted with the environment's key and deploying one uses it ("If the model is
        # encrypted with a KMS key, you must have permission to use that key": Bedrock user guide, deployments).
        key.grant(role[CREATE_DEPLOYMENT.construct_id], "kms:Decrypt", "kms:GenerateDataKey")
        _allow(role[POLL_DEPLOYMENT.construct_id], ["bedrock:GetCustomModelDeployment"], [deployments])

        # The reward function: Bedrock invokes it during RFT; PreflightGrader invokes it on prepared samples first.
        preflight = role[PREFLIGHT_GRADER.construct_id]
        grant_prefix_read(preflight, resources.data_bucket, layout.PREPARED, listing=False)
        key.grant(preflight, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        invoke_grader = iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[self.grader.function.function_arn]
        )
        preflight.add_to_policy(invoke_grader)
        roles.bedrock.add_to_policy(invoke_grader)
        # SageMaker RFT invokes it too, as the training job's execution role (Nova 2 user guide, RFT on SageMaker
        # training jobs: the execution role needs lambda:InvokeFunction on the reward function).
        roles.sagemaker.add_to_policy(invoke_grader)

        allow_wildcards(
            [role[s.construct_id] for s in FUNCTIONS if s not in (RFT_GRADER, PREFLIGHT_GRADER)],
            "Jobs, custom models, deployments and training jobs are created per execution with generated ids, so "
            "their ARNs end in a wildcard; each action is limited to its resource type. Base models are the Nova "
            "customization models; recipes/ and jobs/ are per-run prefixes.",
            r"/^Resource::arn:.*:bedrock:.*:(model-customization-job|custom-model|custom-model-deployment)\/\*$/g",
            r"/^Resource::arn:.*:bedrock:.*::foundation-model\/amazon\.nova-.*$/g",
            r"/^Resource::arn:.*:sagemaker:.*:training-job\/\*$/g",
            rf"/^Resource::.+\/({layout.RECIPES}|{layout.JOBS}|{layout.PREPARED})\*$/g",
        )
        allow_wildcards(
            [preflight],
            "Reads samples of the run's training set under prepared/; object names under the prefix are chosen "
            "per run.",
            rf"/^Resource::.+\/{layout.PREPARED}\*$/g",
        )


def _allow(role: iam.IRole, actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions))
