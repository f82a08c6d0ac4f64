"""PipelineStack: the customization roles, the pipeline functions, the state machine and its notifications.

The stack composes constructs and wires grants; each capability lives in its construct or its function's folder.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.core import layout
from nova_pipeline.promotion.record import active_model_parameter_name
from stacks.config import EnvironmentSettings
from stacks.constructs.customization_roles import CustomizationRoles, grant_prefix_read, grant_prefix_write
from stacks.constructs.lambda_layer import shared_layer
from stacks.constructs.pipeline_function import PipelineFunction
from stacks.constructs.retention import log_retention, removal_policy
from stacks.storage_stack import StorageStack
from stepfunctions.workflow import definition

PREPARE_MEMORY_MB = 3584  # two vCPUs for the two preparation worker processes
PREPARE_TMP_MIB = 10240  # spool, index and outputs of inputs up to a few GB


def gate_defaults(settings: EnvironmentSettings) -> dict[str, float | None]:
    """The environment's quality-gate defaults, as the evaluation function reads them."""
    evaluation = settings.evaluation
    return {
        "min_primary_metric": evaluation.min_primary_metric,
        "min_gain_over_baseline": evaluation.min_gain_over_baseline,
        "max_ttft_p90_ms": evaluation.max_ttft_p90_ms,
        "max_cost_per_1k_requests_usd": evaluation.max_cost_per_1k_requests_usd,
        "max_error_rate": evaluation.max_error_rate,
    }


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
        )
        self.topic = sns.Topic(
            self, "Notifications", display_name=f"Nova customization ({settings.name})", enforce_ssl=True
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self.layer = shared_layer(self, "SharedLayer")
        self.functions: dict[str, PipelineFunction] = {}

        validate = self._function("ValidateInput", "validate_input", "Validates an execution input", seconds=10)
        plan = self._function("PlanData", "plan_data", "Chooses one-shot or fanned-out data preparation")
        # Preparation reads with one worker process per vCPU (3,584 MB buys two) and stages its spool, index and
        # outputs in /tmp: about the input's size again, so /tmp is raised to 10 GiB for inputs of a few GB.
        prepare = self._function(
            "PrepareData",
            "prepare_data",
            "Validates, sanitizes and splits a dataset",
            seconds=900,
            memory=PREPARE_MEMORY_MB,
            ephemeral_mib=PREPARE_TMP_MIB,
        )
        prepare_shard = self._function(
            "PrepareShard",
            "prepare_shard",
            "Normalizes and validates one dataset object",
            seconds=900,
            memory=PREPARE_MEMORY_MB,
            ephemeral_mib=PREPARE_TMP_MIB,
        )
        merge_shards = self._function(
            "MergeShards",
            "merge_shards",
            "Merges shards into splits and a manifest",
            seconds=900,
            memory=2048,
            ephemeral_mib=PREPARE_TMP_MIB,
        )
        start_job = self._function("StartBedrockJob", "start_bedrock_job", "Starts a customization job")
        poll_job = self._function("PollBedrockJob", "poll_bedrock_job", "Polls a customization job")
        start_training = self._function("StartTrainingJob", "start_training_job", "Starts a Nova recipe training job")
        poll_training = self._function("PollTrainingJob", "poll_training_job", "Polls a training job")
        import_model = self._function("ImportModel", "import_model", "Imports a trained checkpoint")
        poll_model = self._function("PollImportedModel", "poll_imported_model", "Polls a custom model import")
        create_deployment = self._function("CreateDeployment", "create_deployment", "Creates an on-demand deployment")
        poll_deployment = self._function("PollDeployment", "poll_deployment", "Polls an on-demand deployment")
        grader = self._function("RftGrader", "rft_grader", "RFT reward function", seconds=60, memory=1024)
        preflight = self._function(
            "PreflightGrader",
            "preflight_grader",
            "Checks the reward function before RFT",
            seconds=120,
        )
        plan_evaluation = self._function("PlanEvaluation", "plan_evaluation", "Batches the test split for evaluation")
        evaluate_batch = self._function(
            "EvaluateBatch",
            "evaluate_batch",
            "Evaluates one batch with ConverseStream",
            seconds=900,
        )
        aggregate = self._function(
            "AggregateEvaluation",
            "aggregate_evaluation",
            "Metrics, gate verdict and report",
            seconds=300,
            memory=1024,
        )
        promote = self._function("Promote", "promote", "Writes the active-model record")
        reject = self._function("RejectCandidate", "reject_candidate", "Deletes a rejected deployment")
        summarize = self._function("Summarize", "summarize", "Summarizes a successful execution")
        cleanup = self._function("Cleanup", "cleanup", "Stops, deletes and notifies on failure", seconds=60)

        self._grant_data_access(plan=plan, preparers=[prepare, prepare_shard, merge_shards], preflight=preflight)
        self._grant_jobs(
            start_job=start_job,
            poll_job=poll_job,
            start_training=start_training,
            poll_training=poll_training,
            import_model=import_model,
            poll_model=poll_model,
            cleanup=cleanup,
        )
        self._grant_deployments(create_deployment, poll_deployment, cleanup)
        invoke_grader = iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[grader.function.function_arn])
        preflight.role.add_to_policy(invoke_grader)
        self.roles.bedrock.add_to_policy(invoke_grader)
        for function in (start_job, preflight):
            function.function.add_environment("NOVA_GRADER_FUNCTION_ARN", grader.function.function_arn)
        self.topic.grant_publish(cleanup.role)
        self._grant_evaluation(
            plan=plan_evaluation, batch=evaluate_batch, aggregate=aggregate, promote=promote, reject=reject
        )

        self.state_machine = self._state_machine(
            {
                "ValidateInputArn": validate,
                "PlanDataArn": plan,
                "PrepareDataArn": prepare,
                "PrepareShardArn": prepare_shard,
                "MergeShardsArn": merge_shards,
                "PreflightGraderArn": preflight,
                "StartBedrockJobArn": start_job,
                "PollBedrockJobArn": poll_job,
                "StartTrainingJobArn": start_training,
                "PollTrainingJobArn": poll_training,
                "ImportModelArn": import_model,
                "PollImportedModelArn": poll_model,
                "CreateDeploymentArn": create_deployment,
                "PollDeploymentArn": poll_deployment,
                "PlanEvaluationArn": plan_evaluation,
                "EvaluateBatchArn": evaluate_batch,
                "AggregateEvaluationArn": aggregate,
                "PromoteArn": promote,
                "RejectCandidateArn": reject,
                "SummarizeArn": summarize,
                "CleanupArn": cleanup,
            }
        )
        self._forward_job_events()

        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "BedrockCustomizationRoleArn", value=self.roles.bedrock.role_arn)
        CfnOutput(self, "SageMakerTrainingRoleArn", value=self.roles.sagemaker.role_arn)

    # ------------------------------------------------------------------------------------------ functions
    def _function(
        self,
        construct_id: str,
        handler_dir: str,
        description: str,
        *,
        handler: str = "lambda_handler",
        seconds: int = 30,
        memory: int = 512,
        ephemeral_mib: int = 512,
    ) -> PipelineFunction:
        storage = self.storage
        function = PipelineFunction(
            self,
            construct_id,
            settings=self.settings,
            layer=self.layer,
            handler_dir=handler_dir,
            handler=handler,
            description=description,
            timeout=Duration.seconds(seconds),
            memory_size=memory,
            ephemeral_mib=ephemeral_mib,
            environment={
                "NOVA_DATA_BUCKET": storage.data_bucket.bucket_name,
                "NOVA_ARTIFACTS_BUCKET": storage.artifacts_bucket.bucket_name,
                "NOVA_KMS_KEY_ARN": storage.key.key_arn,
                "NOVA_POLL_INTERVAL_SECONDS": str(self.settings.poll_interval_seconds),
                "NOVA_BEDROCK_ROLE_ARN": self.roles.bedrock.role_arn,
                "NOVA_SAGEMAKER_ROLE_ARN": self.roles.sagemaker.role_arn,
                "NOVA_TOPIC_ARN": self.topic.topic_arn,
                "NOVA_EVALUATION_RPM": str(self.settings.evaluation.requests_per_minute),
                "NOVA_GATE_DEFAULTS": json.dumps(gate_defaults(self.settings)),
                "NOVA_DELETE_REJECTED": str(self.settings.evaluation.delete_rejected_deployment).lower(),
            },
        )
        self.functions[construct_id] = function
        return function

    def _grant_data_access(
        self, *, plan: PipelineFunction, preparers: list[PipelineFunction], preflight: PipelineFunction
    ) -> None:
        data, key = self.storage.data_bucket, self.storage.key
        plan.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{layout.RAW}*"]}},
            )
        )
        plan.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[data.arn_for_objects(f"{layout.RAW}*")])
        )
        for function in preparers:
            grant_prefix_read(function.role, data, layout.RAW)
            grant_prefix_write(function.role, data, layout.PREPARED)
        grant_prefix_read(preflight.role, data, layout.PREPARED)
        for function in (plan, *preparers, preflight):
            key.grant(function.role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
            NagSuppressions.add_resource_suppressions(
                function.role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="Reads raw/ and writes prepared/ of the data bucket; object names under the "
                        "prefixes are chosen per run.",
                        applies_to=[RegexAppliesTo(regex=r"/^Resource::.+\/(raw|prepared)\/\*$/g")],
                    )
                ],
                apply_to_children=True,
            )

    def _grant_evaluation(
        self,
        *,
        plan: PipelineFunction,
        batch: PipelineFunction,
        aggregate: PipelineFunction,
        promote: PipelineFunction,
        reject: PipelineFunction,
    ) -> None:
        data, artifacts, key = self.storage.data_bucket, self.storage.artifacts_bucket, self.storage.key
        grant_prefix_read(plan.role, data, layout.PREPARED)
        for function in (plan, batch, aggregate):
            grant_prefix_write(function.role, data, layout.EVALUATION)
        grant_prefix_write(aggregate.role, data, layout.REPORTS)
        grant_prefix_read(aggregate.role, artifacts, layout.JOBS)
        parameter = self.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=active_model_parameter_name(self.settings.name).lstrip("/"),
        )
        for function in (plan, aggregate):
            function.role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter]))
        promote.role.add_to_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[parameter])
        )
        invoke_resources = [self._arn("custom-model-deployment")]
        for spec in MODELS.values():
            invoke_resources.append(self._arn("inference-profile", spec.inference_profile_id))
            base_id = spec.inference_profile_id.removeprefix("us.")
            invoke_resources.append(
                self.format_arn(
                    service="bedrock", region="*", account="", resource="foundation-model", resource_name=base_id
                )
            )
        batch.role.add_to_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], resources=invoke_resources
            )
        )
        reject.role.add_to_policy(
            iam.PolicyStatement(
                actions=["bedrock:DeleteCustomModelDeployment"], resources=[self._arn("custom-model-deployment")]
            )
        )
        for function in (plan, batch, aggregate, promote):
            key.grant(function.role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        for function in (plan, batch, aggregate, promote, reject):
            NagSuppressions.add_resource_suppressions(
                function.role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="Evaluation reads and writes per-run objects under prepared/, evaluation/, "
                        "reports/ and jobs/; deployments are created per execution; cross-region inference "
                        "profiles route a base model to its foundation model in any US region.",
                        applies_to=[
                            RegexAppliesTo(regex=r"/^Resource::.+\/(prepared|evaluation|reports|jobs)\/\*$/g"),
                            RegexAppliesTo(regex=r"/^Resource::arn:.*:bedrock:.*:custom-model-deployment\/\*$/g"),
                            RegexAppliesTo(
                                regex=r"/^Resource::arn:.*:bedrock:\*::foundation-model\/amazon\.nova-.*$/g"
                            ),
                        ],
                    )
                ],
                apply_to_children=True,
            )

    def _arn(self, resource: str, name: str = "*", *, account: bool = True) -> str:
        return self.format_arn(
            service="bedrock", resource=resource, resource_name=name, account=None if account else ""
        )

    def _grant_jobs(
        self,
        *,
        start_job: PipelineFunction,
        poll_job: PipelineFunction,
        start_training: PipelineFunction,
        poll_training: PipelineFunction,
        import_model: PipelineFunction,
        poll_model: PipelineFunction,
        cleanup: PipelineFunction,
    ) -> None:
        key, artifacts = self.storage.key, self.storage.artifacts_bucket
        jobs, custom_models = self._arn("model-customization-job"), self._arn("custom-model")
        base_models = [
            self._arn("foundation-model", spec.customization_id.split(":")[0] + ":*", account=False)
            for spec in MODELS.values()
            if spec.customization_id
        ] + [
            self._arn("foundation-model", "amazon.nova-pro-v1:0", account=False),
            self._arn("foundation-model", "amazon.nova-premier-v1:0", account=False),
        ]
        start_job.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "bedrock:CreateModelCustomizationJob",
                    "bedrock:GetModelCustomizationJob",
                    "bedrock:TagResource",
                ],
                resources=[jobs, custom_models, *base_models],
            )
        )
        poll_job.role.add_to_policy(iam.PolicyStatement(actions=["bedrock:GetModelCustomizationJob"], resources=[jobs]))
        self.roles.grant_pass_role(start_job.role, bedrock=True)
        self.roles.grant_pass_role(import_model.role, bedrock=True)
        self.roles.grant_pass_role(start_training.role, sagemaker=True)
        training_jobs = self.format_arn(service="sagemaker", resource="training-job", resource_name="*")
        start_training.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"],
                resources=[training_jobs],
            )
        )
        poll_training.role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=[training_jobs])
        )
        grant_prefix_write(start_training.role, artifacts, layout.RECIPES)
        grant_prefix_read(import_model.role, artifacts, layout.JOBS)
        import_model.role.add_to_policy(
            iam.PolicyStatement(actions=["bedrock:CreateCustomModel", "bedrock:TagResource"], resources=[custom_models])
        )
        poll_model.role.add_to_policy(
            iam.PolicyStatement(actions=["bedrock:GetCustomModel"], resources=[custom_models])
        )
        cleanup.role.add_to_policy(iam.PolicyStatement(actions=["bedrock:StopModelCustomizationJob"], resources=[jobs]))
        cleanup.role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:StopTrainingJob"], resources=[training_jobs])
        )
        for function in (start_job, start_training, import_model):
            key.grant(function.role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")
        for function in (start_job, poll_job, start_training, poll_training, import_model, poll_model, cleanup):
            self._suppress_named_by_run(function)

    def _grant_deployments(self, create: PipelineFunction, poll: PipelineFunction, cleanup: PipelineFunction) -> None:
        deployments = self._arn("custom-model-deployment")
        create.role.add_to_policy(
            iam.PolicyStatement(
                actions=["bedrock:CreateCustomModelDeployment", "bedrock:TagResource"],
                resources=[deployments, self._arn("custom-model")],
            )
        )
        poll.role.add_to_policy(
            iam.PolicyStatement(actions=["bedrock:GetCustomModelDeployment"], resources=[deployments])
        )
        cleanup.role.add_to_policy(
            iam.PolicyStatement(actions=["bedrock:DeleteCustomModelDeployment"], resources=[deployments])
        )
        for function in (create, poll, cleanup):
            self._suppress_named_by_run(function)

    @staticmethod
    def _suppress_named_by_run(function: PipelineFunction) -> None:
        NagSuppressions.add_resource_suppressions(
            function.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Jobs, custom models, deployments and training jobs are created per execution with "
                    "generated ids, so their ARNs end in a wildcard; each action is limited to its resource type. "
                    "Base models are the Nova customization models; recipes/ and jobs/ are per-run prefixes.",
                    applies_to=[
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:.*:bedrock:.*:(model-customization-job|custom-model|"
                            r"custom-model-deployment)\/\*$/g"
                        ),
                        RegexAppliesTo(regex=r"/^Resource::arn:.*:bedrock:.*::foundation-model\/amazon\.nova-.*$/g"),
                        RegexAppliesTo(regex=r"/^Resource::arn:.*:sagemaker:.*:training-job\/\*$/g"),
                        RegexAppliesTo(regex=r"/^Resource::.+\/(recipes|jobs)\/\*$/g"),
                    ],
                )
            ],
            apply_to_children=True,
        )

    # ------------------------------------------------------------------------------------- state machine
    def _state_machine(self, functions: dict[str, PipelineFunction]) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=log_retention(self.settings),
            removal_policy=removal_policy(self.settings),
        )
        name = f"{self.settings.prefix}-customization"
        state_machine = sfn.StateMachine(
            self,
            "CustomizationStateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition(), indent=2)),
            definition_substitutions={name: f.function.function_arn for name, f in functions.items()},
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=Duration.days(7),
        )
        for function in functions.values():
            function.function.grant_invoke(state_machine)
        # The Distributed Map (PrepareShards) lists the raw data and runs child executions of this state machine.
        data = self.storage.data_bucket
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{layout.RAW}*"]}},
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[
                    self.format_arn(
                        service="states",
                        resource="stateMachine",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    self.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{name}/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        NagSuppressions.add_resource_suppressions(
            state_machine,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Log delivery and X-Ray actions have no resource-level permissions; Lambda invoke "
                    "grants cover the function's versions (ARN:*) as CDK generates them; the Distributed Map's "
                    "child executions are named by Step Functions.",
                    applies_to=[
                        "Resource::*",
                        RegexAppliesTo(regex=r"/^Resource::<.*\.Arn>:\*$/g"),
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:.*:states:.*:execution:nova-[a-z0-9]+-customization\/\*$/g"
                        ),
                    ],
                )
            ],
            apply_to_children=True,
        )
        return state_machine

    def _forward_job_events(self) -> None:
        rule = events.Rule(
            self,
            "CustomizationJobEvents",
            description=f"Forwards {self.settings.prefix} customization job state changes to the notification topic",
            event_pattern=events.EventPattern(
                source=["aws.bedrock"],
                detail_type=["Model Customization Job State Change"],
                detail={"jobName": [{"prefix": f"{self.settings.prefix}-"}]},
            ),
        )
        rule.add_target(
            targets.SnsTopic(
                self.topic,
                message=events.RuleTargetInput.from_text(
                    f"Bedrock customization job {events.EventField.from_path('$.detail.jobName')} is "
                    f"{events.EventField.from_path('$.detail.jobStatus')} "
                    f"({events.EventField.from_path('$.detail.jobArn')})."
                ),
            )
        )
