"""What a vehicle's closed sessions teach: the billing workflow's last step adds each session to
the vehicle's profile once (a retried step adds nothing), and the fleet's status then estimates
its sessions from it: the taper fit from its own sessions, its departure from its past visits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.adapters.registry_table import RegistryTable
from shared.models.registry import Charger, FlatTariff, Fleet, RegistryDocument, Site, Token, Vehicle
from tests.frames import api_event, call, published, sqs_event
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration

# Its power holds 11 kW to 85 % SoC, then falls with what is left to fill.
KNEE = 85
READINGS = [(0, 40), (30, 55), (60, 70), (90, 85), (120, 92), (150, 96)]


def _power_kw(soc: int) -> Decimal:
    fraction = min(Decimal(1), Decimal(100 - soc) / (100 - KNEE))
    return (11 * fraction).quantize(Decimal("0.01"))


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _start(handlers, context, cp: str, tag: str, at: datetime) -> int:
    begin = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": _iso(at)}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", begin), charge_point_id=cp), context
    )
    return int(published(f"{cp}/out")[-1][2]["transactionId"])


def _meter(handlers, context, cp: str, transaction_id: int, at: datetime, wh: int, soc: int) -> None:
    meter = {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": _iso(at),
                "sampledValue": [
                    {"value": str(wh), "unit": "Wh"},
                    {"value": str(_power_kw(soc)), "unit": "kW", "measurand": "Power.Active.Import"},
                    {"value": str(soc), "unit": "Percent", "measurand": "SoC"},
                ],
            }
        ],
    }
    handlers["ingest"].lambda_handler(sqs_event(call("m", "MeterValues", meter), charge_point_id=cp), context)


def close_and_learn(handlers, context, session_id: str) -> tuple[dict, dict]:
    """The workflow's steps as the state machine runs them, RecordVehicleProfile last."""
    closed = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    priced = handlers["price_session"].lambda_handler(closed, context)
    ref = handlers["write_invoice"].lambda_handler(priced, context)
    invoiced = handlers["mark_invoiced"].lambda_handler(ref, context)
    rollups = handlers["record_rollups"].lambda_handler(
        {**priced, "invoice": ref, "invoiced": invoiced}, context
    )
    return rollups, handlers["record_vehicle_profile"].lambda_handler(rollups, context)


@pytest.fixture(scope="module")
def depot(aws, handlers, context) -> dict:
    """Given a van that charged five mornings at its depot, 40 % to 96 % SoC, each session closed
    and invoiced by the workflow, and now plugged in again."""
    fleet = f"profile-{uuid.uuid4().hex[:6]}"
    cp, van, tag = f"{fleet}-cp1", f"van-{fleet}", f"{fleet}-T1"
    example = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    RegistryTable(aws.registry_table).import_document(
        RegistryDocument(
            operator=example.operator,
            fleets=[Fleet(id=fleet, name="Profile Test AB", organisation_number="556000-1116")],
            sites=[
                Site(
                    id=f"{fleet}-depot",
                    fleet_id=fleet,
                    name="Depot",
                    tariff=FlatTariff(energy_price_per_kwh=Decimal("2.80"), vat_rate_percent=Decimal(25)),
                )
            ],
            chargers=[Charger(id=cp, site_id=f"{fleet}-depot", max_power_kw=Decimal(22))],
            vehicles=[Vehicle(id=van, fleet_id=fleet, name="Van", battery_kwh=Decimal(60))],
            tokens=[Token(id_tag=tag, fleet_id=fleet, vehicle_id=van)],
        )
    )
    first_day = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)
    results = []
    for day in range(5):
        plugged = first_day + timedelta(days=day)
        transaction = _start(handlers, context, cp, tag, plugged)
        for minutes, soc in READINGS:
            _meter(
                handlers,
                context,
                cp,
                transaction,
                plugged + timedelta(minutes=minutes),
                600 * (soc - 40),
                soc,
            )
        stop = {
            "transactionId": transaction,
            "meterStop": 600 * 56,
            "timestamp": _iso(plugged + timedelta(hours=6)),
        }
        handlers["ingest"].lambda_handler(
            sqs_event(call("e", "StopTransaction", stop), charge_point_id=cp), context
        )
        results.append(close_and_learn(handlers, context, f"{cp}:{transaction}"))
    now_plugged = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    transaction = _start(handlers, context, cp, tag, now_plugged)
    _meter(handlers, context, cp, transaction, now_plugged + timedelta(minutes=15), 3000, 60)
    return {"fleet": fleet, "van": van, "results": results, "active": f"{cp}:{transaction}"}


def test_each_closed_session_is_added_to_its_vehicles_profile(aws, depot):
    profile = RegistryTable(aws.registry_table).vehicle_profile(depot["van"])
    assert profile is not None and profile.fleet_id == depot["fleet"]
    assert [r[1]["changed"] for r in depot["results"]] == [True] * 5
    assert [v.session_id for v in profile.visits] == [r[0]["session_id"] for r in depot["results"]]
    assert all(v.unplugged_at - v.plugged_in_at == timedelta(hours=6) for v in profile.visits)
    # And its own taper is fit once three sessions showed it, near the knee its power shows
    assert [r[1]["taper_sessions"] for r in depot["results"]] == [0, 0, 3, 4, 5]
    assert profile.taper_fit_sessions == {"ac": 5}
    assert abs(profile.taper_knees["ac"] - KNEE) <= 2


def test_each_closed_session_joins_its_sites_recent_stays_once(aws, handlers, context, depot):
    registry = RegistryTable(aws.registry_table)
    stays = registry.site_stays(f"{depot['fleet']}-depot")
    assert stays is not None and stays.fleet_id == depot["fleet"]
    assert [s[0] for s in stays.stays] == [r[0]["session_id"] for r in depot["results"]]
    assert {s[2] for s in stays.stays} == {6 * 3600}
    # And each keeps the energy the workflow closed the session with (33.6 kWh), for the reserve
    assert {s.energy_kwh for s in stays.stays} == {Decimal("33.6")}
    assert len(stays.past_stays()) == 5
    assert [r[1]["site_stays"] for r in depot["results"]] == [1, 2, 3, 4, 5]
    # When the step is retried, the site's stays do not change either
    again = handlers["record_vehicle_profile"].lambda_handler(depot["results"][-1][0], context)
    assert again["site_stays"] == 0
    assert registry.site_stays(f"{depot['fleet']}-depot") == stays


def test_a_retried_step_adds_nothing(aws, handlers, context, depot):
    # Given the first session in the profile; When Step Functions retries its step
    rollups, _ = depot["results"][0]
    before = RegistryTable(aws.registry_table).vehicle_profile(depot["van"])
    again = handlers["record_vehicle_profile"].lambda_handler(rollups, context)
    # Then nothing changes: not the visits, not the version
    assert again["changed"] is False
    assert RegistryTable(aws.registry_table).vehicle_profile(depot["van"]) == before


def test_the_fleets_status_estimates_from_the_profile(handlers, context, depot):
    response = handlers["fleet_api"].lambda_handler(api_event("/fleet/status", depot["fleet"]), context)
    assert response["statusCode"] == 200, response["body"]
    (van,) = json.loads(response["body"])["vehicles"]
    complete = van["charge_complete"]
    # Then charge-complete rests on its SoC, its battery and its own taper
    assert complete["basis"].startswith("SoC 60% of 60 kWh to 80% (the vehicle's default), at 11.0 kW")
    assert "taper fit from 5 of its sessions" in complete["basis"] and complete["confidence"] == "high"
    assert van["estimated_end_at"] == complete["at"]
    # And the departure, from its past visits: in order, after now
    departure = van["departure"]
    assert departure is not None
    assert departure["p10_at"] <= departure["p50_at"] <= departure["p90_at"]


def test_an_active_session_shows_both_estimates(handlers, context, depot):
    response = handlers["fleet_api"].lambda_handler(
        api_event(f"/sessions/{depot['active']}", depot["fleet"]), context
    )
    assert response["statusCode"] == 200, response["body"]
    detail = json.loads(response["body"])
    assert detail["charge_complete"]["done"] is False and detail["charge_complete"]["at"] is not None
    assert detail["departure"] is not None


def test_a_waiting_driver_sees_when_the_connector_frees_up(handlers, context, depot):
    site = f"{depot['fleet']}-depot"
    response = handlers["fleet_api"].lambda_handler(
        api_event(f"/sites/{site}/availability", depot["fleet"]), context
    )
    assert response["statusCode"] == 200, response["body"]
    answer = json.loads(response["body"])
    (connector,) = answer["connectors"]
    assert (connector["state"], connector["session_id"]) == ("occupied", depot["active"])
    # The only connector is taken: the site's next free time is its expected departure
    assert answer["free_now"] == 0
    assert answer["next_free_at"] == connector["expected_free_at"] is not None
    assert answer["next_free_from"] <= answer["next_free_at"] <= answer["next_free_by"]
