"""The dependency layer is built without Docker and holds arm64 wheels for the Lambda Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.packaging import LAMBDA_PYTHON, pip_install_for_lambda, runtime_dependencies

pytestmark = pytest.mark.infra


def test_the_layer_is_built_by_pip_for_arm64(tmp_path: Path):
    # When the layer's local bundling runs, exactly as `cdk deploy` would run it
    target = tmp_path / "python"
    pip_install_for_lambda(target, runtime_dependencies())
    # Then compiled dependencies are aarch64 builds for the Lambda runtime's Python
    tag = LAMBDA_PYTHON.replace(".", "")
    cores = list((target / "pydantic_core").glob(f"_pydantic_core.cpython-{tag}-aarch64-linux-gnu.so"))
    assert cores, (
        f"no aarch64 pydantic_core for Python {LAMBDA_PYTHON} in {sorted(p.name for p in (target / 'pydantic_core').iterdir())}"
    )
    # And the official OCPP schemas and Powertools travel with it
    assert (target / "ocpp" / "v16" / "schemas" / "StartTransaction.json").exists()
    assert (target / "aws_lambda_powertools").is_dir()


def test_runtime_dependencies_come_from_pyproject():
    names = {d.split("[")[0].split(">")[0].split("=")[0] for d in runtime_dependencies()}
    assert {"aws-lambda-powertools", "pydantic", "ocpp"} <= names
