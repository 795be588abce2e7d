"""Synthesizes the Laddvakt app in-process and hands back the stack's CloudFormation template.

`app.py` (for `cdk synth`/`cdk deploy`), the tests and the local stack all build the app here, so
they all see the same template. `python -m infra.synth --out FILE` writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The machine's Node.js 20 works; jsii's end-of-life banner would bury real output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra import nag
from infra.stack import LaddvaktStack
from shared.topology import STACK_NAME

DEFAULT_REGION = "eu-north-1"


@dataclass
class Synthesized:
    app: App
    stack: LaddvaktStack
    template: dict[str, Any]


def build_app(app: App) -> LaddvaktStack:
    """Adds the stack and the cdk-nag checks to an app (what `app.py` runs under `cdk`)."""
    stack = LaddvaktStack(
        app,
        STACK_NAME,
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION", DEFAULT_REGION),
        ),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    nag.acknowledge(stack)
    return stack


def synthesize_app(outdir: str | Path | None = None, *, bundle: bool = False) -> Synthesized:
    context: dict[str, Any] = {}
    if not bundle:
        # Tests and the local stack need the template, not the arm64 layer: skip its pip build.
        context["aws:cdk:bundling-stacks"] = []
    app = App(outdir=str(outdir or tempfile.mkdtemp(prefix="laddvakt-cdk-")), context=context)
    stack = build_app(app)
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(app, stack, template)


def synthesize(outdir: str | Path | None = None, *, bundle: bool = False) -> dict[str, Any]:
    return synthesize_app(outdir, bundle=bundle).template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="where to write the template JSON")
    args = parser.parse_args()
    template = synthesize()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(template, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
