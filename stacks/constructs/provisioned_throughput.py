"""ProvisionedThroughput: a full-rank run's Provisioned Throughput (CreateProvisionedThroughput,
PollProvisionedThroughput) and every permission on provisioned models: delete for Cleanup, RejectCandidate and
GarbageCollect (it bills per hour), this environment's (tagged) ones only.

Bedrock user guide, "Identity-based policy examples for Provisioned Throughput": "the
CreateProvisionedModelThroughput operation can only be used on custom model and foundation model resources and the
DeleteProvisionedModelThroughput operation can only be used on provisioned model resources"; list actions take "*".
Provisioned models get generated ids (`provisioned-model/<12 chars>`), so actions are granted on the resource type.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct

from nova_pipeline.core.settings import PollSettings
from stacks.constructs.stage import (
    PipelineResources,
    add_functions,
    allow_wildcards,
    bedrock_arn,
    environment_scope,
    spec,
)

CREATE_PROVISIONED_THROUGHPUT = spec(
    "CreateProvisionedThroughput",
    "create_provisioned_throughput",
    "Buys a full-rank model's Provisioned Throughput",
    PollSettings,
)
POLL_PROVISIONED_THROUGHPUT = spec(
    "PollProvisionedThroughput", "poll_provisioned_throughput", "Polls a Provisioned Throughput", PollSettings
)
FUNCTIONS = (CREATE_PROVISIONED_THROUGHPUT, POLL_PROVISIONED_THROUGHPUT)


class ProvisionedThroughput(Construct):
    """The two functions; `deleters` (Cleanup, RejectCandidate) may delete this environment's provisioned models,
    `collector` (GarbageCollect) may list them, read their tags and delete this environment's."""

    FUNCTIONS = FUNCTIONS

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resources: PipelineResources,
        deleters: Sequence[iam.IRole],
        collector: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        values = {"NOVA_POLL_INTERVAL_SECONDS": str(resources.settings.poll_interval_seconds)}
        self.functions = add_functions(self, FUNCTIONS, resources, values)
        create = self.functions[CREATE_PROVISIONED_THROUGHPUT.construct_id].role
        poll = self.functions[POLL_PROVISIONED_THROUGHPUT.construct_id].role
        provisioned, custom_models = bedrock_arn(self, "provisioned-model"), bedrock_arn(self, "custom-model")
        scoped = environment_scope(resources.settings)
        create.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["bedrock:CreateProvisionedModelThroughput", "bedrock:TagResource"],
                resources=[custom_models, provisioned],
            )
        )
        # The custom model is encrypted with the environment's key; serving it through a provisioned model uses it
        # (as for an on-demand deployment).
        resources.key.grant(create, "kms:Decrypt", "kms:GenerateDataKey")
        poll.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:GetProvisionedModelThroughput"], resources=[provisioned])
        )
        delete = iam.PolicyStatement(
            actions=["bedrock:DeleteProvisionedModelThroughput"], resources=[provisioned], conditions=scoped
        )
        for role in (*deleters, collector):
            role.add_to_principal_policy(delete)
        collector.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:ListProvisionedModelThroughputs"], resources=["*"])
        )
        collector.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=[provisioned])
        )
        allow_wildcards(
            [create, poll, *deleters, collector],
            "Provisioned models are bought per execution with generated ids and imported custom models too, so their "
            "ARNs end in a wildcard; deletes are limited to this environment's tags; the list action takes no "
            "resource.",
            r"/^Resource::arn:.*:bedrock:.*:(provisioned-model|custom-model)\/\*$/g",
            r"/^Resource::\*$/g",
        )
