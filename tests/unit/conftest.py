from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.domain.ocpp16 import CentralSystem16
from shared.models.registry import RegistryDocument
from tests.fakes import FakeRegistry, FakeSessions, FakeWorkflow

EXAMPLE_REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry.json"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry_document() -> RegistryDocument:
    return RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())


@pytest.fixture
def registry(registry_document: RegistryDocument) -> FakeRegistry:
    return FakeRegistry(registry_document)


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions()


@pytest.fixture
def workflow() -> FakeWorkflow:
    return FakeWorkflow()


@pytest.fixture
def central(registry: FakeRegistry, sessions: FakeSessions, workflow: FakeWorkflow) -> CentralSystem16:
    return CentralSystem16(registry, sessions, workflow, heartbeat_interval_seconds=300, clock=lambda: NOW)


def frame(message_id: str, action: str, payload: dict) -> bytes:
    return json.dumps([2, message_id, action, payload]).encode()
