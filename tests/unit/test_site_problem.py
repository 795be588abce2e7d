"""Building a site's planning problem from what is stored: which sessions are planned, what each
still needs and by when, how fast it may charge, and which load the plan must leave room for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.adapters.site_schedules import EvChargingNeeds
from shared.domain import smart_charging as smart
from shared.models.ocpi import Tariff
from shared.models.profiles import LiveContext, SiteStays, Stay
from shared.models.registry import Charger, ChargingNeeds, FlatTariff, Site, Vehicle
from shared.models.scheduling import PendingCommand, StoredSchedule
from shared.models.sessions import Session
from shared.scheduling import SchedulingService

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
SITE = Site(
    id="depot", fleet_id="nordvind", name="Depot", grid_limit_kw=Decimal(30),
    tariff=FlatTariff(energy_price_per_kwh=Decimal("2.80"), vat_rate_percent=Decimal(25)),
)  # fmt: skip
CHARGERS = [Charger(id=f"CP{n}", site_id="depot", max_power_kw=Decimal(22)) for n in (1, 2, 3)]
VAN = Vehicle(id="van", fleet_id="nordvind", battery_kwh=Decimal(75), max_ac_kw=Decimal(11))
# An OCPI tariff with a cheap night: 3.00 SEK/kWh by day, 1.00 from 22:00 to 06:00 local time.
NIGHT_TARIFF = Tariff.model_validate(
    {
        "country_code": "SE", "party_id": "LDV", "id": "night", "currency": "SEK",
        "last_updated": "2026-01-01T00:00:00Z",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 1.00, "vat": 25, "step_size": 1}],
             "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
            {"price_components": [{"type": "ENERGY", "price": 3.00, "vat": 25, "step_size": 1}]},
        ],
    }
)  # fmt: skip
TRUCK = Vehicle(id="truck", fleet_id="nordvind", usual_departure="07:30")


def session(cp: str, vehicle: str | None, **extra: Any) -> Session:
    return Session(
        session_id=f"{cp}:1", transaction_id="1", charge_point_id=cp, connector_id=1, id_tag="T",
        fleet_id="nordvind", site_id="depot", vehicle_id=vehicle, started_at=NOW - timedelta(hours=1),
        meter_start_wh=Decimal(0), **extra,
    )  # fmt: skip


@dataclass
class Connector:
    charge_point_id: str
    connector_id: int
    status: str


@dataclass
class Inventory:
    chargers: list[Charger]
    vehicles: list[Vehicle]
    connectors: list[Connector]


@dataclass
class Registry:
    connectors: list[Connector] = field(default_factory=list)
    needs: dict[str, ChargingNeeds] = field(default_factory=dict)
    the_site: Site = SITE
    context: LiveContext = field(default_factory=LiveContext)

    def site(self, site_id: str) -> Site:
        return self.the_site

    def fleet_inventory(self, fleet_id: str) -> Inventory:
        return Inventory(CHARGERS, [VAN, TRUCK], self.connectors)

    def charging_needs(self, vehicle_id: str) -> ChargingNeeds | None:
        return self.needs.get(vehicle_id)

    def live_context(
        self, vehicle_ids: Any, evses: Any, site_ids: Any = (), *, stay_energy: bool = False
    ) -> LiveContext:
        return self.context

    def tariff_versions(self, tariff_id: str) -> list[Tariff]:
        return [NIGHT_TARIFF] if tariff_id == NIGHT_TARIFF.id else []


@dataclass
class Sessions:
    active: list[Session]

    def active_for_fleet(self, fleet_id: str) -> list[Session]:
        return self.active


@dataclass
class Schedules:
    stored: StoredSchedule | None = None
    commands: list[PendingCommand] = field(default_factory=list)

    def get(self, site_id: str) -> StoredSchedule | None:
        return self.stored

    def put(self, schedule: StoredSchedule) -> None:
        self.stored = schedule

    def command(self, charge_point_id: str, message_id: str) -> PendingCommand | None:
        return None

    def ev_charging_needs(self, charge_point_id: str, evse_id: int, since: datetime) -> EvChargingNeeds:
        return EvChargingNeeds()

    def record_command(self, command: PendingCommand) -> None:
        self.commands.append(command)


@dataclass
class Link:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, charge_point_id: str, frame: str) -> None:
        self.sent.append((charge_point_id, frame))


def service_of(
    registry: Registry, active: list[Session], link: Link | None = None, *, clock: bool = True
) -> SchedulingService:
    """The service over the fakes above, which stand in for the adapters by their methods alone
    (they are not subclasses, hence the one ignore); `clock` False leaves it the real clock."""
    return SchedulingService(  # type: ignore[arg-type]
        registry, Sessions(active), Schedules(), link or Link(), **({"clock": lambda: NOW} if clock else {})
    )


def plan(registry: Registry, active: list[Session]) -> tuple[StoredSchedule, Link]:
    link = Link()
    service = service_of(registry, active, link)
    schedule = service.reschedule("depot", "test")
    assert schedule is not None
    return schedule, link


def test_each_vehicles_need_departure_and_power_come_from_the_best_source_and_say_so():
    # Given a van with charging needs and a known SoC, and a truck with only a usual departure
    needs = ChargingNeeds(vehicle_id="van", fleet_id="nordvind", departure_at=NOW + timedelta(hours=4),
                          target_soc_percent=Decimal(90), updated_at=NOW)  # fmt: skip
    registry = Registry(needs={"van": needs})
    van = session("CP1", "van", latest_soc_percent=Decimal(50))
    truck = session("CP2", "truck")

    # When the site is planned
    schedule, link = plan(registry, [van, truck])

    # Then the van needs (90 - 50) % of 75 kWh by its declared departure, at most its 11 kW on AC
    by_charger = {c.charge_point_id: c for c in schedule.connectors}
    assert by_charger["CP1"].inputs.energy_needed_kwh == Decimal("30.000")
    assert by_charger["CP1"].inputs.departure_at == needs.departure_at
    assert by_charger["CP1"].inputs.max_power_kw == Decimal(11)
    # And the truck: the default need (no SoC), its usual 07:30 Stockholm departure, the connector's 22 kW
    truck_input = by_charger["CP2"].inputs
    assert truck_input.energy_needed_kwh == smart.DEFAULT_ENERGY_NEED_KWH
    assert "SoC unknown" in truck_input.energy_basis
    assert truck_input.departure_at == datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    assert truck_input.max_power_kw == Decimal(22)
    # And the plan is priced with the site's flat tariff, and both chargers are sent a profile
    assert schedule.cost is not None and schedule.currency == "SEK"
    assert sorted(cp for cp, _ in link.sent) == ["CP1", "CP2"]


def test_a_site_priced_by_a_time_of_use_tariff_is_charged_in_its_cheap_hours():
    # Given a depot whose fleet pays 1.00 SEK/kWh at night and 3.00 by day, and a van needing
    # 11 kWh (one hour at its 11 kW) by tomorrow afternoon
    site = SITE.model_copy(update={"tariff": None, "tariff_id": "night"})
    needs = ChargingNeeds(vehicle_id="van", fleet_id="nordvind", departure_at=NOW + timedelta(hours=20),
                          target_energy_kwh=Decimal(11), updated_at=NOW)  # fmt: skip
    registry = Registry(needs={"van": needs}, the_site=site)

    # When the site is planned
    schedule, _ = plan(registry, [session("CP1", "van")])

    # Then the van charges only between 22:00 and 06:00 Stockholm time, at the night price
    (van,) = schedule.connectors
    zone = ZoneInfo("Europe/Stockholm")
    charging = [s.starts_at.astimezone(zone) for s in van.steps if s.limit_kw > 0]
    assert charging and all(at.hour >= 22 or at.hour < 6 for at in charging)
    assert (schedule.cost, schedule.currency) == (Decimal("11.00"), "SEK")


def test_a_connector_drawing_for_a_session_laddvakt_cannot_plan_is_counted_at_full_power():
    # Given CP3 charging another fleet's car (no session of this fleet there)
    registry = Registry(connectors=[Connector("CP3", 1, "Charging"), Connector("CP2", 1, "Available")])

    schedule, _ = plan(registry, [session("CP1", "van")])

    # Then its 22 kW is kept free: the van may have at most 30 - 22 kW
    assert schedule.uncontrolled_kw == Decimal(22)
    assert max(s.limit_kw for s in schedule.connectors[0].steps) <= Decimal(8)


BY_MIDNIGHT = ChargingNeeds(vehicle_id="van", fleet_id="nordvind", departure_at=NOW + timedelta(hours=6),
                            target_energy_kwh=Decimal(100), updated_at=NOW)  # fmt: skip


def evening_stays(fleet_id: str, kwh: Decimal = Decimal(100)) -> LiveContext:
    """Twenty days on which a truck arrived at 20:00 Stockholm time and took 100 kWh in 2 h, or
    `kwh`."""
    arrivals = [
        datetime(2026, 11, 23, 20, tzinfo=ZoneInfo("Europe/Stockholm")) - timedelta(days=d)
        for d in range(1, 21)
    ]
    stays = [Stay(f"old-{n}", int(a.timestamp()), 2 * 3600, kwh) for n, a in enumerate(arrivals)]
    return LiveContext(
        site_stays={"depot": SiteStays(site_id="depot", fleet_id=fleet_id, stays=stays, version=1)}
    )


def test_the_sites_usual_later_arrivals_are_held_back_from_the_next_hour_on():
    # Given a depot where a van arrived around 20:00 every evening and took 22 kWh in 2 h (11 kW)
    # And a van needing 100 kWh by midnight
    registry = Registry(needs={"van": BY_MIDNIGHT}, context=evening_stays("nordvind", Decimal(22)))

    # When it is planned at 18:00 Stockholm time
    schedule, _ = plan(registry, [session("CP1", "van")])

    # Then nothing is held now, and from 20:00 twice the usual 11 kW (a mean leaves busy days short)
    assert schedule.reserved[0].starts_at == NOW and schedule.reserved[0].limit_kw == 0
    evening = NOW + timedelta(hours=2, minutes=30)
    assert [s.limit_kw for s in schedule.reserved if s.starts_at <= evening][-1] == Decimal(22)
    # And the van charges at its full 11 kW now, and then within the 8 kW left of the 30 kW
    (van,) = schedule.connectors
    assert van.steps[0].starts_at == NOW and van.steps[0].limit_kw == Decimal(11)
    assert [s.limit_kw for s in van.steps if s.starts_at <= evening][-1] == Decimal(8)


def test_a_stay_counts_at_most_the_sites_largest_outlet():
    # Given a truck that arrived around 20:00 every evening at 50 kW on average, at a site whose
    # largest outlet is 22 kW
    registry = Registry(needs={"van": BY_MIDNIGHT}, context=evening_stays("nordvind"))
    # When it is planned at 18:00
    schedule, _ = plan(registry, [session("CP1", "van")])
    # Then each evening counts at most 22 kW, held twice over: all of the 30 kW limit from 20:00
    evening = NOW + timedelta(hours=2, minutes=30)
    assert [s.limit_kw for s in schedule.reserved if s.starts_at <= evening][-1] == Decimal(44)
    (van,) = schedule.connectors
    assert [s.limit_kw for s in van.steps if s.starts_at <= evening][-1] == Decimal(0)


def test_another_fleets_stays_hold_nothing_back():
    registry = Registry(needs={"van": BY_MIDNIGHT}, context=evening_stays("other-fleet"))
    schedule, _ = plan(registry, [session("CP1", "van")])
    assert schedule.reserved == ()
    assert {s.limit_kw for s in schedule.connectors[0].steps} == {Decimal(11)}


def test_a_site_without_a_grid_limit_is_not_planned():
    registry = Registry(the_site=SITE.model_copy(update={"grid_limit_kw": None}))
    service = service_of(registry, [session("CP1", "van")], clock=False)
    assert service.reschedule("depot", "test") is None


def test_meter_drift_is_judged_up_to_the_latest_register_reading():
    # Given an accepted plan allowing the van up to 11 kW from NOW
    schedule, _ = plan(Registry(), [session("CP1", "van")])
    (connector,) = schedule.connectors
    accepted = connector.model_copy(
        update={"profile": connector.profile.model_copy(update={"status": "accepted"})}
    )
    schedule = schedule.model_copy(update={"connectors": (accepted,)})
    later = NOW + timedelta(minutes=30)

    # When no reading came since the plan, nothing has drifted, however late it is
    quiet = session("CP1", "van")
    assert SchedulingService._due(schedule, {quiet.session_id: quiet}, later) is None

    # When a reading 30 minutes on shows 1 kWh where the plan allowed 5.5, the site is planned again
    read = session("CP1", "van", latest_register_wh=Decimal(1000), latest_register_at=later)
    assert "meter drift at CP1" in (SchedulingService._due(schedule, {read.session_id: read}, later) or "")


def test_the_changes_that_replan_a_site_and_those_that_do_not():
    from shared.adapters.sessions_table import session_to_item
    from shared.models.sessions import SessionStatus

    van = session("CP1", "van")
    service = service_of(Registry(), [van])
    head = session_to_item(van)
    closing = session_to_item(van.model_copy(update={"status": SessionStatus.CLOSING}))
    needs = {"kind": "vehicle_charging_needs", "fleet_id": "nordvind", "vehicle_id": "van"}
    answered = {
        "kind": "charging_profile_command", "charge_point_id": "CP1", "message_id": "m", "site_id": "depot",
        "session_id": van.session_id, "connector_id": 1, "sent_at": NOW.isoformat(), "status": "rejected",
    }  # fmt: skip

    def sites(old: Any, new: Any) -> list[tuple[str, str]]:
        return [(r.site_id, r.trigger) for r in service.triggered_by(old, new)]

    assert sites(None, head) == [("depot", "arrival of CP1:1")]
    assert sites(head, closing) == [("depot", "departure of CP1:1")]
    assert sites(head, {**head, "latest_power_w": Decimal(7000)}) == []  # a meter frame
    assert sites(None, needs) == [("depot", "charging needs of van")]
    assert sites(needs, None) == [("depot", "charging needs of van")]  # needs removed
    assert sites({**answered, "status": "pending"}, answered) == [("depot", "CP1 answered rejected")]


def test_a_2_0_1_arrival_without_a_register_reading_still_replans_its_site():
    # A transaction may start before any meter value: the stored head then has no meter_start_wh
    from shared.adapters.sessions_table import session_to_item

    van = session("CP1", "van").model_copy(update={"meter_start_wh": None, "ocpp_version": "2.0.1"})
    service = service_of(Registry(), [van])
    assert [r.site_id for r in service.triggered_by(None, session_to_item(van))] == ["depot"]
