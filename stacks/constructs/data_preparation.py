"""DataPreparation: ValidateInput, PlanData and the one-shot or fanned-out preparation of raw/ into prepared/.

Preparation reads with one worker process per vCPU (3,584 MB buys two) and stages its spool, index and outputs in
/tmp: about the input's size again, so /tmp is raised to 10 GiB for inputs of a few GB.
"""

from __future__ import annotations

import json

from aws_cdk import aws_iam as iam
from constructs import Construct

from nova_pipeline.core import layout
from nova_pipeline.core.settings import DataSettings, PlanDataSettings, ValidateInputSettings
from stacks.constructs.customization_roles import grant_prefix_read, grant_prefix_write
from stacks.constructs.evaluation import gate_defaults
from stacks.constructs.guardrail import guardrail_variables
from stacks.constructs.guards import approval_json
from stacks.constructs.stage import PipelineResources, add_functions, allow_wildcards, spec

PREPARE_MEMORY_MB = 3584  # two vCPUs for the two preparation worker processes
PREPARE_TMP_MIB = 10240  # spool, index and outputs of inputs up to a few GB

VALIDATE_INPUT = spec(
    "ValidateInput", "validate_input", "Validates an execution input", ValidateInputSettings, seconds=10
)
PLAN_DATA = spec("PlanData", "plan_data", "Chooses one-shot or fanned-out data preparation", PlanDataSettings)
PREPARE_DATA = spec(
    "PrepareData",
    "prepare_data",
    "Validates, sanitizes and splits a dataset",
    DataSettings,
    seconds=900,
    memory=PREPARE_MEMORY_MB,
    ephemeral_mib=PREPARE_TMP_MIB,
)
PREPARE_SHARD = spec(
    "PrepareShard",
    "prepare_shard",
    "Normalizes and validates one dataset object",
    DataSettings,
    seconds=900,
    memory=PREPARE_MEMORY_MB,
    ephemeral_mib=PREPARE_TMP_MIB,
)
MERGE_SHARDS = spec(
    "MergeShards",
    "merge_shards",
    "Merges shards into splits and a manifest",
    DataSettings,
    seconds=900,
    memory=2048,
    ephemeral_mib=PREPARE_TMP_MIB,
)
FUNCTIONS = (VALIDATE_INPUT, PLAN_DATA, PREPARE_DATA, PREPARE_SHARD, MERGE_SHARDS)


class DataPreparation(Construct):
    """The preparation functions: PlanData lists and reads raw/; the preparers read raw/ and write prepared/."""

    FUNCTIONS = FUNCTIONS

    def __init__(self, scope: Construct, construct_id: str, *, resources: PipelineResources) -> None:
        super().__init__(scope, construct_id)
        data, key = resources.data_bucket, resources.key
        self.functions = add_functions(
            self,
            FUNCTIONS,
            resources,
            {
                "NOVA_DEFAULT_BASE_MODEL": resources.settings.default_base_model,
                "NOVA_GATE_DEFAULTS": json.dumps(gate_defaults(resources.settings)),
                "NOVA_APPROVAL": approval_json(resources.settings),
                "NOVA_DATA_BUCKET": data.bucket_name,
                **guardrail_variables(resources.settings),
            },
        )
        plan = self.functions[PLAN_DATA.construct_id]
        preparers = [self.functions[s.construct_id] for s in (PREPARE_DATA, PREPARE_SHARD, MERGE_SHARDS)]
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
        prepare, shard, merge = preparers
        # PrepareData lists the dataset's objects; PrepareShard reads the one object it is given; MergeShards reads
        # the shards and lists them to delete them once merged.
        grant_prefix_read(prepare.role, data, layout.RAW, listing=True)
        grant_prefix_read(shard.role, data, layout.RAW, listing=False)
        for function, listing in ((prepare, False), (shard, False), (merge, True)):
            grant_prefix_write(function.role, data, layout.PREPARED, listing=listing)
        # MergeShards reads the shard summaries the PrepareShards map wrote with its ResultWriter.
        merge.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[data.arn_for_objects(f"{layout.PREPARE_MAP_RESULTS}*")]
            )
        )
        for function in preparers:
            key.grant(function.role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        key.grant(plan.role, "kms:Decrypt")  # PlanData reads a general set (the forgetting guard) before any job
        allow_wildcards(
            [function.role for function in (plan, *preparers)],
            "Reads raw/ and writes prepared/ of the data bucket (MergeShards also reads the map's results); object "
            "names under the prefixes are chosen per run.",
            rf"/^Resource::.+\/({layout.RAW}|{layout.PREPARED}|{layout.PREPARE_MAP_RESULTS})\*$/g",
        )
