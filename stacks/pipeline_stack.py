"""PipelineStack: the customization roles, the pipeline stages, the state machine and its notifications.

The stack composes constructs and wires the grants between them; each stage construct owns its functions, their
`NOVA_*` variables, their permissions and their cdk-nag suppressions.
"""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import EnvironmentSettings
from stacks.constructs.customization_jobs import CustomizationJobs
from stacks.constructs.customization_roles import CustomizationRoles
from stacks.constructs.customization_workflow import CustomizationWorkflow
from stacks.constructs.data_preparation import DataPreparation
from stacks.constructs.data_triggers import START_FROM_UPLOAD, DataTriggers
from stacks.constructs.evaluation import Evaluation
from stacks.constructs.guards import Guards
from stacks.constructs.lambda_layer import shared_layer
from stacks.constructs.lifecycle import Lifecycle
from stacks.constructs.notifications import Notifications, grant_publish
from stacks.constructs.pipeline_function import PipelineFunction
from stacks.constructs.provisioned_throughput import ProvisionedThroughput
from stacks.constructs.sagemaker_evaluation import SageMakerEvaluation
from stacks.constructs.stage import FunctionSpec, PipelineResources
from stacks.storage_stack import StorageStack
from stepfunctions.workflow import definition

STAGES = (DataPreparation, CustomizationJobs, SageMakerEvaluation, Evaluation, Guards, Lifecycle, ProvisionedThroughput)
OPTIONAL = (START_FROM_UPLOAD,)  # created when the environment enables it


def function_specs(settings: EnvironmentSettings | None = None) -> list[FunctionSpec]:
    """Every pipeline function, as its stage declares it (with `settings`: those the environment deploys)."""
    optional = [s for s in OPTIONAL if settings is None or settings.triggers.enabled]
    return [spec for stage in STAGES for spec in stage.FUNCTIONS] + optional


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        storage: StorageStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings, self.storage = settings, storage
        self.roles = CustomizationRoles(
            self,
            "CustomizationRoles",
            data_bucket=storage.data_bucket,
            artifacts_bucket=storage.artifacts_bucket,
            key=storage.key,
            mlflow_tracking_arn=settings.mlflow_tracking_arn,
        )
        self.notifications = Notifications(self, "Notifications", settings=settings, key=storage.key)
        self.topic = self.notifications.topic
        self.layer = shared_layer(self, "SharedLayer")
        resources = PipelineResources(
            settings=settings,
            layer=self.layer,
            data_bucket=storage.data_bucket,
            artifacts_bucket=storage.artifacts_bucket,
            key=storage.key,
            roles=self.roles,
        )
        preparation = DataPreparation(self, "DataPreparation", resources=resources)
        jobs = CustomizationJobs(self, "CustomizationJobs", resources=resources, topic=self.topic)
        sagemaker_evaluation = SageMakerEvaluation(self, "SageMakerEvaluation", resources=resources)
        evaluation = Evaluation(self, "Evaluation", resources=resources)
        guards = Guards(self, "Guards", resources=resources, topic=self.topic)
        lifecycle = Lifecycle(self, "Lifecycle", resources=resources)
        provisioned = ProvisionedThroughput(  # bills hourly: Cleanup, RejectCandidate and gc delete it
            self,
            "ProvisionedThroughput",
            resources=resources,
            deleters=[jobs.cleanup.role, evaluation.functions["RejectCandidate"].role],
            collector=lifecycle.function.role,
        )
        self.functions: dict[str, PipelineFunction] = {
            **preparation.functions,
            **jobs.functions,
            **sagemaker_evaluation.functions,
            **evaluation.functions,
            **guards.functions,
            **lifecycle.functions,
            **provisioned.functions,
        }
        grant_publish(self.topic, storage.key, jobs.cleanup.role)

        tasks = {f"{spec.construct_id}Arn": self.functions[spec.construct_id] for spec in function_specs() if spec.task}
        # The id keeps the named state machine's logical id; the definition body is created on the one line below.
        self.workflow = CustomizationWorkflow(
            self,
            "CustomizationStateMachine",
            settings=settings,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition(), indent=2)),
            tasks=tasks,
            data_bucket=storage.data_bucket,
            key=storage.key,
        )
        self.state_machine = self.workflow.state_machine
        if settings.triggers.enabled:
            triggers = DataTriggers(self, "DataTriggers", resources=resources, state_machine=self.state_machine)
            self.functions[START_FROM_UPLOAD.construct_id] = triggers.function

        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "BedrockCustomizationRoleArn", value=self.roles.bedrock.role_arn)
        CfnOutput(self, "SageMakerTrainingRoleArn", value=self.roles.sagemaker.role_arn)
        CfnOutput(self, "GarbageCollectFunctionName", value=lifecycle.function.function.function_name)
