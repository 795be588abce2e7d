"""The published event schemas are what fleet apps build against: they must match the models,
and every example in docs/events.md and every event Laddvakt makes must match them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from laddvakt.event_schemas import delivered, schemas
from shared.domain.fleet_events import ConnectorReport, connector_events, session_events
from shared.models.events import FLEET_EVENTS
from shared.models.sessions import Session

pytestmark = pytest.mark.contract

DOCS = Path(__file__).resolve().parents[2] / "docs"


def committed(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DOCS / "events" / f"{name}.schema.json").read_text())
    return schema


def validate(event: dict[str, Any]) -> None:
    schema = committed(event["detail-type"])
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(event)


def test_committed_schemas_match_the_models():
    generated = {name: json.loads(content) for name, content in schemas().items()}
    on_disk = {p.name: json.loads(p.read_text()) for p in (DOCS / "events").glob("*.schema.json")}
    assert on_disk == generated, "docs/events/ is stale: run `make event-schemas` and commit it"


def test_every_example_in_the_docs_is_a_valid_event_and_every_event_has_one():
    blocks = re.findall(r"```json\n(.*?)\n```", (DOCS / "events.md").read_text(), flags=re.DOTALL)
    examples = [json.loads(block) for block in blocks]
    for example in examples:
        validate(example)
    assert {e["detail-type"] for e in examples} == {model.detail_type() for model in FLEET_EVENTS}


def test_the_events_laddvakt_makes_match_the_published_schemas():
    start = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    live = Session(
        session_id="CP-1:7", transaction_id="7", charge_point_id="CP-1", connector_id=1, id_tag="T",
        fleet_id="nordvind", site_id="s", started_at=start, meter_start_wh=Decimal(1000),
        latest_power_w=Decimal(11_000), latest_power_at=start, latest_register_wh=Decimal(2000),
    )  # fmt: skip
    idle = live.model_copy(
        update={"latest_power_w": Decimal(0), "latest_power_at": start + timedelta(hours=1)}
    )
    ended = idle.model_copy(update={"ended_at": start + timedelta(hours=2), "meter_stop_wh": Decimal(2500)})
    events = [
        *session_events(None, live), *session_events(live, idle), *session_events(idle, live),
        *session_events(idle, ended),
    ]  # fmt: skip
    healthy = ConnectorReport("nordvind", "CP-1", 1, "Available", "NoError", start)
    faulted = ConnectorReport("nordvind", "CP-1", 1, "Faulted", "GroundFailure", start, info=None)
    events += [*connector_events(healthy, faulted), *connector_events(faulted, healthy)]
    assert {e.detail_type() for e in events} == {model.detail_type() for model in FLEET_EVENTS}
    for event in events:
        validate(delivered(event))
