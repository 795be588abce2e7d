#!/usr/bin/env python3
"""The CDK app `cdk synth` and `cdk deploy` run (see cdk.json).

LADDVAKT_BUNDLE=1 (what `make deploy` sets) builds the arm64 dependency layer with pip; without
it the template is synthesized offline and the layer is left unbuilt.
"""

import os

from aws_cdk import App

from infra.synth import build_app

app = App()
if os.environ.get("LADDVAKT_BUNDLE", "1") != "1":
    # Set on the node, so it wins over the context the CDK CLI passes in.
    app.node.set_context("aws:cdk:bundling-stacks", [])
build_app(app)
app.synth()
