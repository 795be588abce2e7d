"""How the functions' code gets to AWS without Docker: one code asset with `functions/` and
`shared/`, and one dependency layer built by pip for arm64 from `[project].dependencies`.

The layer is bundled locally (`pip install --platform manylinux2014_aarch64 --only-binary`): a
binary wheel for the Lambda platform is what a container build would produce, and no Docker
engine is needed. If pip fails, synthesis fails with pip's message; there is no Docker fallback.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PYTHON = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
CODE_DIRECTORIES = ("functions", "shared")


def runtime_dependencies() -> list[str]:
    """The one list of what Lambda code imports: `[project].dependencies` in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def pip_install_for_lambda(target: Path, requirements: list[str]) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--platform", LAMBDA_PLATFORM, "--implementation", "cp", "--python-version", LAMBDA_PYTHON,
        "--only-binary=:all:", "--upgrade", "--target", str(target), *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building the Lambda dependency layer failed:\n{result.stderr or result.stdout}")


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """CDK's local bundling hook: fills `<output>/python` with the arm64 wheels."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        pip_install_for_lambda(Path(output_dir) / "python", runtime_dependencies())
        return True


def code_asset() -> lambda_.Code:
    excluded = [path.name for path in ROOT.iterdir() if path.name not in CODE_DIRECTORIES]
    return lambda_.Code.from_asset(str(ROOT), exclude=[*excluded, "**/__pycache__", "**/*.pyc"])


def dependency_layer_code() -> lambda_.Code:
    # The asset's source is pyproject.toml's folder only in name: the hash follows the
    # dependency list, so the layer is rebuilt exactly when dependencies change.
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=["*", "!pyproject.toml"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=PipLayerBundling(),
            command=["false"],  # never used: local bundling always answers
        ),
    )
