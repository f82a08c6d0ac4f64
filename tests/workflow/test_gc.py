"""The scheduled clean-up in the offline twin: EventBridge Scheduler fires GarbageCollect as its role, which deletes
only this environment's expired custom models that nothing serves or can roll back to, deployments first."""

from __future__ import annotations

import json
from typing import Any

from nova_pipeline.local.simulated_model import CustomizedModel
from nova_pipeline.local.simulator import _Deployment, _Model
from nova_pipeline.local.twin import OfflineTwin
from tests.workflow.conftest import example

ACCOUNT = "123456789012"
DAY = 86_400.0


def _seed(twin: OfflineTwin, name: str, environment: str | None, days_old: float, deployed: bool = False) -> str:
    """A custom model (and its deployment) made `days_old` days ago, tagged for `environment` (None: untagged)."""
    simulator = twin.simulator
    created = simulator.clock() - days_old * DAY
    tags = {"project": "nova-customization", "environment": environment} if environment else {"team": "ml"}
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/{name}"
    simulator.models[arn] = _Model(arn, name, created, CustomizedModel([]), "seed", tags=tags)
    simulator._register_tags(tags, arn)
    if deployed:
        deployment = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/{name[:12]}"
        simulator.deployments[deployment] = _Deployment(deployment, name, arn, created, None, tags=tags)
        simulator._register_tags(tags, deployment)
    return arn


def _deletes(twin: OfflineTwin) -> list[tuple[str, dict[str, Any]]]:
    return [(operation, params) for _, operation, params in twin.simulator.calls if operation.startswith("Delete")]


def test_the_schedule_deletes_only_expired_models_of_its_environment(offline_twin: Any) -> None:
    with offline_twin() as twin:
        # Given: a promoted (active) model, and in the same account older models of every kind
        promoted = twin.run(example("sft-classification-nova-micro.json"))
        assert promoted.output["promotion"]["promoted"] is True
        active = promoted.output["customModelArn"]
        expired = _seed(twin, "kept-rejected", "dev", days_old=40, deployed=True)
        young = _seed(twin, "yesterday", "dev", days_old=1)
        prod = _seed(twin, "prod-model", "prod", days_old=400)
        untagged = _seed(twin, "by-hand", None, days_old=400)
        function = next(f for f in twin.dispatcher.functions.values() if f.handler_dir.name == "garbage_collect")

        # When: a dry run by hand, then the schedule (dev: retention 7 days, 2 rollback targets kept)
        dry = json.loads(twin.dispatcher.invoke(function.arn, b'{"dryRun": true}')["Payload"].read())
        assert _deletes(twin) == []
        [report] = twin.run_schedules()

        # Then: the dry run and the real run name the same model; exactly its deployment and itself are deleted
        assert [m["modelArn"] for m in dry["wouldDelete"]] == [m["modelArn"] for m in report["deleted"]] == [expired]
        deployment = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/kept-rejecte"
        assert _deletes(twin) == [
            ("DeleteCustomModelDeployment", {"customModelDeploymentIdentifier": deployment}),
            ("DeleteCustomModel", {"modelIdentifier": expired}),
        ]
        assert report["monthlySavingsUsd"] == 1.95
        assert report["kept"] == {
            active: "active model (version 1)",
            young: "younger than the retention (7 days)",
            prod: "environment prod",
            untagged: "not tagged by the pipeline",
        }
        assert not twin.simulator.models[active].deleted and twin.simulator.models[expired].deleted
