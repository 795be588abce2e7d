"""Live fleet events: one change of a session head or a connector, read from a table's stream,
announced on the fleet event bus. Ingest never waits for this: it runs off the streams.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.adapters.change_streams import connector_report, session_head
from shared.adapters.event_bus import FleetEventBus
from shared.domain.fleet_events import connector_events, session_events
from shared.models.events import FleetEvent
from shared.settings import PublishEventsSettings


class LiveEvents:
    def __init__(self, bus: FleetEventBus) -> None:
        self._bus = bus

    @classmethod
    def from_settings(cls, settings: PublishEventsSettings) -> LiveEvents:
        return cls(FleetEventBus(settings.fleet_event_bus))

    def announce(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[FleetEvent]:
        """Publish what this change means (often nothing) and return it."""
        events = session_events(session_head(old), session_head(new)) + connector_events(
            connector_report(old), connector_report(new)
        )
        if events:
            self._bus.publish(events)
        return events
