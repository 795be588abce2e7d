"""What the central system records about a charger being there: its last-seen time, outages it
ends, and 2.0.1 EVSE faults, with the ports faked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.domain.charger_health import Outage
from shared.domain.ocpp16 import CentralSystem16
from shared.domain.ocpp201 import CentralSystem201
from tests.fakes import FakeRegistry, FakeSessions, FakeWorkflow
from tests.unit.conftest import NOW, frame

pytestmark = pytest.mark.unit

CP = "LV-STHLM-01"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def central16(registry, sessions: FakeSessions, workflow: FakeWorkflow, clock: Clock) -> CentralSystem16:
    return CentralSystem16(registry, sessions, workflow, heartbeat_interval_seconds=300, clock=clock)


def test_a_heartbeat_after_a_long_silence_records_the_outage_from_the_last_frame(central16, registry, clock):
    # Given a charger that sent a heartbeat, then nothing for an hour
    central16.handle(CP, frame("1", "Heartbeat", {}))
    clock.now = NOW + timedelta(hours=1)
    # When its next heartbeat arrives
    central16.handle(CP, frame("2", "Heartbeat", {}))
    # Then the hour without contact is one outage
    assert registry.outages == [(CP, Outage(NOW, NOW + timedelta(hours=1)))]


def test_heartbeats_on_time_record_no_outage(central16, registry, clock):
    for minute in (0, 5, 10, 21):  # the last one 11 minutes late is still in the grace
        clock.now = NOW + timedelta(minutes=minute)
        central16.handle(CP, frame(str(minute), "Heartbeat", {}))
    assert registry.outages == []
    assert registry.last_seen[CP] == NOW + timedelta(minutes=21)


def test_a_status_frame_counts_as_contact_and_ends_an_outage(central16, registry: FakeRegistry, clock):
    central16.handle(CP, frame("b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))
    clock.now = NOW + timedelta(hours=2)
    status = {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure", "vendorErrorCode": "E7"}
    central16.handle(CP, frame("s", "StatusNotification", status))
    assert registry.outages == [(CP, Outage(NOW, NOW + timedelta(hours=2)))]
    assert registry.statuses[-1].vendor_error_code == "E7"


def test_other_frames_write_the_last_seen_time_at_most_once_a_heartbeat_interval(central16, registry, clock):
    # Given a busy charger that sends data every minute and no heartbeats
    for minute in range(12):
        clock.now = NOW + timedelta(minutes=minute)
        central16.handle(CP, frame(str(minute), "DataTransfer", {"vendorId": "x"}))
    # Then its last-seen time was written at minutes 0, 5 and 10 only, and it never went offline
    assert [at for _, at in registry.seen_writes] == [NOW + timedelta(minutes=m) for m in (0, 5, 10)]
    assert registry.outages == []


def test_a_2_0_1_station_reports_faulted_and_unavailable_evses(registry, sessions, workflow, clock):
    cp = "LV-GBG-09"
    central = CentralSystem201(registry, sessions, workflow, clock=clock)
    for evse, status in ((1, "Faulted"), (2, "Unavailable")):
        payload = {
            "timestamp": "2026-11-23T11:00:00Z",
            "connectorStatus": status,
            "evseId": evse,
            "connectorId": 1,
        }
        central.handle(cp, frame(str(evse), "StatusNotification", payload))
    assert [(s.connector_id, s.status, s.error_code) for s in registry.statuses] == [
        (1, "Faulted", "Faulted"),
        (2, "Unavailable", "NoError"),
    ]
    assert registry.last_seen[cp] == NOW
