"""The fleet's vehicles and sessions as a fleet app lists them: filters, pages that follow one
another without skipping or repeating a session, each vehicle's state now, and fleets kept apart
whatever ids and cursors they send."""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters import sessions_table as sessions_module
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionListing, SessionsTable, session_to_item
from shared.domain.ports import ConnectorStatusReport
from shared.models.registry import RegistryDocument, TokenGrant
from shared.models.sessions import Session, SessionStatus
from tests.frames import api_event
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration

STOCKHOLM = ZoneInfo("Europe/Stockholm")
STATUSES = [s.value for s in SessionStatus]
FIRST_START = datetime(2026, 9, 1, 5, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Fleets:
    """Fleet `mine` with five vehicles, three drivers and two chargers, and fleet `other` with one
    vehicle, whose driver also charges at one of mine's chargers."""

    mine: str
    other: str
    vehicles: list[str]
    drivers: list[str]
    chargers: list[str]
    other_vehicle: str
    other_charger: str
    sessions: list[Session]  # every session of `mine`, newest start first
    other_sessions: list[Session]


def _registry(mine: str, other: str) -> RegistryDocument:
    example = json.loads(EXAMPLE_REGISTRY.read_text())
    tariff = {"currency": "SEK", "energy_price_per_kwh": "3.00", "vat_rate_percent": "25"}
    return RegistryDocument.model_validate(
        {
            "operator": example["operator"],
            "fleets": [{"id": mine, "name": "Listed AB"}, {"id": other, "name": "Other AB"}],
            "sites": [
                {"id": f"{mine}-site", "fleet_id": mine, "name": "Depot", "tariff": tariff},
                {"id": f"{other}-site", "fleet_id": other, "name": "Yard", "tariff": tariff},
            ],
            "chargers": [
                {"id": f"{mine}-cp1", "site_id": f"{mine}-site", "connectors": 2},
                {"id": f"{mine}-cp2", "site_id": f"{mine}-site", "connectors": 2},
                {"id": f"{other}-cp1", "site_id": f"{other}-site"},
            ],
            "vehicles": [
                {
                    "id": f"{mine}-v{n}",
                    "fleet_id": mine,
                    "name": f"Van {n}",
                    "registration": f"LST {n:03d}",
                    "battery_kwh": "75",
                    "max_ac_kw": "11",
                    "max_dc_kw": "150",
                    "usual_departure": "07:30",
                }
                for n in range(1, 6)
            ]
            + [{"id": f"{other}-v1", "fleet_id": other, "name": "Other van"}],
            "drivers": [{"id": f"{mine}-d{n}", "fleet_id": mine} for n in range(1, 4)]
            + [{"id": f"{other}-d1", "fleet_id": other}],
        }
    )


def _session(
    fleet_id: str,
    charger: str,
    transaction: int,
    started_at: datetime,
    *,
    vehicle_id: str | None,
    driver_id: str | None,
    status: SessionStatus,
    **live: Any,
) -> Session:
    ended = None if status is SessionStatus.ACTIVE else started_at + timedelta(hours=2)
    return Session(
        session_id=f"{charger}:{transaction}",
        transaction_id=str(transaction),
        charge_point_id=charger,
        connector_id=1 + transaction % 2,
        id_tag=f"TAG-{transaction}",
        fleet_id=fleet_id,
        site_id=f"{fleet_id}-site",
        driver_id=driver_id,
        vehicle_id=vehicle_id,
        status=status,
        started_at=started_at,
        ended_at=ended,
        meter_start_wh=Decimal(1000),
        meter_stop_wh=Decimal(1000 + 500 * transaction) if ended else None,
        **live,
    )


@pytest.fixture(scope="module")
def fleets(aws) -> Fleets:
    """Two hundred and forty sessions of `mine` over two months, at distinct minutes, in every
    status; the five vehicles' live sessions set each one's state; `other` has its own sessions,
    one of them at a charger of `mine`."""
    tag = uuid.uuid4().hex[:6]
    mine, other = f"lst-{tag}", f"oth-{tag}"
    registry = RegistryTable(aws.registry_table)
    registry.import_document(_registry(mine, other))
    table = SessionsTable(aws.sessions_table)
    rng = random.Random(5)
    vehicles = [f"{mine}-v{n}" for n in range(1, 6)]
    drivers = [f"{mine}-d{n}" for n in range(1, 4)]
    chargers = [f"{mine}-cp1", f"{mine}-cp2"]
    minutes = rng.sample(range(60 * 24 * 60), 240)
    sessions = []
    for n, minute in enumerate(minutes):
        # The vehicles' own live sessions come below; these are history.
        status = SessionStatus(rng.choice([s for s in STATUSES if s != "active"]))
        sessions.append(
            _session(
                mine,
                rng.choice(chargers),
                1000 + n,
                FIRST_START + timedelta(minutes=minute),
                vehicle_id=rng.choice([*vehicles, None]),
                driver_id=rng.choice([*drivers, None]),
                status=status,
            )
        )
    now = FIRST_START + timedelta(days=61)
    live = [
        # v1 charging; v2 plugged in, waiting for power; v3 at its target SoC; v4 full (the car
        # stopped drawing after energy went in); v5 away.
        dict(vehicle_id=vehicles[0], latest_power_w=Decimal(7200), latest_register_wh=Decimal(9000)),
        dict(vehicle_id=vehicles[1], latest_power_w=Decimal(0)),
        dict(vehicle_id=vehicles[2], latest_power_w=Decimal(0), latest_soc_percent=Decimal(85)),
        dict(vehicle_id=vehicles[3], latest_power_w=Decimal(0), latest_register_wh=Decimal(30000)),
    ]
    for n, values in enumerate(live):
        sessions.append(
            _session(
                mine,
                chargers[n % 2],
                2000 + n,
                now + timedelta(minutes=n),
                driver_id=drivers[0],
                status=SessionStatus.ACTIVE,
                **values,
            )
        )
    for session in sessions:
        table.start(session, session.session_id)
    v4 = sessions[-1]
    registry.record_connector_status(
        ConnectorStatusReport(v4.charge_point_id, v4.connector_id, "SuspendedEV", "NoError", now), mine
    )
    other_sessions = [
        _session(other, f"{other}-cp1", 3000, now, vehicle_id=f"{other}-v1", driver_id=f"{other}-d1",
                 status=SessionStatus.ACTIVE, latest_power_w=Decimal(11000)),
        # Other's driver at a charger of mine: other's session, not mine.
        _session(other, chargers[0], 3001, FIRST_START + timedelta(days=3, seconds=30),
                 vehicle_id=f"{other}-v1", driver_id=f"{other}-d1", status=SessionStatus.INVOICED),
    ]  # fmt: skip
    for session in other_sessions:
        table.start(session, session.session_id)
    return Fleets(
        mine=mine,
        other=other,
        vehicles=vehicles,
        drivers=drivers,
        chargers=chargers,
        other_vehicle=f"{other}-v1",
        other_charger=f"{other}-cp1",
        sessions=sorted(sessions, key=lambda s: s.started_at, reverse=True),
        other_sessions=other_sessions,
    )


def get(handlers, context, path, fleet_id, groups="fleet_manager", **query):
    response = handlers["fleet_api"].lambda_handler(
        api_event(path, fleet_id, groups=groups, query={k: str(v) for k, v in query.items()} or None),
        context,
    )
    return response["statusCode"], json.loads(response["body"])


def every_page(handlers, context, path, fleet_id, key="sessions", **query) -> tuple[list[dict], list[int]]:
    """Follow `next_cursor` to the end: every item, and each page's size."""
    items: list[dict] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(500):
        status, page = get(
            handlers, context, path, fleet_id, **query, **({"cursor": cursor} if cursor else {})
        )
        assert status == 200, page
        items += page[key]
        sizes.append(len(page[key]))
        cursor = page.get("next_cursor")
        if not cursor:
            return items, sizes
    raise AssertionError("the pages never ended")


def ids(sessions: list[Any]) -> list[str]:
    return [s["session_id"] if isinstance(s, dict) else s.session_id for s in sessions]


# --- GET /sessions ---------------------------------------------------------------------------


def test_pages_of_sessions_follow_one_another_newest_first_to_the_last(handlers, context, fleets):
    # Given a fleet with 244 sessions, When its app pages through them 17 at a time
    listed, sizes = every_page(handlers, context, "/sessions", fleets.mine, limit=17)
    # Then it sees every session once, newest start first, and only its own
    assert ids(listed) == ids(fleets.sessions)
    assert sizes == [17] * 14 + [6]
    assert listed[0] == {
        "session_id": fleets.sessions[0].session_id,
        "status": "active",
        "vehicle_id": fleets.vehicles[3],
        "driver_id": fleets.drivers[0],
        "charge_point_id": fleets.chargers[1],
        "connector_id": 2,
        "site_id": f"{fleets.mine}-site",
        "started_at": "2026-11-01T05:03:00Z",
        "ended_at": None,
        "energy_kwh": "29.000",
        "power_kw": "0.000",
        "soc_percent": None,
        "stop_reason": None,
        "end_inferred": False,
    }


def test_a_date_is_a_whole_day_where_the_fleet_is(handlers, context, fleets):
    # Given a session that started just after midnight in Stockholm (the day before in UTC)
    early = next(s for s in fleets.sessions if s.started_at.astimezone(STOCKHOLM).hour == 0)
    day = early.started_at.astimezone(STOCKHOLM).date()
    assert early.started_at.date() < day
    # When the app asks for that day
    listed, _ = every_page(handlers, context, "/sessions", fleets.mine, **{"from": day, "to": day})
    # Then it gets the sessions that started on that day in Stockholm, not in UTC
    assert early.session_id in ids(listed)
    assert ids(listed) == ids(
        [s for s in fleets.sessions if s.started_at.astimezone(STOCKHOLM).date() == day]
    )
    # And a date-time with an offset is exact, both ends inclusive
    start, end = fleets.sessions[40].started_at, fleets.sessions[20].started_at
    listed, _ = every_page(
        handlers, context, "/sessions", fleets.mine, **{"from": start.isoformat(), "to": end.isoformat()}
    )
    assert ids(listed) == ids(fleets.sessions[20:41])


@pytest.mark.parametrize(
    "query",
    [
        {"vehicle_id": "v2"},
        {"driver_id": "d3"},
        {"charge_point_id": "cp2"},
        {"status": "held"},
        {"vehicle_id": "v1", "charge_point_id": "cp1", "status": "invoiced"},
        {"charge_point_id": "cp1", "driver_id": "d1", "from": "2026-09-15", "to": "2026-10-15"},
    ],
)
def test_each_filter_narrows_the_list_to_what_it_names(handlers, context, fleets, query):
    query = {k: (f"{fleets.mine}-{v}" if k.endswith("_id") else v) for k, v in query.items()}
    listed, _ = every_page(handlers, context, "/sessions", fleets.mine, limit=10, **query)
    expected = [s for s in fleets.sessions if _matches(s, query)]
    assert ids(listed) == ids(expected) and expected


def _matches(session: Session, query: dict[str, Any]) -> bool:
    local = session.started_at.astimezone(STOCKHOLM).date().isoformat()
    return (
        all(getattr(session, k) == v for k, v in query.items() if k.endswith("_id"))
        and session.status.value == query.get("status", session.status.value)
        and query.get("from", local) <= local <= query.get("to", local)
    )


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.fixed_dictionaries(
        {"limit": st.integers(min_value=1, max_value=60)},
        optional={
            "vehicle_id": st.sampled_from(["v1", "v2", "v3", "v4", "v5"]),
            "driver_id": st.sampled_from(["d1", "d2", "d3"]),
            "charge_point_id": st.sampled_from(["cp1", "cp2"]),
            "status": st.sampled_from(STATUSES),
            "from": st.dates(min_value=date(2026, 8, 30), max_value=date(2026, 11, 2)),
            "to": st.dates(min_value=date(2026, 8, 30), max_value=date(2026, 11, 2)),
        },
    )
)
def test_paged_with_any_filters_is_the_straight_list(handlers, context, fleets, data):
    # Given any filters and page size, When the app follows the cursors to the end
    query = {k: (f"{fleets.mine}-{v}" if k.endswith("_id") else v) for k, v in data.items()}
    if "from" in query and "to" in query and query["from"] > query["to"]:
        query["from"], query["to"] = query["to"], query["from"]
    query = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in query.items()}
    listed, sizes = every_page(handlers, context, "/sessions", fleets.mine, **query)
    # Then it has seen exactly the matching sessions, newest first, none twice, none skipped
    assert ids(listed) == ids([s for s in fleets.sessions if _matches(s, query)])
    assert all(size == data["limit"] for size in sizes[:-1])


def test_a_rare_match_pages_correctly_when_a_page_runs_out_of_reads(handlers, context, fleets, monkeypatch):
    # Given reads so small that one page cannot find `limit` held sessions of one driver
    monkeypatch.setattr(sessions_module, "_FILTERED_READ", 4)
    monkeypatch.setattr(sessions_module, "_PAGE_READS", 2)
    query = {"driver_id": fleets.drivers[1], "status": "held"}
    # When the app pages through them
    listed, sizes = every_page(handlers, context, "/sessions", fleets.mine, limit=5, **query)
    # Then pages come short (even empty) with a cursor, and together they are the straight list
    assert min(sizes[:-1]) < 5
    assert ids(listed) == ids([s for s in fleets.sessions if _matches(s, query)])


def test_another_fleet_lists_only_its_own_sessions_whatever_ids_it_names(handlers, context, fleets):
    # Given the other fleet names mine's vehicle, driver and charger
    for query in (
        {},
        {"vehicle_id": fleets.vehicles[0]},
        {"driver_id": fleets.drivers[0]},
        {"charge_point_id": fleets.chargers[1]},
    ):
        listed, _ = every_page(handlers, context, "/sessions", fleets.other, **query)
        # Then it sees none of mine's sessions
        assert not set(ids(listed)) & set(ids(fleets.sessions)), query
    # And at mine's charger it sees its own driver's session there, and mine does not
    listed, _ = every_page(handlers, context, "/sessions", fleets.other, charge_point_id=fleets.chargers[0])
    assert ids(listed) == [fleets.other_sessions[1].session_id]
    listed, _ = every_page(handlers, context, "/sessions", fleets.mine, charge_point_id=fleets.chargers[0])
    assert fleets.other_sessions[1].session_id not in ids(listed)


def _crafted(key: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_a_cursor_of_another_fleet_other_filters_or_made_up_is_a_400(handlers, context, fleets):
    _, page = get(handlers, context, "/sessions", fleets.mine, limit=3)
    mine = page["next_cursor"]
    _, page = get(handlers, context, "/sessions", fleets.mine, limit=3, vehicle_id=fleets.vehicles[0])
    by_vehicle = page["next_cursor"]
    head = {"session_id": "x:1", "sk": "SESSION", "started_at": "2026-09-02T00:00:00.000+00:00"}
    for fleet, cursor, query in (
        (fleets.other, mine, {}),  # mine's cursor in the other fleet
        (fleets.mine, mine, {"vehicle_id": fleets.vehicles[0]}),  # a fleet-wide cursor for one vehicle
        (fleets.mine, by_vehicle, {}),  # one vehicle's cursor for the whole fleet
        (fleets.mine, by_vehicle, {"vehicle_id": fleets.vehicles[1]}),  # another vehicle's
        (fleets.mine, mine, {"to": "2026-09-01"}),  # a cursor outside the asked range
        (fleets.mine, "not-a-cursor", {}),
        (fleets.mine, _crafted({**head, "fleet_id": fleets.other}), {}),
        (fleets.mine, _crafted({**head, "fleet_id": fleets.mine, "sk": "SAMPLE#x"}), {}),
        (fleets.mine, _crafted({**head, "fleet_id": fleets.mine, "session_id": ""}), {}),
        (fleets.mine, _crafted({**head, "fleet_vehicle": f"{fleets.other}#{fleets.other_vehicle}"}), {}),
    ):
        status, problem = get(handlers, context, "/sessions", fleet, cursor=cursor, **query)
        assert (status, problem["title"]) == (400, "Bad Request"), (cursor, query)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"from": "yesterday"},
        {"to": "2026-02-30"},
        {"from": "0001-01-01"},
        {"from": "2026-10-02", "to": "2026-10-01"},
        {"from": "2026-10-01T12:00:00Z", "to": "2026-10-01T11:00:00Z"},
        {"status": "done"},
        {"vehicle_id": "a#b"},
        {"charge_point_id": "x" * 49},
        {"cursor": "x" * 1001},
    ],
)
def test_bad_filters_are_a_clear_422_never_a_500(handlers, context, fleets, query):
    status, problem = get(handlers, context, "/sessions", fleets.mine, **query)
    assert (status, problem["title"]) == (422, "Unprocessable Content"), problem
    status, _ = get(handlers, context, f"/vehicles/{fleets.vehicles[0]}/sessions", fleets.mine, **query)
    assert status == 422 or "vehicle_id" in query


def test_finance_lists_sessions_but_not_vehicles(handlers, context, fleets):
    assert get(handlers, context, "/sessions", fleets.mine, groups="finance")[0] == 200
    assert (
        get(handlers, context, f"/vehicles/{fleets.vehicles[0]}/sessions", fleets.mine, groups="finance")[0]
        == 200
    )
    for path in ("/vehicles", f"/vehicles/{fleets.vehicles[0]}"):
        assert get(handlers, context, path, fleets.mine, groups="finance")[0] == 403


# --- GET /vehicles ---------------------------------------------------------------------------


def test_the_vehicle_list_shows_each_vehicles_state_now(handlers, context, fleets):
    status, page = get(handlers, context, "/vehicles", fleets.mine)
    assert (status, page["fleet_id"], page["next_cursor"]) == (200, fleets.mine, None)
    states = {v["vehicle_id"]: (v["state"], v["session_id"]) for v in page["vehicles"]}
    live = {s.vehicle_id: s.session_id for s in fleets.sessions if s.status is SessionStatus.ACTIVE}
    v1, v2, v3, v4, v5 = fleets.vehicles
    assert states == {
        v1: ("charging", live[v1]),
        v2: ("plugged_in", live[v2]),
        v3: ("ready", live[v3]),  # at its default target SoC of 80 %
        v4: ("ready", live[v4]),  # the car stopped drawing (SuspendedEV) after 29 kWh
        v5: ("away", None),
    }
    assert page["vehicles"][0] == {
        "vehicle_id": v1,
        "name": "Van 1",
        "registration": "LST 001",
        "battery_kwh": "75",
        "max_ac_kw": "11",
        "max_dc_kw": "150",
        "default_target_soc_percent": "80",
        "usual_departure": "07:30",
        "state": "charging",
        "session_id": live[v1],
    }


def test_vehicle_pages_follow_one_another(handlers, context, fleets):
    listed, sizes = every_page(handlers, context, "/vehicles", fleets.mine, key="vehicles", limit=2)
    assert [v["vehicle_id"] for v in listed] == fleets.vehicles and sizes == [2, 2, 1]


def test_a_vehicle_cursor_of_another_fleet_or_made_up_is_a_400(handlers, context, fleets):
    _, page = get(handlers, context, "/vehicles", fleets.mine, limit=2)
    other = {"pk": f"VEHICLE#{fleets.other_vehicle}", "sk": "META", "gsi1pk": f"FLEET#{fleets.other}"}
    for fleet, cursor in (
        (fleets.other, page["next_cursor"]),
        (fleets.mine, "bm90LWEtY3Vyc29y"),
        (fleets.mine, _crafted({**other, "gsi1sk": f"VEHICLE#{fleets.other_vehicle}"})),
        (fleets.mine, _crafted({**other, "gsi1pk": f"FLEET#{fleets.mine}", "gsi1sk": "SITE#x"})),
    ):
        status, problem = get(handlers, context, "/vehicles", fleet, cursor=cursor)
        assert (status, problem["title"]) == (400, "Bad Request"), cursor
    for limit in ("0", "501", "many"):
        assert get(handlers, context, "/vehicles", fleets.mine, limit=limit)[0] == 422


def test_one_vehicle_with_its_active_session(handlers, context, fleets):
    status, vehicle = get(handlers, context, f"/vehicles/{fleets.vehicles[0]}", fleets.mine)
    assert status == 200
    assert (vehicle["state"], vehicle["battery_kwh"]) == ("charging", "75")
    session = vehicle["active_session"]
    assert session["session_id"] == vehicle["session_id"]
    assert (session["status"], session["power_kw"], session["energy_kwh"]) == ("active", "7.200", "8.000")
    status, away = get(handlers, context, f"/vehicles/{fleets.vehicles[4]}", fleets.mine)
    assert (status, away["state"], away["active_session"]) == (200, "away", None)


def test_another_fleets_vehicle_is_not_found_like_a_missing_one(handlers, context, fleets):
    for path in (f"/vehicles/{fleets.other_vehicle}", f"/vehicles/{fleets.other_vehicle}/sessions"):
        status, problem = get(handlers, context, path, fleets.mine)
        missing_status, missing = get(
            handlers, context, path.replace(fleets.other_vehicle, "no-such-van"), fleets.mine
        )
        assert (status, problem["title"]) == (missing_status, missing["title"]) == (404, "Not Found")
    # And the other fleet's own vehicle is there for it
    assert get(handlers, context, f"/vehicles/{fleets.other_vehicle}", fleets.other)[1]["state"] == "charging"
    _, page = get(handlers, context, "/vehicles", fleets.other)
    assert [v["vehicle_id"] for v in page["vehicles"]] == [fleets.other_vehicle]


# --- GET /vehicles/{vehicle_id}/sessions -----------------------------------------------------


def test_a_vehicles_sessions_with_filters_page_by_page(handlers, context, fleets):
    vehicle = fleets.vehicles[2]
    listed, _ = every_page(handlers, context, f"/vehicles/{vehicle}/sessions", fleets.mine, limit=4)
    assert ids(listed) == ids([s for s in fleets.sessions if s.vehicle_id == vehicle])
    query = {"status": "invoiced", "charge_point_id": fleets.chargers[0], "from": "2026-09-20"}
    listed, _ = every_page(handlers, context, f"/vehicles/{vehicle}/sessions", fleets.mine, limit=3, **query)
    expected = [s for s in fleets.sessions if s.vehicle_id == vehicle and _matches(s, query)]
    assert ids(listed) == ids(expected) and expected


# --- the write path keeps the listing indexes right -------------------------------------------


def test_a_session_identified_after_plug_in_moves_to_its_vehicle_and_fleet(aws):
    # Given a 2.0.1 session that started before anyone authorized: the charger's fleet's
    table = SessionsTable(aws.sessions_table)
    tag = uuid.uuid4().hex[:6]
    site_fleet, driver_fleet, charger, vehicle = f"site-{tag}", f"drv-{tag}", f"cp-{tag}", f"van-{tag}"
    session = _session(site_fleet, charger, 1, FIRST_START, vehicle_id=None, driver_id=None,
                       status=SessionStatus.ACTIVE)  # fmt: skip
    table.start(session, session.session_id)
    assert ids(table.page(SessionListing(site_fleet, charge_point_id=charger), 10)[0]) == [session.session_id]
    # When a driver of another fleet authorizes with that fleet's vehicle
    grant = TokenGrant(
        id_tag="T", status="Accepted", fleet_id=driver_fleet, driver_id="d", vehicle_id=vehicle
    )
    table.identify(session.session_id, charger, grant)
    # Then it is listed under that fleet's vehicle and charger, and no longer under the site's fleet
    assert ids(table.page(SessionListing(driver_fleet, vehicle_id=vehicle), 10)[0]) == [session.session_id]
    assert ids(table.page(SessionListing(driver_fleet, charge_point_id=charger), 10)[0]) == [
        session.session_id
    ]
    assert table.page(SessionListing(site_fleet, charge_point_id=charger), 10)[0] == []
    # And authorized again without a vehicle, it leaves the vehicle's list
    table.identify(session.session_id, charger, grant.model_copy(update={"vehicle_id": None}))
    assert table.page(SessionListing(driver_fleet, vehicle_id=vehicle), 10)[0] == []


def test_sessions_stored_before_the_listing_indexes_are_given_their_keys(aws):
    # Given a session head written before the vehicle and charger indexes existed
    table = SessionsTable(aws.sessions_table)
    tag = uuid.uuid4().hex[:6]
    fleet, charger, vehicle = f"old-{tag}", f"cp-{tag}", f"van-{tag}"
    session = _session(fleet, charger, 1, FIRST_START, vehicle_id=vehicle, driver_id=None,
                       status=SessionStatus.INVOICED)  # fmt: skip
    legacy = {
        k: v for k, v in session_to_item(session).items() if k not in {"fleet_vehicle", "fleet_charger"}
    }
    aws.table(aws.sessions_table).put_item(Item=legacy)
    assert table.page(SessionListing(fleet, vehicle_id=vehicle), 10)[0] == []
    # When the operator runs `laddvakt sessions index`
    assert table.add_listing_keys() >= 1
    # Then the vehicle's and the charger's lists have it, and running it again changes nothing
    assert ids(table.page(SessionListing(fleet, vehicle_id=vehicle), 10)[0]) == [session.session_id]
    assert ids(table.page(SessionListing(fleet, charge_point_id=charger), 10)[0]) == [session.session_id]
    assert table.add_listing_keys() == 0
