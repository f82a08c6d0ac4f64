"""The shared layer built by local bundling: Linux/arm64 wheels for the Lambda runtime, the domain package, no CLI."""

from __future__ import annotations

from stacks.app_builder import EnvironmentStacks
from stacks.constructs.lambda_layer import CACHE_DIR, layer_hash


def test_layer_holds_arm64_wheels_and_the_domain_package(environments: dict[str, EnvironmentStacks]) -> None:
    site = CACHE_DIR / layer_hash() / "python"

    assert (site / "nova_pipeline" / "contract" / "execution_input.py").is_file()
    assert not (site / "nova_pipeline" / "cli").exists()
    assert (site / "boto3-1.44.5.dist-info").is_dir()
    assert list((site / "aws_lambda_powertools").glob("__init__.py"))
    [core] = list((site / "pydantic_core").glob("_pydantic_core*.so"))
    assert "cpython-314-aarch64-linux-gnu" in core.name


def test_layer_hash_is_stable_and_follows_the_sources() -> None:
    assert layer_hash() == layer_hash()
    assert len(layer_hash()) == 64
