"""What keeping charger health costs the ingest path, in registry-table requests per frame
(moto in-process): a meter frame, the most frequent, stays free of registry writes except at
most once a heartbeat interval; only status changes and ended outages add an item."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.registry_table import RegistryTable
from shared.domain.ocpp16 import CentralSystem16
from shared.models.registry import RegistryDocument
from tests.fakes import FakeSessions, FakeWorkflow
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration

CP = "LV-BUDGET-1"  # a charger of its own, so no other test's frames move its state


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 6, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def counted(aws):
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"].append({"id": CP, "site_id": "sthlm-depot", "connectors": 2})
    table = aws.table(aws.registry_table)
    RegistryTable(aws.registry_table, table=table).import_document(RegistryDocument.model_validate(data))
    requests: Counter[str] = Counter()

    def count(model, **_) -> None:  # type: ignore[no-untyped-def]
        requests[model.name] += 1

    table.meta.client.meta.events.register("before-call.dynamodb", count)
    clock = Clock()
    central = CentralSystem16(
        RegistryTable(aws.registry_table, table=table), FakeSessions(), FakeWorkflow(), clock=clock
    )
    yield central, clock, requests
    table.meta.client.meta.events.unregister("before-call.dynamodb", count)


def send(central, clock, requests, action, payload, after=timedelta(seconds=60)) -> dict[str, int]:
    clock.now += after
    requests.clear()
    central.handle(CP, json.dumps([2, "m", action, payload]).encode())
    return dict(requests)


def test_what_each_frame_costs_the_registry(counted):
    central, clock, requests = counted
    send(central, clock, requests, "Heartbeat", {})  # the charger's placement is read and cached
    data = {"vendorId": "x"}
    # A busy charger's other frames, a minute apart: one write in five (heartbeat interval 300 s)
    assert [send(central, clock, requests, "DataTransfer", data) for _ in range(5)] == [
        {},
        {},
        {},
        {},
        {"UpdateItem": 1},
    ]
    assert send(central, clock, requests, "Heartbeat", {}) == {"UpdateItem": 1}
    # A heartbeat after an hour of silence also writes the outage
    assert send(central, clock, requests, "Heartbeat", {}, timedelta(hours=1)) == {
        "UpdateItem": 1,
        "PutItem": 1,
    }
    status = {
        "connectorId": 1,
        "status": "Faulted",
        "errorCode": "GroundFailure",
        "timestamp": "2026-11-23T08:00:00Z",
    }
    # A status: last seen, the connector now, and a history item only when it changed (or is late)
    assert send(central, clock, requests, "StatusNotification", status) == {"UpdateItem": 1, "PutItem": 2}
    assert send(central, clock, requests, "StatusNotification", status) == {"UpdateItem": 1, "PutItem": 1}
    late = {**status, "status": "Available", "errorCode": "NoError", "timestamp": "2026-11-23T07:59:00Z"}
    assert send(central, clock, requests, "StatusNotification", late) == {"UpdateItem": 1, "PutItem": 2}
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    assert send(central, clock, requests, "BootNotification", boot) == {"UpdateItem": 1}
