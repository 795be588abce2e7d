"""Depot scheduling against moto (tables from the synthesized template): frames in through the
real ingest handler, the scheduler reading the sessions and registry, its plan stored under a
version, its SetChargingProfile published on `{chargePointId}/out`, and the charger's answer
matched by the ingest path to the pending command.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.adapters.charger_link import ChargerLink
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.adapters.site_schedules import SiteSchedules
from shared.domain.errors import ScheduleConflict
from shared.fleet_schedule import site_view
from shared.models.events import InboundFrameRecord
from shared.models.profiles import SiteStays, Stay
from shared.models.registry import Charger, ChargingNeeds, RegistryDocument, Site, Token, Vehicle
from shared.scheduling import SchedulingService
from tests.frames import call, published, sqs_event
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration

SITE = "sthlm-sched"
LIMIT = Decimal(25)
A, B, C = "LV-SCHED-I1", "LV-SCHED-I2", "LV-SCHED-I3"
TOKENS = {A: "RFID0007", B: "RFID0008", C: "RFID0009"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def site(aws: Any) -> str:
    # Given a Nordvind depot with a 25 kW grid connection and three 11 kW chargers
    example = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    depot = next(s for s in example.sites if s.id == "sthlm-depot")
    RegistryTable(aws.registry_table).import_document(
        RegistryDocument(
            operator=example.operator,
            fleets=[f for f in example.fleets if f.id == "nordvind"],
            sites=[Site.model_validate({**depot.model_dump(), "id": SITE, "grid_limit_kw": LIMIT})],
            chargers=[Charger(id=cp, site_id=SITE, max_power_kw=Decimal(11)) for cp in (A, B, C)],
        )
    )
    return SITE


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scheduler(aws: Any, site: str, clock: Clock) -> SchedulingService:
    return SchedulingService(
        RegistryTable(aws.registry_table, cache_seconds=0),
        SessionsTable(aws.sessions_table),
        SiteSchedules(aws.registry_table),
        ChargerLink(),
        clock=clock,
    )


def frames(handlers: Any, context: Any, charge_point_id: str, *raw: bytes) -> None:
    result = handlers["ingest"].lambda_handler(sqs_event(*raw, charge_point_id=charge_point_id), context)
    assert result == {"batchItemFailures": []}


def plug_in(handlers: Any, context: Any, charge_point_id: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    frames(
        handlers,
        context,
        charge_point_id,
        call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "AC11"}),
        call(
            "s",
            "StartTransaction",
            {"connectorId": 1, "idTag": TOKENS[charge_point_id], "meterStart": 0, "timestamp": at},
        ),
    )


def last_profile(charge_point_id: str) -> list[Any]:
    sent = [f for f in published(f"{charge_point_id}/out") if f[0] == 2 and f[2] == "SetChargingProfile"]
    assert sent, f"{charge_point_id} was sent no SetChargingProfile"
    return sent[-1]


def answer(handlers: Any, context: Any, charge_point_id: str, message_id: str, status: str) -> None:
    raw = json.dumps([3, message_id, {"status": status}]).encode()
    frames(handlers, context, charge_point_id, raw)


def test_plugged_in_vehicles_are_planned_stored_and_sent_their_profiles(
    aws, handlers, context, scheduler, clock
):
    # Given a vehicle plugged in at the limited depot
    plug_in(handlers, context, A)

    # When the scheduler plans the site
    schedule = scheduler.reschedule(SITE, "arrival")

    # Then the plan is stored (version 1) and the charger got a 1.6 TxProfile for its transaction
    assert schedule is not None
    stored = SiteSchedules(aws.registry_table).get(SITE)
    assert stored == schedule
    (connector,) = stored.connectors
    assert connector.profile.status == "pending"
    frame = last_profile(A)
    assert frame[1] == connector.profile.message_id
    assert frame[3]["csChargingProfiles"]["transactionId"] == int(connector.transaction_id)

    # When the charger accepts, the ingest path matches the answer to the pending command
    answer(handlers, context, A, frame[1], "Accepted")
    command = SiteSchedules(aws.registry_table).command(A, frame[1])
    assert command is not None and command.status == "accepted"

    # Then the next recompute shows it accepted and sends nothing new (nothing changed)
    before = len(published(f"{A}/out"))
    clock.now += timedelta(seconds=5)
    schedule = scheduler.reschedule(SITE, "answer")
    assert schedule is not None and schedule.connectors[0].profile.status == "accepted"
    assert len(published(f"{A}/out")) == before


def test_an_answer_to_nothing_pending_is_kept_as_unsolicited(aws, handlers, context, site):
    raw = json.dumps([3, "never-sent", {"status": "Accepted"}]).encode()
    record = InboundFrameRecord.model_validate(sqs_event(raw, charge_point_id=A)["Records"][0])
    result = handlers["ingest"].service.process(record.body)
    assert result.problem == "unsolicited response to message 'never-sent'"


def test_two_recomputes_never_overwrite_each_other(aws, scheduler, site):
    # Given the stored plan at some version
    schedules = SiteSchedules(aws.registry_table)
    current = schedules.get(SITE) or scheduler.reschedule(SITE, "first")
    assert current is not None

    # When a second writer stores the next version first
    schedules.put(current.model_copy(update={"version": current.version + 1}))

    # Then a write computed from the old version is refused
    with pytest.raises(ScheduleConflict):
        schedules.put(current.model_copy(update={"version": current.version + 1}))


def test_a_refusing_charger_counts_at_full_power_and_the_limit_still_holds(
    aws, handlers, context, scheduler, clock
):
    # Given two more vehicles, one at a charger that rejects profiles
    plug_in(handlers, context, B)
    plug_in(handlers, context, C)
    scheduler.reschedule(SITE, "arrivals")
    answer(handlers, context, B, last_profile(B)[1], "Rejected")
    answer(handlers, context, C, last_profile(C)[1], "Accepted")

    # When the site is planned again
    clock.now += timedelta(seconds=5)
    schedule = scheduler.reschedule(SITE, "answers")

    # Then B is shown rejected with a retry planned, counted at its full 11 kW, and what the
    # others may draw fits in what is left of the 25 kW
    assert schedule is not None
    by_charger = {c.charge_point_id: c for c in schedule.connectors}
    refused = by_charger[B]
    assert refused.profile.status == "rejected"
    assert refused.profile.reason == "charger answered Rejected"
    assert refused.uncontrolled and refused.profile.next_retry_at is not None
    assert schedule.uncontrolled_kw == Decimal(11)
    controlled = [by_charger[A], by_charger[C]]
    starts = {s.starts_at for c in controlled for s in c.steps}
    for at in starts:
        load = sum(
            ([s.limit_kw for s in c.steps if s.starts_at <= at] or [Decimal(0)])[-1] for c in controlled
        )
        assert load + schedule.uncontrolled_kw <= LIMIT
    # And its power is reserved once, not twice: its plan is its full power (what a retry sends),
    # the peak counts it once, and the others may share all of the 14 kW left now
    assert [s.limit_kw for s in refused.steps] == [Decimal(11)]
    now_load = sum(c.steps[0].limit_kw for c in controlled if c.steps[0].starts_at <= clock.now)
    assert now_load == LIMIT - Decimal(11)
    assert schedule.peak_kw <= LIMIT

    # When the retry is due, the profile is sent again
    clock.now = refused.profile.next_retry_at + timedelta(seconds=1)
    before = len(published(f"{B}/out"))
    assert [s.site_id for s in scheduler.sweep()] == [SITE]
    assert len(published(f"{B}/out")) == before + 1


RESERVE_SITE = "sthlm-reserve"
RESERVE_CP, RESERVE_VAN, RESERVE_TAG = "LV-RESV-I1", "nor-resv-van", "RFIDRESV1"


def test_a_site_with_a_history_of_later_arrivals_holds_capacity_back_then_and_none_now(
    aws, handlers, context, scheduler, clock
):
    # Given a depot of the same fleet with a 25 kW grid connection and one 11 kW charger
    example = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    depot = next(s for s in example.sites if s.id == "sthlm-depot")
    registry = RegistryTable(aws.registry_table)
    registry.import_document(
        RegistryDocument(
            operator=example.operator,
            fleets=[f for f in example.fleets if f.id == "nordvind"],
            sites=[Site.model_validate({**depot.model_dump(), "id": RESERVE_SITE, "grid_limit_kw": LIMIT})],
            chargers=[Charger(id=RESERVE_CP, site_id=RESERVE_SITE, max_power_kw=Decimal(11))],
            vehicles=[Vehicle(id=RESERVE_VAN, fleet_id="nordvind", battery_kwh=Decimal(540))],
            tokens=[Token(id_tag=RESERVE_TAG, fleet_id="nordvind", vehicle_id=RESERVE_VAN)],
        )
    )
    # And, on each of the last 14 days, a van arriving at the same local time a few hours from now
    # and taking 20 kWh over 2 h (10 kW; both kinds of day, so whatever tomorrow is)
    zone = ZoneInfo(depot.time_zone)
    arrival = (clock.now + timedelta(hours=3)).astimezone(zone)
    if not 1 <= arrival.hour <= 21:  # kept clear of midnight, where a day's table ends
        arrival = (arrival + timedelta(days=1)).replace(hour=6)
    past = [arrival - timedelta(days=d) for d in range(1, 15)]
    registry.put_site_stays(
        SiteStays(
            site_id=RESERVE_SITE,
            fleet_id="nordvind",
            stays=[Stay(f"resv-old-{d:%j}", int(d.timestamp()), 2 * 3600, Decimal(20)) for d in past],
            version=1,
        )
    )
    # And a van plugged in now that needs more than the charger can give before it leaves
    held_from = arrival.replace(minute=0, second=0) + timedelta(hours=1)  # the first whole hour held
    departure = held_from.astimezone(UTC) + timedelta(hours=4)
    registry.put_charging_needs(
        ChargingNeeds(
            vehicle_id=RESERVE_VAN, fleet_id="nordvind", departure_at=departure,
            target_energy_kwh=Decimal(900), updated_at=clock.now,
        )
    )  # fmt: skip
    at = clock.now.isoformat(timespec="seconds").replace("+00:00", "Z")
    start = {"connectorId": 1, "idTag": RESERVE_TAG, "meterStart": 0, "timestamp": at}
    frames(handlers, context, RESERVE_CP, call("s", "StartTransaction", start))

    # When the scheduler plans the site
    schedule = scheduler.reschedule(RESERVE_SITE, "arrival")

    # Then nothing is held now, and twice the usual van's 10 kW from the first whole hour after it
    # usually arrives
    assert schedule is not None
    assert schedule.reserved[0].starts_at == clock.now and schedule.reserved[0].limit_kw == 0

    def held(when: datetime) -> Decimal:
        return [s.limit_kw for s in schedule.reserved if s.starts_at <= when][-1]

    assert held(held_from + timedelta(minutes=20)) == Decimal(20)
    # And the van charges at its full 11 kW now, and in the held hour only within what is left
    (van,) = schedule.connectors

    def planned(when: datetime) -> Decimal:
        return [s.limit_kw for s in van.steps if s.starts_at <= when][-1]

    assert planned(clock.now) == Decimal(11)
    assert planned(held_from + timedelta(minutes=20)) == LIMIT - Decimal(20)
    # And the fleet API shows what was held back
    view = site_view(schedule)
    assert [(s.starts_at, s.reserved_kw) for s in view.reserved] == [
        (s.starts_at, s.limit_kw) for s in schedule.reserved
    ]

    # When the charger has accepted its profile and the held hour begins, the minute sweep plans
    # the site again, leaving that hour free
    answer(handlers, context, RESERVE_CP, last_profile(RESERVE_CP)[1], "Accepted")
    clock.now += timedelta(seconds=5)
    assert scheduler.reschedule(RESERVE_SITE, "answer") is not None
    assert RESERVE_SITE not in {s.site_id for s in scheduler.sweep()}
    clock.now = held_from.astimezone(UTC) + timedelta(seconds=30)
    replanned = {s.site_id: s for s in scheduler.sweep()}
    assert replanned[RESERVE_SITE].trigger == "an hour with capacity held for later arrivals began"
    again = replanned[RESERVE_SITE]
    assert again.reserved[0].limit_kw == 0
    (van,) = again.connectors
    assert van.steps[0].starts_at == clock.now and van.steps[0].limit_kw == Decimal(11)
