"""Where a session's estimates take their target, battery, limits and declared departure from:
the fleet's charging needs first, then what a 2.0.1 EV said, then the vehicle's registry record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from shared.estimates import estimates_for
from shared.models.profiles import EvChargingNeeds, LiveContext, SiteStays
from shared.models.registry import Charger, ChargingNeeds, Site, Vehicle
from shared.models.sessions import Session

PLUGGED = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 17:00 in Stockholm
NOW = PLUGGED + timedelta(minutes=30)
SITE = Site(id="depot", fleet_id="f", name="Depot")
AC = Charger(id="cp", site_id="depot", max_power_kw=D(22))
DC = Charger(id="cp", site_id="depot", max_power_kw=D(150), ocpp_version="2.0.1")


def session(version: str = "1.6", **values) -> Session:
    base = {
        "session_id": "cp:1", "transaction_id": "1", "charge_point_id": "cp", "connector_id": 1, "id_tag": "T",
        "fleet_id": "f", "site_id": "depot", "vehicle_id": "van", "ocpp_version": version, "started_at": PLUGGED,
        "meter_start_wh": D(0), "latest_register_wh": D(5000), "latest_power_w": D(11000), "latest_power_at": NOW,
        "latest_soc_percent": D(50), "latest_soc_at": NOW,
    }  # fmt: skip
    return Session.model_validate({**base, **values})


def vehicle(**values) -> Vehicle:
    return Vehicle.model_validate({"id": "van", "fleet_id": "f", "battery_kwh": D(60), **values})


def test_the_fleets_charging_needs_set_the_target_and_the_departure():
    leaves = PLUGGED + timedelta(hours=14)
    needs = ChargingNeeds(
        vehicle_id="van", fleet_id="f", departure_at=leaves, target_soc_percent=D(90), updated_at=PLUGGED
    )
    found = estimates_for(
        session(),
        now=NOW,
        vehicle=vehicle(),
        charger=AC,
        site=SITE,
        context=LiveContext(needs={"van": needs}),
    )
    assert "to 90% (charging needs)" in found.charge_complete.basis
    # The declared departure is the estimate's input, shown beside it; the model weighs it.
    assert found.declared_departure_at == leaves
    assert found.departure is not None and "the declared departure" in found.departure.basis
    assert found.departure.confidence == "medium"


def test_charging_needs_for_an_earlier_departure_are_not_this_sessions():
    stale = ChargingNeeds(
        vehicle_id="van", fleet_id="f", departure_at=PLUGGED - timedelta(hours=2), target_soc_percent=D(90),
        updated_at=PLUGGED - timedelta(days=1),
    )  # fmt: skip
    found = estimates_for(
        session(),
        now=NOW,
        vehicle=vehicle(),
        charger=AC,
        site=SITE,
        context=LiveContext(needs={"van": stale}),
    )
    assert "to 80% (the vehicle's default)" in found.charge_complete.basis
    assert found.declared_departure_at is None
    assert found.departure is not None and "no declared departure" in found.departure.basis


def test_the_usual_departure_is_the_next_one_after_plug_in_in_the_sites_zone():
    found = estimates_for(
        session(),
        now=NOW,
        vehicle=vehicle(usual_departure="07:30"),
        charger=AC,
        site=SITE,
        context=LiveContext(),
    )
    # Plugged in at 17:00 Stockholm: it leaves at 07:30 the next morning (06:30 UTC)
    assert found.declared_departure_at == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    assert found.departure is not None and "the declared departure" in found.departure.basis


def test_a_dc_evs_own_charging_needs_fill_in_what_the_registry_lacks():
    # Given a car with no battery size in the registry at a 150 kW DC charger, whose EV said:
    # 80 kWh battery, charge to 90 %, fast phase to 75 %, 100 kW at most, leaving at 19:00
    ev = EvChargingNeeds(
        needs={
            "requestedEnergyTransfer": "DC",
            "departureTime": "2026-11-23T18:00:00Z",
            "dcChargingParameters": {
                "evMaxCurrent": 250, "evMaxVoltage": 800, "evEnergyCapacity": 80000, "fullSoC": 90,
                "bulkSoC": 75, "evMaxPower": 100000,
            },
        },
        at=PLUGGED,
    )  # fmt: skip
    found = estimates_for(
        session("2.0.1", latest_power_w=D(90000)),
        now=NOW,
        vehicle=Vehicle(id="van", fleet_id="f"),
        charger=DC,
        site=SITE,
        context=LiveContext(ev_needs={("cp", 1): ev}),
    )
    basis = found.charge_complete.basis
    assert "SoC 50% of 80 kWh to 90% (the car's charging needs)" in basis
    assert "typical DC taper (knee 75%)" in basis
    assert found.declared_departure_at == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert found.departure is not None and "the declared departure" in found.departure.basis


def test_an_evs_needs_from_an_earlier_session_are_ignored():
    old = EvChargingNeeds(needs={"dcChargingParameters": {"fullSoC": 100}}, at=PLUGGED - timedelta(days=2))
    found = estimates_for(
        session("2.0.1"), now=NOW, vehicle=vehicle(), charger=DC, site=SITE,
        context=LiveContext(ev_needs={("cp", 1): old}),
    )  # fmt: skip
    assert "(the vehicle's default)" in found.charge_complete.basis


def test_a_session_without_a_vehicle_still_gets_an_estimate_saying_what_is_missing():
    found = estimates_for(
        session(vehicle_id=None), now=NOW, vehicle=None, charger=AC, site=SITE, context=LiveContext()
    )
    assert found.charge_complete.at is None
    assert (
        "a target (a vehicle with a default target SoC, or charging needs)" in found.charge_complete.missing
    )


def test_the_sites_recent_stays_of_the_same_fleet_inform_the_departure():
    # Given 40 earlier sessions at the depot, plugged in around 17:00 and staying 2 h
    stays = SiteStays(
        site_id="depot",
        fleet_id="f",
        stays=[(f"old{i}", int((PLUGGED - timedelta(days=i + 1)).timestamp()), 7200) for i in range(40)],
        version=1,
    )
    context = LiveContext(site_stays={"depot": stays})
    # When a vehicle of that fleet plugs in at 17:00
    found = estimates_for(session(), now=NOW, vehicle=vehicle(), charger=AC, site=SITE, context=context)
    # Then the estimate rests on those stays and leans toward them
    assert found.departure is not None
    assert "past sessions at this site around this hour" in found.departure.basis
    alone = estimates_for(session(), now=NOW, vehicle=vehicle(), charger=AC, site=SITE, context=LiveContext())
    assert alone.departure is not None
    two_hours = PLUGGED + timedelta(hours=2)
    assert abs(found.departure.p50_at - two_hours) < abs(alone.departure.p50_at - two_hours)
    # And another fleet's session at the same site does not read them
    other = estimates_for(
        session(fleet_id="other"), now=NOW, vehicle=vehicle(), charger=AC, site=SITE, context=context
    )
    assert other.departure is not None and "no past sessions at this site" in other.departure.basis
