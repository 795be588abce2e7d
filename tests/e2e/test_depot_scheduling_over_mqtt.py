"""Depot scheduling through the whole local stack: vehicles plug in at a site with a grid limit,
the schedule-site function (run by the local stream pollers from the synthesized template) sends
each charger a SetChargingProfile over MQTT, the chargers (the `ocpp` package's own 1.6 side, which
validates every Call against the official schema) answer, and the fleet app reads the plan.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action, ChargingProfileStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201 import datatypes as types201

from laddvakt.charge_point_link import ChargePointLink, listening
from laddvakt.cli import main
from tests.e2e.test_ocpp_package_charge_points import in_event_loop, iso
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

SITE = "sthlm-limited"
LIMIT_KW = Decimal(25)
CONNECTOR_KW = Decimal(11)
ACCEPTING = ("LV-SCHED-A", "LV-SCHED-C")
REJECTING = "LV-SCHED-B"
STATION_201 = "LV-SCHED-201"
DEADLINE_SECONDS = 30


class SmartCharger(ChargePoint16):
    """A 1.6 charger that answers SetChargingProfile and remembers what it was sent."""

    answer = ChargingProfileStatus.accepted
    profiles: list[dict[str, Any]]

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        self.profiles.append(cs_charging_profiles)
        return result16.SetChargingProfile(status=self.answer)


class SmartStation(ChargePoint201):
    """A 2.0.1 station that accepts SetChargingProfile and remembers what it was sent."""

    requests: list[dict[str, Any]]

    @on("SetChargingProfile")
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any]) -> Any:
        self.requests.append({"evse_id": evse_id, **charging_profile})
        return result201.SetChargingProfile(status="Accepted")


def fleet_schedule(stack: Any) -> dict[str, Any]:
    token = stack.issue_token("nordvind", ["fleet_manager"])
    request = urllib.request.Request(
        f"{stack.api_url}/fleet/schedule?site_id={SITE}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, Any] = json.load(response)
    return body


def wait_for(stack: Any, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        body = fleet_schedule(stack)
        sites = body["sites"]
        if sites and ready(sites[0]):
            return dict(sites[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"the schedule never got there: {json.dumps(body, indent=1)}")
        time.sleep(0.3)


def statuses(site: dict[str, Any]) -> dict[str, str]:
    return {c["charge_point_id"]: c["profile"]["status"] for c in site["connectors"]}


@pytest.fixture(scope="module")
def stack(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # Given Nordvind's second depot has a 25 kW grid connection and three 11 kW chargers
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    depot = next(s for s in data["sites"] if s["id"] == "sthlm-depot")
    data["sites"].append(
        {**depot, "id": SITE, "name": "Depot with a grid limit", "grid_limit_kw": str(LIMIT_KW)}
    )
    data["chargers"] = [
        {"id": cp, "site_id": SITE, "connectors": 1, "max_power_kw": str(CONNECTOR_KW)}
        for cp in (*ACCEPTING, REJECTING)
    ] + [{"id": STATION_201, "site_id": SITE, "max_power_kw": "50", "ocpp_version": "2.0.1"}]
    registry = Path(tmp_path_factory.mktemp("registry")) / "with-grid-limit.json"
    registry.write_text(json.dumps(data))
    assert main(["registry", "import", str(registry), "--state-dir", str(local_stack.state_dir)]) == 0
    return local_stack


async def plug_in(charger: SmartCharger, id_tag: str) -> None:
    now = datetime.now(UTC)
    await charger.call(
        call16.BootNotification(charge_point_vendor="Laddvakt Test", charge_point_model="AC11")
    )
    await charger.call(
        call16.StatusNotification(
            connector_id=1, error_code="NoError", status="Preparing", timestamp=iso(now)
        )
    )
    reply = await charger.call(
        call16.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=iso(now))
    )
    assert reply.id_tag_info["status"] == "Accepted"
    await charger.call(
        call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=iso(now))
    )


@in_event_loop
async def test_plugged_in_vehicles_get_profiles_and_a_refusing_charger_still_keeps_the_site_limit(
    stack: Any,
) -> None:
    chargers: dict[str, SmartCharger] = {}
    async with (
        ChargePointLink(ACCEPTING[0], stack.mqtt_host, stack.mqtt_port) as link_a,
        ChargePointLink(REJECTING, stack.mqtt_host, stack.mqtt_port) as link_b,
        ChargePointLink(ACCEPTING[1], stack.mqtt_host, stack.mqtt_port) as link_c,
    ):
        for cp, link in ((ACCEPTING[0], link_a), (REJECTING, link_b), (ACCEPTING[1], link_c)):
            chargers[cp] = SmartCharger(cp, link, response_timeout=15)
            chargers[cp].profiles = []
        chargers[REJECTING].answer = ChargingProfileStatus.rejected
        async with (
            listening(chargers[ACCEPTING[0]]),
            listening(chargers[REJECTING]),
            listening(chargers[ACCEPTING[1]]),
        ):
            # When a vehicle plugs in at the limited site
            await plug_in(chargers[ACCEPTING[0]], "RFID0001")

            # Then its charger receives a TxProfile for the transaction and accepts it, and the
            # fleet app sees the plan accepted
            site = await _schedule(stack, lambda s: statuses(s).get(ACCEPTING[0]) == "accepted")
            profile = chargers[ACCEPTING[0]].profiles[-1]
            assert profile["charging_profile_purpose"] == "TxProfile"
            assert profile["charging_schedule"]["charging_rate_unit"] == "A"
            assert Decimal(site["limit_kw"]) == LIMIT_KW

            # When two more plug in, one at a charger that refuses profiles
            await plug_in(chargers[REJECTING], "RFID0002")
            await plug_in(chargers[ACCEPTING[1]], "RFID0003")
            site = await _schedule(
                stack,
                lambda s: (
                    statuses(s) == {ACCEPTING[0]: "accepted", REJECTING: "rejected", ACCEPTING[1]: "accepted"}
                ),
            )

    # Then the refusal is shown with its reason, that connector counts at its full power, and
    # the limits the others were sent stay within what the site has left
    refused = next(c for c in site["connectors"] if c["charge_point_id"] == REJECTING)
    assert refused["uncontrolled"] is True
    assert "Rejected" in refused["profile"]["reason"]
    assert Decimal(site["uncontrolled_kw"]) == CONNECTOR_KW
    controlled = [c for c in site["connectors"] if c["charge_point_id"] in ACCEPTING]
    starts = sorted({step["starts_at"] for c in controlled for step in c["steps"]})
    for at in starts:
        load = sum(_limit_at(c["steps"], at) for c in controlled)
        assert load + CONNECTOR_KW <= LIMIT_KW, (
            f"{load} kW planned at {at} beside {CONNECTOR_KW} kW uncontrolled"
        )
    assert Decimal(site["peak_kw"]) <= LIMIT_KW


async def _schedule(stack: Any, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    import asyncio

    return await asyncio.to_thread(wait_for, stack, ready)


def _limit_at(steps: list[dict[str, Any]], at: str) -> Decimal:
    current = [Decimal(s["limit_kw"]) for s in steps if s["starts_at"] <= at]
    return current[-1] if current else Decimal(0)


@in_event_loop
async def test_a_2_0_1_stations_profile_names_its_evse_and_transaction_and_rests_on_the_evs_needs(
    stack: Any,
) -> None:
    plugged_in = datetime.now(UTC) - timedelta(minutes=1)
    transaction = "sched-201-a"
    async with ChargePointLink(STATION_201, stack.mqtt_host, stack.mqtt_port) as link:
        station = SmartStation(STATION_201, link, response_timeout=15)
        station.requests = []
        async with listening(station):
            # Given a 2.0.1 DC station at the limited depot where a car plugs in and states its needs
            await station.call(
                call201.BootNotification(
                    charging_station=types201.ChargingStationType(vendor_name="Laddvakt e2e", model="DC50"),
                    reason="PowerUp",
                )
            )
            await station.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=iso(plugged_in),
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info=types201.TransactionType(
                        transaction_id=transaction, charging_state="Charging"
                    ),
                    id_token=types201.IdTokenType(id_token="RFID0004", type="ISO14443"),
                    evse=types201.EVSEType(id=1, connector_id=1),
                )
            )
            departure = plugged_in + timedelta(hours=2)
            await station.call(
                call201.NotifyEVChargingNeeds(
                    evse_id=1,
                    charging_needs=types201.ChargingNeedsType(
                        requested_energy_transfer="DC",
                        departure_time=iso(departure),
                        dc_charging_parameters=types201.DCChargingParametersType(
                            ev_max_current=125, ev_max_voltage=400, energy_amount=20_000
                        ),
                    ),
                )
            )

            # Then the plan rests on the EV's own energy and departure, and the station accepted a
            # TxProfile for its transaction on its EVSE, in watts (DC)
            site = await _schedule(
                stack,
                lambda s: any(
                    c["charge_point_id"] == STATION_201
                    and c["profile"]["status"] == "accepted"
                    and c["energy_basis"] == "charging needs' target energy"
                    for c in s["connectors"]
                ),
            )
            planned = next(c for c in site["connectors"] if c["charge_point_id"] == STATION_201)
            assert Decimal(planned["energy_needed_kwh"]) == 20
            assert planned["departure_basis"] == "charging needs' departure"
            request = station.requests[-1]
            assert request["evse_id"] == 1 and request["transaction_id"] == transaction
            assert request["charging_profile_purpose"] == "TxProfile"
            assert request["charging_schedule"][0]["charging_rate_unit"] == "W"
