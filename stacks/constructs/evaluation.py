"""Evaluation: PlanEvaluation, EvaluateBatch (one Distributed Map item), AggregateEvaluation (metrics, gate verdict,
report), the gate's outcomes Promote and RejectCandidate, and Summarize.
"""

from __future__ import annotations

import json
import re

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from nova_pipeline.contract.catalog import MODELS
from nova_pipeline.core import layout
from nova_pipeline.core.settings import AggregateSettings, PlanEvaluationSettings, PromoteSettings, RejectSettings
from nova_pipeline.promotion.record import active_model_parameter_name
from nova_pipeline.promotion.store import claim_parameter_name
from stacks.config import EnvironmentSettings
from stacks.constructs.customization_roles import grant_prefix_read, grant_prefix_write
from stacks.constructs.guardrail import grant_apply_guardrail, guardrail_variables
from stacks.constructs.service_grants import grant_mlflow_tracking
from stacks.constructs.stage import (
    PipelineResources,
    add_functions,
    allow_wildcards,
    bedrock_arn,
    environment_scope,
    grant_invoke,
    spec,
)

PLAN_EVALUATION = spec(
    "PlanEvaluation", "plan_evaluation", "Batches the test split for evaluation", PlanEvaluationSettings
)
EVALUATE_BATCH = spec("EvaluateBatch", "evaluate_batch", "Evaluates one batch with ConverseStream", seconds=900)
AGGREGATE_EVALUATION = spec(
    "AggregateEvaluation",
    "aggregate_evaluation",
    "Metrics, gate verdict and report",
    AggregateSettings,
    seconds=300,
    memory=1024,
)
PROMOTE = spec("Promote", "promote", "Writes the active-model record", PromoteSettings)
REJECT_CANDIDATE = spec("RejectCandidate", "reject_candidate", "Deletes a rejected deployment", RejectSettings)
SUMMARIZE = spec("Summarize", "summarize", "Summarizes a successful execution")
FUNCTIONS = (PLAN_EVALUATION, EVALUATE_BATCH, AGGREGATE_EVALUATION, PROMOTE, REJECT_CANDIDATE, SUMMARIZE)


def gate_defaults(settings: EnvironmentSettings) -> dict[str, float | None]:
    """The environment's quality-gate defaults, as the evaluation function reads them."""
    evaluation = settings.evaluation
    return {
        "min_primary_metric": evaluation.min_primary_metric,
        "min_gain_over_baseline": evaluation.min_gain_over_baseline,
        "max_ttft_p90_ms": evaluation.max_ttft_p90_ms,
        "max_cost_per_1k_requests_usd": evaluation.max_cost_per_1k_requests_usd,
        "max_error_rate": evaluation.max_error_rate,
        "max_guardrail_intervention_rate": evaluation.max_guardrail_intervention_rate,
        "max_general_regression": evaluation.max_general_regression,
    }


class Evaluation(Construct):
    """The evaluation functions: per-run prefixes of the data bucket, the active-model parameter, Bedrock invoke of
    the candidate deployment and the base models, and deletion of a rejected deployment."""

    FUNCTIONS = FUNCTIONS

    def __init__(self, scope: Construct, construct_id: str, *, resources: PipelineResources) -> None:
        super().__init__(scope, construct_id)
        settings, data, key = resources.settings, resources.data_bucket, resources.key
        self.functions = add_functions(
            self,
            FUNCTIONS,
            resources,
            {
                "NOVA_DATA_BUCKET": data.bucket_name,
                "NOVA_EVALUATION_RPM": str(settings.evaluation.requests_per_minute or ""),
                "NOVA_GATE_DEFAULTS": json.dumps(gate_defaults(settings)),
                "NOVA_KMS_KEY_ARN": key.key_arn,
                "NOVA_DELETE_REJECTED": str(settings.evaluation.delete_rejected_deployment).lower(),
                "NOVA_MLFLOW_TRACKING_ARN": settings.mlflow_tracking_arn or "",
                "NOVA_MLFLOW_ARTIFACT_STORE_URI": settings.mlflow_artifact_store_uri or "",
                **guardrail_variables(settings),
            },
        )
        plan, batch, aggregate, promote, reject = (
            self.functions[s.construct_id].role
            for s in (PLAN_EVALUATION, EVALUATE_BATCH, AGGREGATE_EVALUATION, PROMOTE, REJECT_CANDIDATE)
        )
        for role in (plan, aggregate):  # the test split; the manifest for the report's data summary
            grant_prefix_read(role, data, layout.PREPARED, listing=False)
        grant_prefix_read(plan, data, layout.RAW, listing=False)  # a general set (the forgetting guard)
        for role in (plan, batch, aggregate):
            grant_prefix_write(role, data, layout.EVALUATION, listing=role is aggregate)  # it lists predictions
        grant_prefix_write(aggregate, data, layout.REPORTS, listing=False)
        grant_prefix_read(aggregate, resources.artifacts_bucket, layout.JOBS, listing=True)  # finds the loss curves
        parameter = Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name=active_model_parameter_name(settings.name).lstrip("/")
        )
        for role in (plan, aggregate):
            role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter]))
        claims = Stack.of(
            self
        ).format_arn(  # the conditional write's claims (promotion.store.claim)
            service="ssm", resource="parameter", resource_name=claim_parameter_name(settings.name, 0)[1:-1] + "*"
        )
        promote.add_to_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[parameter, claims])
        )
        if settings.mlflow_tracking_arn:  # each evaluated stage is logged to the environment's MLflow
            grant_mlflow_tracking(
                aggregate,
                settings.mlflow_tracking_arn,
                settings.mlflow_artifact_store_uri,
                settings.mlflow_artifact_key_arn,
            )
            if settings.mlflow_artifact_store_uri:
                store = re.escape(settings.mlflow_artifact_store_uri.removeprefix("s3://").rstrip("/"))
                allow_wildcards(
                    (aggregate,),
                    "MLflow names each run's artifact folder (<experiment id>/<run id>/artifacts) under the "
                    "configured artifact store; only objects under it may be written.",
                    rf"/^Resource::arn:aws:s3:::{store}\/\*$/g",
                )
        grant_invoke(batch, self, settings, [model.inference_profile_id for model in MODELS.values()])
        grant_apply_guardrail(self, settings, batch)
        # RejectCandidate deletes the rejected deployment and custom model; in a multi-stage run both outcomes of the
        # gate also delete every stage but the chosen one (its deployment, then its custom model). This
        # environment's (tagged) resources only.
        for role in (promote, reject):
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["bedrock:DeleteCustomModelDeployment", "bedrock:DeleteCustomModel"],
                    resources=[bedrock_arn(self, "custom-model-deployment"), bedrock_arn(self, "custom-model")],
                    conditions=environment_scope(settings),
                )
            )
        for role in (plan, batch, aggregate, promote):
            key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        allow_wildcards(
            (plan, batch, aggregate, promote, reject),
            "Evaluation reads and writes per-run objects under prepared/, evaluation/, reports/ and jobs/ (and reads "
            "a user's general set under raw/); deployments and provisioned models are created per execution; "
            "cross-region inference profiles route a base model to its foundation model in any US region; promotion "
            "claims are one parameter per replaced version.",
            rf"/^Resource::.+\/({layout.PREPARED}|{layout.EVALUATION}|{layout.REPORTS}|{layout.JOBS}|{layout.RAW})\*$/g",
            r"/^Resource::arn:.*:bedrock:.*:(custom-model(-deployment)?|provisioned-model)\/\*$/g",
            r"/^Resource::arn:.*:bedrock:\*::foundation-model\/amazon\.nova-.*$/g",
            r"/^Resource::arn:.*:ssm:.*:parameter\/nova-customization\/.*\/promotions\/\*$/g",
        )
