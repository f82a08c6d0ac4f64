"""DataTriggers: `<prefix><name>/input.json` uploaded to the data bucket starts an execution (optional per environment).

The data bucket sends its events to EventBridge (StorageStack); a rule matches "Object Created" of `input.json`
under the prefix and invokes StartFromUpload, which starts the execution under a name derived from the object's key
and version id, so a repeated delivery or a retried invocation starts nothing new.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from nova_pipeline.contract.trigger import INPUT_FILE
from nova_pipeline.core.settings import StartFromUploadSettings
from stacks.constructs.stage import PipelineResources, allow_wildcards, build_function, spec

START_FROM_UPLOAD = spec(
    "StartFromUpload",
    "start_from_upload",
    "Starts an execution for an uploaded input",
    StartFromUploadSettings,
    task=False,
)
FUNCTIONS = (START_FROM_UPLOAD,)


class DataTriggers(Construct):
    FUNCTIONS = FUNCTIONS

    def __init__(
        self, scope: Construct, construct_id: str, *, resources: PipelineResources, state_machine: sfn.IStateMachine
    ) -> None:
        super().__init__(scope, construct_id)
        settings, data = resources.settings, resources.data_bucket
        prefix = settings.triggers.prefix
        self.function = build_function(
            self,
            START_FROM_UPLOAD,
            settings=settings,
            layer=resources.layer,
            values={"NOVA_STATE_MACHINE_ARN": state_machine.state_machine_arn, "NOVA_TRIGGER_PREFIX": prefix},
            log_key=resources.key,
        )
        role = self.function.role
        # The input is read at the version the event names (GetObject with VersionId is s3:GetObjectVersion).
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObjectVersion"], resources=[data.arn_for_objects(f"{prefix}*")])
        )
        resources.key.grant(role, "kms:Decrypt")
        state_machine.grant_start_execution(role)
        self.rule = events.Rule(
            self,
            "InputUploaded",
            description=f"Starts a {settings.prefix} execution when {prefix}<name>/{INPUT_FILE} is uploaded",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [data.bucket_name]},
                    "object": {"key": events.Match.wildcard(f"{prefix}*/{INPUT_FILE}")},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(self.function.function, retry_attempts=4, max_event_age=Duration.hours(2))
        )
        allow_wildcards(
            [role],
            f"Reads the uploaded execution inputs under {prefix} (one per run, named by the uploader).",
            rf"/^Resource::.+\/{prefix}\*$/g",
        )
