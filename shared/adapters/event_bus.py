"""The fleet event bus (EventBridge): live fleet events out, in PutEvents requests of at most ten
entries. Entries EventBridge refuses are sent again a few times; any still refused then fail the
call, so the change that caused them is retried rather than announced in part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from shared.adapters.aws import aws_errors, client
from shared.domain.errors import StorageUnavailable
from shared.models.events import FleetEvent
from shared.topology import FLEET_EVENT_SOURCE

MAX_ENTRIES_PER_REQUEST = 10  # PutEvents' own limit


class FleetEventBus:
    def __init__(
        self,
        bus_name: str,
        *,
        events: Any = None,
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bus_name = bus_name
        self._events = events if events is not None else client("events")
        self._attempts = attempts
        self._sleep = sleep

    def entry(self, event: FleetEvent) -> dict[str, str]:
        return {
            "EventBusName": self._bus_name,
            "Source": FLEET_EVENT_SOURCE,
            "DetailType": event.detail_type(),
            "Detail": event.model_dump_json(),
        }

    def publish(self, events: Sequence[FleetEvent]) -> None:
        for start in range(0, len(events), MAX_ENTRIES_PER_REQUEST):
            self._put([self.entry(e) for e in events[start : start + MAX_ENTRIES_PER_REQUEST]])

    def _put(self, entries: list[dict[str, str]]) -> None:
        refused: list[str] = []
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(0.1 * 2**attempt)
            with aws_errors("put fleet events"):
                response = self._events.put_events(Entries=entries)
            results = response.get("Entries", [])
            failed = [(e, r) for e, r in zip(entries, results, strict=False) if r.get("ErrorCode")]
            if not failed and response.get("FailedEntryCount", 0) == 0:
                return
            entries = [e for e, _ in failed] or entries
            refused = [
                f"{e['DetailType']}: {r['ErrorCode']} {r.get('ErrorMessage', '')}".strip() for e, r in failed
            ]
        raise StorageUnavailable(
            f"EventBridge refused {len(entries)} fleet event(s) on {self._bus_name} after "
            f"{self._attempts} attempts: {'; '.join(refused)}"
        )
