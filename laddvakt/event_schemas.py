"""Writes the live fleet events' JSON Schemas (`make event-schemas` writes them to docs/events/):
one per event, describing the whole EventBridge event a fleet app's rule delivers, with its
`detail` from the event's model and one example. A contract test fails when they are stale.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.models.events import (
    FLEET_EVENTS,
    ChargerFaulted,
    ChargerRecovered,
    FleetEvent,
    SessionCharging,
    SessionEnded,
    SessionIdle,
    SessionStarted,
)
from shared.topology import FLEET_EVENT_SOURCE, Names

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "events"

_SESSION = {
    "fleet_id": "nordvind",
    "session_id": "LV-UPPSALA-05:1042",
    "charge_point_id": "LV-UPPSALA-05",
    "connector_id": 1,
    "site_id": "uppsala-hub",
    "vehicle_id": "nor-v03",
    "driver_id": "nor-d03",
    "started_at": datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
}
_CONNECTOR = {"fleet_id": "nordvind", "charge_point_id": "LV-UPPSALA-05", "connector_id": 2}

EXAMPLES: dict[type[FleetEvent], FleetEvent] = {
    SessionStarted: SessionStarted(
        event_id="LV-UPPSALA-05:1042/started",
        occurred_at=datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        **_SESSION,
    ),
    SessionIdle: SessionIdle(
        event_id="LV-UPPSALA-05:1042/idle/2026-11-23T16:10:00.000+00:00",
        occurred_at=datetime(2026, 11, 23, 16, 10, tzinfo=UTC),
        power_kw=Decimal("0.040"),
        energy_kwh=Decimal("12.310"),
        soc_percent=Decimal(80),
        **_SESSION,
    ),
    SessionCharging: SessionCharging(
        event_id="LV-UPPSALA-05:1042/charging/2026-11-23T16:25:00.000+00:00",
        occurred_at=datetime(2026, 11, 23, 16, 25, tzinfo=UTC),
        power_kw=Decimal("7.400"),
        energy_kwh=Decimal("12.315"),
        soc_percent=Decimal(80),
        **_SESSION,
    ),
    SessionEnded: SessionEnded(
        event_id="LV-UPPSALA-05:1042/ended",
        occurred_at=datetime(2026, 11, 23, 16, 45, tzinfo=UTC),
        ended_at=datetime(2026, 11, 23, 16, 45, tzinfo=UTC),
        energy_kwh=Decimal("12.345"),
        stop_reason="EVDisconnected",
        end_inferred=False,
        **_SESSION,
    ),
    ChargerFaulted: ChargerFaulted(
        event_id="LV-UPPSALA-05/2/faulted/2026-11-23T17:05:00.000+00:00",
        occurred_at=datetime(2026, 11, 23, 17, 5, tzinfo=UTC),
        status="Faulted",
        error_code="GroundFailure",
        info="RCD tripped",
        **_CONNECTOR,
    ),
    ChargerRecovered: ChargerRecovered(
        event_id="LV-UPPSALA-05/2/recovered/2026-11-23T17:40:00.000+00:00",
        occurred_at=datetime(2026, 11, 23, 17, 40, tzinfo=UTC),
        status="Available",
        error_code="NoError",
        **_CONNECTOR,
    ),
}


def delivered(
    event: FleetEvent, *, account: str = "123456789012", region: str = "eu-north-1"
) -> dict[str, Any]:
    """The event as EventBridge delivers it to a rule's target."""
    return {
        "version": "0",
        "id": "6f0c1e4a-3f5e-4c1b-9d0a-2f1e8b7c5a10",
        "detail-type": event.detail_type(),
        "source": FLEET_EVENT_SOURCE,
        "account": account,
        "time": event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": event.model_dump(mode="json"),
    }


def schema(model: type[FleetEvent]) -> dict[str, Any]:
    detail = model.model_json_schema(mode="serialization")
    definitions = detail.pop("$defs", None)
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": model.detail_type(),
        "description": f"{model.summary}. Delivered by EventBridge from the {Names().fleet_event_bus} bus.",
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {
            "source": {"const": FLEET_EVENT_SOURCE},
            "detail-type": {"const": model.detail_type()},
            "time": {"type": "string", "format": "date-time", "description": "When EventBridge received it"},
            "detail": detail,
        },
        "examples": [delivered(EXAMPLES[model])],
    }
    if definitions:
        document["$defs"] = definitions
    return document


def schemas() -> dict[str, str]:
    """File name -> content, for every live fleet event."""
    return {
        f"{model.detail_type()}.schema.json": json.dumps(schema(model), indent=2, ensure_ascii=False) + "\n"
        for model in FLEET_EVENTS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help="folder (default docs/events)")
    out = Path(parser.parse_args(argv).out)
    out.mkdir(parents=True, exist_ok=True)
    for name, content in schemas().items():
        (out / name).write_text(content, encoding="utf-8")
    print(f"wrote {len(FLEET_EVENTS)} event schemas to {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
