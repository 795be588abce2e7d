"""The fleet event bus adapter: batches of ten, refused entries sent again, and a failure that
fails the change when EventBridge keeps refusing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.event_bus import FleetEventBus
from shared.domain.errors import StorageUnavailable
from shared.models.events import ChargerFaulted

pytestmark = pytest.mark.unit


class FakeEvents:
    """EventBridge's PutEvents: refuses the first entry of each of the first `refuse_times` requests."""

    def __init__(self, refuse_times: int = 0) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self._refuse_times = refuse_times

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # boto3's name
        self.requests.append(Entries)
        refusing = len(self.requests) <= self._refuse_times
        results = [
            {"ErrorCode": "InternalException", "ErrorMessage": "try again"}
            if refusing and i == 0
            else {"EventId": f"id-{i}"}
            for i, _ in enumerate(Entries)
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def faults(n: int) -> list[ChargerFaulted]:
    at = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    return [
        ChargerFaulted(
            fleet_id="nordvind",
            event_id=f"CP-{i}/1/faulted",
            occurred_at=at,
            charge_point_id=f"CP-{i}",
            connector_id=1,
            status="Faulted",
            error_code="GroundFailure",
        )
        for i in range(n)
    ]


def test_events_go_to_the_named_bus_in_requests_of_at_most_ten():
    events = FakeEvents()
    FleetEventBus("laddvakt-fleet", events=events).publish(faults(23))
    assert [len(r) for r in events.requests] == [10, 10, 3]
    entry = events.requests[0][0]
    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == (
        "laddvakt-fleet", "laddvakt.fleet", "ChargerFaulted",
    )  # fmt: skip
    assert json.loads(entry["Detail"])["fleet_id"] == "nordvind"


def test_only_the_refused_entries_are_sent_again():
    events = FakeEvents(refuse_times=1)
    FleetEventBus("laddvakt-fleet", events=events, sleep=lambda _: None).publish(faults(3))
    assert [len(r) for r in events.requests] == [3, 1]
    assert json.loads(events.requests[1][0]["Detail"])["charge_point_id"] == "CP-0"


def test_entries_still_refused_after_the_last_attempt_fail_the_call():
    events = FakeEvents(refuse_times=99)
    bus = FleetEventBus("laddvakt-fleet", events=events, attempts=3, sleep=lambda _: None)
    with pytest.raises(StorageUnavailable, match="InternalException"):
        bus.publish(faults(2))
    assert len(events.requests) == 3
