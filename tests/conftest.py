"""Fixtures every test folder may use. The CDK app is synthesized once per test session: the first
synth in a process costs several seconds, and every folder needs the same template.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def synthesized():  # type: ignore[no-untyped-def]
    from infra.synth import synthesize_app

    return synthesize_app()


@pytest.fixture(scope="session")
def synthesized_template(synthesized) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return synthesized.template
