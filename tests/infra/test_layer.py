"""The shared layer built by local bundling: Linux/arm64 wheels for the Lambda runtime, the domain package, no CLI."""

from __future__ import annotations

from stacks.app_builder import EnvironmentStacks
from stacks.constructs.lambda_layer import CACHE_DIR, LAMBDAS_DIR, REQUIREMENTS, layer_hash


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


# A function's code and its layers, unzipped, must fit 250 MB (Lambda quotas, "Deployment package (.zip file
# archive) size": https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


def test_layer_holds_the_pinned_sql_parser_and_fits_lambdas_unzipped_size(
    environments: dict[str, EnvironmentStacks],
) -> None:
    site = CACHE_DIR / layer_hash() / "python"
    pinned = dict(
        line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line and not line.startswith("#")
    )

    layer_bytes = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
    largest_function = max(
        sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        for folder in LAMBDAS_DIR.iterdir()
        if (folder / "handler.py").is_file()
    )

    assert (site / f"sqlglot-{pinned['sqlglot']}.dist-info").is_dir()
    assert (site / "sqlglot" / "optimizer" / "qualify.py").is_file()
    assert layer_bytes + largest_function < MAX_UNZIPPED_BYTES, f"{layer_bytes + largest_function:,} bytes"
