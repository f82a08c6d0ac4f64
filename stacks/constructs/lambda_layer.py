"""The shared Lambda layer (domain package + pinned dependencies), built by local bundling: no Docker.

`pip install --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 --python-version 3.14
--only-binary=:all: --target` fetches the Linux/arm64 wheels from the package registry whatever the build machine
is. The asset hash is computed from the inputs (the pinned requirements, the domain package sources and the pip
arguments), so an unchanged layer is not rebuilt: CDK reuses `cdk.out/asset.<hash>` and `.build/layer/<hash>`
survives a clean `cdk.out`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = ROOT / "lambdas"
DOMAIN_PACKAGE = LAMBDAS_DIR / "nova_pipeline"
REQUIREMENTS = ROOT / "requirements-lambda.txt"
CACHE_DIR = ROOT / ".build" / "layer"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_aarch64",
    "--platform",  # numpy's arm64 wheels for Python 3.14 are tagged 2_28 (the Lambda runtime's glibc is 2.34)
    "manylinux_2_28_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.14",
    "--only-binary=:all:",
    "--no-compile",
)
# Parts of the domain package that only the CLI and the offline twin use: kept out of the layer.
EXCLUDED_FROM_LAYER = ("cli", "local", "__pycache__")


def _layer_sources() -> list[Path]:
    files = [REQUIREMENTS]
    for path in sorted(DOMAIN_PACKAGE.rglob("*")):
        relative = path.relative_to(DOMAIN_PACKAGE)
        if path.is_file() and not any(part.split(".")[0] in EXCLUDED_FROM_LAYER for part in relative.parts):
            files.append(path)
    return files


def layer_hash() -> str:
    """Hash of everything that determines the layer's content."""
    digest = hashlib.sha256(" ".join(PIP_PLATFORM_ARGS).encode())
    for path in _layer_sources():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _PipLayerBundler:
    """Builds the layer on this machine; returning True tells CDK not to fall back to Docker."""

    def __init__(self, asset_hash: str) -> None:
        self._asset_hash = asset_hash

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        cached = CACHE_DIR / self._asset_hash
        if not cached.exists():
            self._build(cached)
        shutil.copytree(cached, output_dir, dirs_exist_ok=True)
        return True

    @staticmethod
    def _build(destination: Path) -> None:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE_DIR) as work:
            site = Path(work) / "layer" / "python"
            command = [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *PIP_PLATFORM_ARGS,
                "--target",
                str(site),
                "-r",
                str(REQUIREMENTS),
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"building the Lambda layer failed: {' '.join(command)}\n{result.stderr}")
            shutil.rmtree(site / "bin", ignore_errors=True)
            shutil.copytree(
                DOMAIN_PACKAGE,
                site / "nova_pipeline",
                ignore=lambda _dir, names: [n for n in names if n.split(".")[0] in EXCLUDED_FROM_LAYER],
            )
            # Rename into place last, so an interrupted build never leaves a half-made cache entry.
            (Path(work) / "layer").rename(destination)


def shared_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    """The layer every pipeline function uses: `nova_pipeline` + boto3, Powertools and pydantic."""
    asset_hash = layer_hash()
    return lambda_.LayerVersion(
        scope,
        construct_id,
        description="nova_pipeline domain package with pinned boto3, aws-lambda-powertools and pydantic",
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        code=lambda_.Code.from_asset(
            str(DOMAIN_PACKAGE),
            asset_hash=asset_hash,
            asset_hash_type=AssetHashType.CUSTOM,
            bundling=BundlingOptions(
                # Never pulled: local bundling always succeeds or raises with pip's own error.
                image=DockerImage.from_registry("local-bundling-only"),
                local=_PipLayerBundler(asset_hash),
            ),
        ),
    )
