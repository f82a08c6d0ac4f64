"""Guards: the cost guard (CheckBudget, before any paid job) and the approval before promotion (RequestApproval).

CheckBudget reads the prepared data's manifest; RequestApproval writes the task token to `approvals/<execution>.json`
of the data bucket and publishes to the environment's topic (both encrypted with the environment's key).
"""

from __future__ import annotations

import json

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from nova_pipeline.core import layout
from nova_pipeline.core.settings import FunctionSettings, RequestApprovalSettings
from stacks.config import EnvironmentSettings
from stacks.constructs.customization_roles import grant_prefix_read
from stacks.constructs.notifications import grant_publish
from stacks.constructs.stage import PipelineResources, add_functions, allow_wildcards, spec

CHECK_BUDGET = spec("CheckBudget", "check_budget", "Estimates the run's cost; enforces its budget", FunctionSettings)
REQUEST_APPROVAL = spec(
    "RequestApproval", "request_approval", "Stores an approval's task token and notifies", RequestApprovalSettings
)
FUNCTIONS = (CHECK_BUDGET, REQUEST_APPROVAL)


def approval_defaults(settings: EnvironmentSettings) -> dict[str, object]:
    """The environment's approval policy, as ValidateInput reads it (`NOVA_APPROVAL`)."""
    return {"required": settings.approval_required, "timeoutSeconds": round(settings.approval.timeout_hours * 3600)}


class Guards(Construct):
    """The cost guard and the approval request, with exactly the prefixes and the topic they use."""

    FUNCTIONS = FUNCTIONS

    def __init__(self, scope: Construct, construct_id: str, *, resources: PipelineResources, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        data, key = resources.data_bucket, resources.key
        self.functions = add_functions(
            self,
            FUNCTIONS,
            resources,
            {"NOVA_DATA_BUCKET": data.bucket_name, "NOVA_TOPIC_ARN": topic.topic_arn},
        )
        budget = self.functions[CHECK_BUDGET.construct_id].role
        approval = self.functions[REQUEST_APPROVAL.construct_id].role
        grant_prefix_read(budget, data, layout.PREPARED, listing=False)  # the manifest
        key.grant(budget, "kms:Decrypt")
        approval.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[data.arn_for_objects(f"{layout.APPROVALS}*")])
        )
        # Publishing to the encrypted topic needs kms:GenerateDataKey and kms:Decrypt on the key; the first also
        # covers the data key of the SSE-KMS token object.
        grant_publish(topic, key, approval)
        allow_wildcards(
            [budget, approval],
            "Reads the run's manifest under prepared/; writes the execution's task token under approvals/ (one "
            "object per execution, named by Step Functions).",
            rf"/^Resource::.+\/({layout.PREPARED}|{layout.APPROVALS})\*$/g",
        )


def approval_json(settings: EnvironmentSettings) -> str:
    return json.dumps(approval_defaults(settings))
