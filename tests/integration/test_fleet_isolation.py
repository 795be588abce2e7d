"""Fleet A can never see or change anything of fleet B, whatever it puts in paths, queries or
bodies. Every route of the committed OpenAPI document is called by fleet A with every role
(`fleet_manager`, `finance`, `admin`) and fleet B's ids, cursors and references; a route added
to the API without a case here fails `test_every_documented_route_is_tried`.

Fleet B is busy while this runs: invoiced and active sessions, invoices, analytics, charging
needs, two of every registry record. What fleet A gets must never name B's fleet or B's records'
names; a read of B's record must answer exactly as a record that does not exist; and B's data
must be the same afterwards, item for item.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr, Key

from shared.adapters.charger_link import ChargerLink
from shared.adapters.registry_table import BY_FLEET_INDEX, RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.adapters.site_schedules import SiteSchedules
from shared.models.registry import (
    Charger,
    ChargingNeeds,
    Driver,
    FlatTariff,
    Fleet,
    RegistryDocument,
    Site,
    Token,
    Vehicle,
)
from shared.scheduling import SchedulingService
from tests.frames import api_event, call, published, sqs_event
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
ROUTES = sorted((method.upper(), path) for path, ops in OPENAPI["paths"].items() for method in ops)
EVERY_ROLE = "fleet_manager,finance,admin"
DAY = "2026-11-20"


@dataclass(frozen=True)
class Tenant:
    id: str
    sites: tuple[str, str]
    chargers: tuple[str, str]
    vehicles: tuple[str, str]
    drivers: tuple[str, str]
    tags: tuple[str, str]
    secret: str  # a word in every name of this fleet's records: it must never reach another fleet
    sessions: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)


def _tenant(label: str) -> Tenant:
    token = uuid.uuid4().hex[:6]
    fleet = f"iso-{label}-{token}"
    # The records' ids do not contain the fleet's: an answer may echo an id the caller sent.
    pair = lambda kind: (f"{label}{token}-{kind}1", f"{label}{token}-{kind}2")  # noqa: E731
    return Tenant(
        fleet, pair("site"), pair("cp"), pair("van"), pair("drv"), pair("TAG"), f"Secret{label.upper()}"
    )


def _document(operator: Any, t: Tenant) -> RegistryDocument:
    tariff = FlatTariff(energy_price_per_kwh=Decimal("2.50"), vat_rate_percent=Decimal(25))
    return RegistryDocument(
        operator=operator,
        fleets=[
            Fleet(id=t.id, name=f"{t.secret} AB", organisation_number="5560002221", buyer_reference="ISO")
        ],
        sites=[
            Site(
                id=s,
                fleet_id=t.id,
                name=f"{t.secret} depot",
                tariff=tariff,
                grid_limit_kw=Decimal(30) if s == t.sites[0] else None,
            )
            for s in t.sites
        ],
        chargers=[Charger(id=c, site_id=t.sites[0], connectors=2) for c in t.chargers],
        vehicles=[
            Vehicle(id=v, fleet_id=t.id, name=f"{t.secret} van", battery_kwh=Decimal(60)) for v in t.vehicles
        ],
        drivers=[Driver(id=d, fleet_id=t.id, name=f"{t.secret} driver") for d in t.drivers],
        tokens=[
            Token(id_tag=tag, fleet_id=t.id, vehicle_id=v, driver_id=d)
            for tag, v, d in zip(t.tags, t.vehicles, t.drivers, strict=True)
        ],
    )


def _charge(handlers, context, cp: str, connector: int, tag: str, start: str, stop: str | None) -> str:
    begin = {"connectorId": connector, "idTag": tag, "meterStart": 0, "timestamp": start}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", begin), charge_point_id=cp), context
    )
    transaction_id = published(f"{cp}/out")[-1][2]["transactionId"]
    meter = {
        "connectorId": connector,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": start.replace("T06", "T07"),
                "sampledValue": [
                    {"value": "5000", "unit": "Wh"},
                    {"value": "11", "unit": "kW", "measurand": "Power.Active.Import"},
                ],
            }
        ],
    }
    handlers["ingest"].lambda_handler(sqs_event(call("m", "MeterValues", meter), charge_point_id=cp), context)
    if stop is not None:
        end = {"transactionId": transaction_id, "meterStop": 9000, "timestamp": stop}
        handlers["ingest"].lambda_handler(
            sqs_event(call("e", "StopTransaction", end), charge_point_id=cp), context
        )
    return f"{cp}:{transaction_id}"


def _bill(handlers, context, session_id: str) -> str:
    closed = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    priced = handlers["price_session"].lambda_handler(closed, context)
    ref = handlers["write_invoice"].lambda_handler(priced, context)
    invoiced = handlers["mark_invoiced"].lambda_handler(ref, context)
    handlers["record_rollups"].lambda_handler({**priced, "invoice": ref, "invoiced": invoiced}, context)
    return str(ref["invoice_id"])


def call_api(handlers, context, fleet: str, method: str, path: str, query=None, body=None, groups=EVERY_ROLE):
    event = api_event(path, fleet, groups=groups, method=method, query=query, body=body)
    response = handlers["fleet_api"].lambda_handler(event, context)
    return response["statusCode"], response.get("body") or ""


@dataclass
class World:
    a: Tenant
    b: Tenant
    cursors: dict[str, str]


@pytest.fixture(scope="module")
def world(aws, handlers, context) -> World:
    """Given two fleets with two of everything, and fleet B busy: two invoiced sessions (with their
    analytics), one still charging, charging needs for a van, and a page cursor for every list."""
    operator = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text()).operator
    a, b = _tenant("a"), _tenant("b")
    registry = RegistryTable(aws.registry_table)
    for tenant in (a, b):
        registry.import_document(_document(operator, tenant))
    for n, tag in enumerate(b.tags):
        session = _charge(
            handlers, context, b.chargers[0], 1, tag, f"{DAY}T06:0{n}:00Z", f"{DAY}T08:0{n}:00Z"
        )
        b.invoices.append(_bill(handlers, context, session))
        b.sessions.append(session)
    b.sessions.append(_charge(handlers, context, b.chargers[1], 2, b.tags[0], f"{DAY}T06:30:00Z", None))
    now = datetime.now(UTC)
    registry.put_charging_needs(
        ChargingNeeds(
            vehicle_id=b.vehicles[0], fleet_id=b.id, departure_at=now + timedelta(hours=9),
            target_soc_percent=Decimal(90), updated_at=now,
        )
    )  # fmt: skip
    # B's depot is planned: its schedule must never reach A
    scheduled = SchedulingService(
        RegistryTable(aws.registry_table, cache_seconds=0),
        SessionsTable(aws.sessions_table),
        SiteSchedules(aws.registry_table),
        ChargerLink(),
    ).reschedule(b.sites[0], "arrival")
    assert scheduled is not None and scheduled.connectors
    cursors = {}
    for path in ("/sessions", "/invoices", "/vehicles", "/sites", "/drivers", "/tokens"):
        status, body = call_api(handlers, context, b.id, "GET", path, {"limit": "1"})
        assert status == 200, (path, body)
        cursors[path] = json.loads(body)["next_cursor"]
        assert cursors[path], f"fleet B needs two of {path} for a cursor"
    return World(a, b, cursors)


@dataclass(frozen=True)
class Attempt:
    path: str
    expect: set[int]
    query: dict[str, str] | None = None
    body: Any = None
    missing: str | None = None  # the same request with this id must answer exactly alike


def attempts(w: World) -> dict[tuple[str, str], list[Attempt]]:
    a, b = w.a, w.b
    later = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    period = {"from": DAY, "to": DAY}
    gone = "nobody-has-this-id"
    return {
        ("GET", "/fleet/status"): [Attempt("/fleet/status", {200}, {"include_away": "true"})],
        ("GET", "/fleet/schedule"): [
            Attempt("/fleet/schedule", {200}),
            Attempt("/fleet/schedule", {200}, {"site_id": b.sites[0]}),
        ],
        ("GET", "/chargers"): [Attempt("/chargers", {200})],
        ("GET", "/chargers/{charge_point_id}"): [Attempt(f"/chargers/{b.chargers[0]}", {404}, missing=gone)],
        ("PUT", "/chargers/{charge_point_id}"): [
            Attempt(f"/chargers/{b.chargers[0]}", {409}, body={"site_id": a.sites[0]}),
            Attempt(f"/chargers/{a.chargers[0]}-new", {422}, body={"site_id": b.sites[0]}),
        ],
        ("DELETE", "/chargers/{charge_point_id}"): [
            Attempt(f"/chargers/{b.chargers[1]}", {404}, missing=gone)
        ],
        ("GET", "/vehicles"): [
            Attempt("/vehicles", {200}),
            Attempt("/vehicles", {400}, {"cursor": w.cursors["/vehicles"]}),
        ],
        ("GET", "/vehicles/{vehicle_id}"): [Attempt(f"/vehicles/{b.vehicles[0]}", {404}, missing=gone)],
        ("PUT", "/vehicles/{vehicle_id}"): [
            Attempt(f"/vehicles/{b.vehicles[0]}", {409}, body={"name": "hijacked"})
        ],
        ("DELETE", "/vehicles/{vehicle_id}"): [Attempt(f"/vehicles/{b.vehicles[1]}", {404}, missing=gone)],
        ("GET", "/vehicles/{vehicle_id}/sessions"): [
            Attempt(f"/vehicles/{b.vehicles[0]}/sessions", {404}, missing=gone),
            Attempt(f"/vehicles/{a.vehicles[0]}/sessions", {400}, {"cursor": w.cursors["/sessions"]}),
        ],
        ("PUT", "/vehicles/{vehicle_id}/charging-needs"): [
            Attempt(
                f"/vehicles/{b.vehicles[0]}/charging-needs", {404}, body={"departure_at": later}, missing=gone
            )
        ],
        ("DELETE", "/vehicles/{vehicle_id}/charging-needs"): [
            Attempt(f"/vehicles/{b.vehicles[0]}/charging-needs", {404}, missing=gone)
        ],
        ("GET", "/sessions"): [
            Attempt("/sessions", {200}, {"vehicle_id": b.vehicles[0]}),
            Attempt("/sessions", {200}, {"charge_point_id": b.chargers[0]}),
            Attempt("/sessions", {200}, {"driver_id": b.drivers[0], "status": "invoiced"}),
            Attempt("/sessions", {400}, {"cursor": w.cursors["/sessions"]}),
        ],
        ("GET", "/sessions/{session_id}"): [
            Attempt(f"/sessions/{b.sessions[0]}", {404}, missing=f"{gone}:1")
        ],
        ("GET", "/invoices"): [
            Attempt("/invoices", {200}),
            Attempt("/invoices", {400}, {"cursor": w.cursors["/invoices"]}),
        ],
        ("GET", "/invoices/{invoice_number}"): [
            Attempt(f"/invoices/{b.invoices[0]}", {404}, missing="LV-9999999")
        ],
        ("GET", "/analytics/energy"): [
            Attempt("/analytics/energy", {200}, {**period, "group_by": group})
            for group in ("fleet", "vehicle", "driver")
        ]
        + [Attempt("/analytics/energy", {200}, {**period, "group_by": "vehicle", "format": "csv"})],
        ("GET", "/analytics/utilisation"): [
            Attempt("/analytics/utilisation", {200}, {**period, "group_by": group})
            for group in ("charger", "site")
        ],
        ("GET", "/analytics/site-load"): [Attempt("/analytics/site-load", {200}, period)],
        ("GET", "/analytics/arrivals"): [Attempt("/analytics/arrivals", {200}, period)],
        ("GET", "/sites"): [
            Attempt("/sites", {200}),
            Attempt("/sites", {400}, {"cursor": w.cursors["/sites"]}),
        ],
        ("GET", "/sites/{site_id}"): [Attempt(f"/sites/{b.sites[0]}", {404}, missing=gone)],
        ("GET", "/sites/{site_id}/availability"): [
            Attempt(f"/sites/{b.sites[0]}/availability", {404}, missing=gone),
            Attempt(f"/sites/{a.sites[0]}/availability", {200}),
        ],
        ("PUT", "/sites/{site_id}"): [Attempt(f"/sites/{b.sites[1]}", {409}, body={"name": "hijacked"})],
        ("DELETE", "/sites/{site_id}"): [Attempt(f"/sites/{b.sites[1]}", {404}, missing=gone)],
        ("GET", "/drivers"): [
            Attempt("/drivers", {200}),
            Attempt("/drivers", {400}, {"cursor": w.cursors["/drivers"]}),
        ],
        ("GET", "/drivers/{driver_id}"): [Attempt(f"/drivers/{b.drivers[0]}", {404}, missing=gone)],
        ("PUT", "/drivers/{driver_id}"): [
            Attempt(f"/drivers/{b.drivers[0]}", {409}, body={"name": "hijacked"})
        ],
        ("DELETE", "/drivers/{driver_id}"): [Attempt(f"/drivers/{b.drivers[1]}", {404}, missing=gone)],
        ("GET", "/tokens"): [
            Attempt("/tokens", {200}),
            Attempt("/tokens", {400}, {"cursor": w.cursors["/tokens"]}),
        ],
        ("GET", "/tokens/{id_tag}"): [Attempt(f"/tokens/{b.tags[0]}", {404}, missing=gone)],
        ("PUT", "/tokens/{id_tag}"): [
            Attempt(f"/tokens/{b.tags[0]}", {409}, body={"vehicle_id": a.vehicles[0]}),
            Attempt(
                f"/tokens/{a.id}-NEW", {422}, body={"vehicle_id": b.vehicles[0], "driver_id": b.drivers[0]}
            ),
        ],
        ("DELETE", "/tokens/{id_tag}"): [Attempt(f"/tokens/{b.tags[1]}", {404}, missing=gone)],
    }


def fleet_b_data(aws, b: Tenant) -> list[dict[str, Any]]:
    """Everything stored of fleet B: its registry records (live state, needs), its sessions and
    their samples, its analytics and invoices."""
    registry = aws.table(aws.registry_table)
    items = registry.query(
        IndexName=BY_FLEET_INDEX, KeyConditionExpression=Key("gsi1pk").eq(f"FLEET#{b.id}")
    )["Items"]
    for session_id in b.sessions:
        items += aws.table(aws.sessions_table).query(KeyConditionExpression=Key("session_id").eq(session_id))[
            "Items"
        ]
    items += aws.table(aws.analytics_table).query(KeyConditionExpression=Key("pk").eq(f"FLEET#{b.id}"))[
        "Items"
    ]
    items += aws.table(aws.billing_table).scan(FilterExpression=Attr("fleet_id").eq(b.id))["Items"]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))


def test_every_documented_route_is_tried(world):
    assert sorted(attempts(world)) == ROUTES


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: " ".join(r))
def test_fleet_a_cannot_see_or_change_fleet_b_through(route, aws, handlers, context, world):
    a, b = world.a, world.b
    before = fleet_b_data(aws, b)
    method, _ = route
    for attempt in attempts(world)[route]:
        # When fleet A's admin sends B's ids
        status, body = call_api(handlers, context, a.id, method, attempt.path, attempt.query, attempt.body)
        # Then the answer is the expected refusal or A's own data, never a 5xx
        assert status in attempt.expect, (attempt, status, body)
        # And it never names B's fleet or B's records (names carry B's secret word)
        assert b.id not in body and b.secret not in body, (attempt, body)
        if status == 200:
            leaked = [
                i
                for i in (*b.sites, *b.chargers, *b.vehicles, *b.drivers, *b.tags, *b.sessions, *b.invoices)
                if i in body
            ]
            assert not leaked, (attempt, leaked)
        # And B's record answers exactly as one that does not exist
        if attempt.missing is not None:
            own_id = next(
                i
                for i in (*b.sites, *b.chargers, *b.vehicles, *b.drivers, *b.tags, *b.sessions, *b.invoices)
                if i in attempt.path
            )
            twin = call_api(
                handlers,
                context,
                a.id,
                method,
                attempt.path.replace(own_id, attempt.missing),
                attempt.query,
                attempt.body,
            )
            assert (status, body.replace(own_id, attempt.missing)) == twin, attempt
    # And fleet B's data is exactly as it was
    assert fleet_b_data(aws, b) == before
