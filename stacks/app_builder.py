"""Builds the stacks of every selected environment into a CDK app (used by app.py and by the tests)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Aspects, Environment, Stack, Tags
from cdk_nag import AwsSolutionsChecks

from stacks.config import EnvironmentSettings
from stacks.inference_api_stack import InferenceApiStack
from stacks.pipeline_stack import PipelineStack
from stacks.storage_stack import StorageStack


@dataclass(frozen=True)
class EnvironmentStacks:
    settings: EnvironmentSettings
    storage: StorageStack
    pipeline: PipelineStack
    api: InferenceApiStack

    def all(self) -> list[Stack]:
        """Every stack of the environment."""
        return [self.storage, self.pipeline, self.api]


def add_environment(app: App, settings: EnvironmentSettings) -> EnvironmentStacks:
    """One environment: its stacks are named `nova-<env>-<part>`, so environments can share an account."""
    env = Environment(account=settings.account, region=settings.region)
    storage = StorageStack(
        app,
        f"{settings.prefix}-storage",
        settings=settings,
        env=env,
        description=f"Nova customization ({settings.name}): KMS key and buckets",
    )
    pipeline = PipelineStack(
        app,
        f"{settings.prefix}-pipeline",
        settings=settings,
        storage=storage,
        env=env,
        description=f"Nova customization ({settings.name}): roles, functions and state machine",
    )
    api = InferenceApiStack(
        app,
        f"{settings.prefix}-api",
        settings=settings,
        key=storage.key,
        topic=pipeline.topic,
        layer=pipeline.layer,
        env=env,
        description=f"Nova customization ({settings.name}): inference API, alarms and dashboard",
    )
    stacks = EnvironmentStacks(settings, storage, pipeline, api)
    for stack in stacks.all():
        Tags.of(stack).add("project", "nova-customization")
        Tags.of(stack).add("environment", settings.name)
    return stacks


def check_with_nag(app: App) -> None:
    """cdk-nag AwsSolutions on every stack: findings are synth errors unless narrowly suppressed."""
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
