"""SageMakerEvaluation: SageMaker's Nova evaluation recipes on the trained checkpoint (`sagemaker.evaluationRecipes`),
one training job per task, started after training and polled after the model import.

The start function reads the training output's manifest (jobs/), writes each recipe (recipes/), creates the jobs
and passes the SageMaker role; the poll function describes them and reads their results (jobs/). The SageMaker role
reads gen_qa datasets under raw/ of the data bucket (the job's `train` channel).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from nova_pipeline.contract.catalog import EVALUATION_IMAGE_REPOSITORY
from nova_pipeline.core import layout
from nova_pipeline.core.settings import PollSettings, SageMakerEvaluationSettings
from stacks.constructs.customization_roles import grant_prefix_read, grant_prefix_write
from stacks.constructs.service_grants import training_image_account
from stacks.constructs.stage import PipelineResources, add_functions, allow_wildcards, spec

START_SAGEMAKER_EVALUATION = spec(
    "StartSageMakerEvaluation",
    "start_sagemaker_evaluation",
    "Starts Nova evaluation-recipe jobs on the checkpoint",
    SageMakerEvaluationSettings,
)
POLL_SAGEMAKER_EVALUATION = spec(
    "PollSageMakerEvaluation", "poll_sagemaker_evaluation", "Polls the Nova evaluation-recipe jobs", PollSettings
)
FUNCTIONS = (START_SAGEMAKER_EVALUATION, POLL_SAGEMAKER_EVALUATION)


class SageMakerEvaluation(Construct):
    FUNCTIONS = FUNCTIONS

    def __init__(self, scope: Construct, construct_id: str, *, resources: PipelineResources) -> None:
        super().__init__(scope, construct_id)
        roles, key = resources.roles, resources.key
        values = {
            "NOVA_POLL_INTERVAL_SECONDS": str(resources.settings.poll_interval_seconds),
            "NOVA_SAGEMAKER_ROLE_ARN": roles.sagemaker.role_arn,
            "NOVA_ARTIFACTS_BUCKET": resources.artifacts_bucket.bucket_name,
            "NOVA_DATA_BUCKET": resources.data_bucket.bucket_name,
            "NOVA_KMS_KEY_ARN": key.key_arn,
        }
        self.functions = add_functions(self, FUNCTIONS, resources, values)
        start = self.functions[START_SAGEMAKER_EVALUATION.construct_id].role
        poll = self.functions[POLL_SAGEMAKER_EVALUATION.construct_id].role
        training_jobs = Stack.of(self).format_arn(service="sagemaker", resource="training-job", resource_name="*")
        start.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"],
                resources=[training_jobs],
            )
        )
        roles.grant_pass_role(start, sagemaker=True)
        grant_prefix_read(start, resources.artifacts_bucket, layout.JOBS, listing=False)  # the checkpoint manifest
        grant_prefix_write(start, resources.artifacts_bucket, layout.RECIPES, listing=False)
        key.grant(start, "kms:Decrypt", "kms:GenerateDataKey")
        poll.add_to_principal_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=[training_jobs])
        )
        grant_prefix_read(poll, resources.artifacts_bucket, layout.JOBS, listing=False)  # results_*.json
        key.grant(poll, "kms:Decrypt")
        # The evaluation jobs pull the Nova evaluation image (same ECR account as the training images; the role's
        # token and log grants come from grant_training_runtime).
        stack = Stack.of(self)
        roles.sagemaker.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[
                    stack.format_arn(
                        service="ecr",
                        account=training_image_account(str(stack.region)),
                        resource="repository",
                        resource_name=EVALUATION_IMAGE_REPOSITORY,
                    )
                ],
            )
        )
        # gen_qa: the evaluation job reads the user's dataset under raw/ as its `train` channel (an S3 prefix, listed).
        grant_prefix_read(roles.sagemaker, resources.data_bucket, layout.RAW, listing=True)
        allow_wildcards(
            [start, poll, roles.sagemaker],
            "Evaluation jobs are created per execution with generated names (training-job/*); recipes/ and jobs/ "
            "are per-run prefixes of the artifacts bucket and raw/ holds the user's gen_qa datasets.",
            r"/^Resource::arn:.*:sagemaker:.*:training-job\/\*$/g",
            rf"/^Resource::.+\/({layout.RECIPES}|{layout.JOBS}|{layout.RAW})\*$/g",
        )
