#!/usr/bin/env python3
"""The CDK app `cdk synth` and `cdk deploy` run (see cdk.json). LADDVAKT_BUNDLE=0 skips building
the arm64 dependency layer, for a quick look at the template."""

import os

from aws_cdk import App

from infra.synth import build_app

context = {} if os.environ.get("LADDVAKT_BUNDLE", "1") == "1" else {"aws:cdk:bundling-stacks": []}
app = App(context=context)
build_app(app)
app.synth()
