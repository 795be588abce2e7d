"""`GET /fleet/status` as a fleet manager reads it in the morning: every vehicle counted by
state, the ones at a charger listed with what they are doing, and the rest only on request."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.adapters.registry_table import RegistryTable
from shared.models.registry import Charger, Fleet, RegistryDocument, Site, Token, Vehicle
from tests.frames import api_event, call, published, sqs_event
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(aws, handlers, context) -> str:
    """Given a fleet of four vans at one depot with three single-connector chargers, where
    van-1 charges, van-2 is plugged in drawing nothing, a driver's own card charges, and van-3
    and van-4 are away."""
    fleet_id = f"status-{uuid.uuid4().hex[:6]}"
    example = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    chargers = [f"{fleet_id}-cp{n}" for n in (1, 2, 3)]
    RegistryTable(aws.registry_table).import_document(
        RegistryDocument(
            operator=example.operator,
            fleets=[Fleet(id=fleet_id, name="Status Test AB")],
            sites=[Site(id=f"{fleet_id}-depot", fleet_id=fleet_id, name="Depot", tariff_id="kust-dc")],
            chargers=[Charger(id=cp, site_id=f"{fleet_id}-depot") for cp in chargers],
            vehicles=[
                Vehicle(id=f"van-{n}-{fleet_id}", fleet_id=fleet_id, name=f"Van {n}", battery_kwh=Decimal(60))
                for n in (1, 2, 3, 4)
            ],
            tokens=[
                Token(id_tag=f"{fleet_id}-T1", fleet_id=fleet_id, vehicle_id=f"van-1-{fleet_id}"),
                Token(id_tag=f"{fleet_id}-T2", fleet_id=fleet_id, vehicle_id=f"van-2-{fleet_id}"),
                Token(id_tag=f"{fleet_id}-T3", fleet_id=fleet_id),
            ],
        )
    )
    # The chargers say what they do: two in use, the third in use but reporting a ground fault.
    for cp, (state, error) in zip(
        chargers,
        [("Charging", "NoError"), ("SuspendedEVSE", "NoError"), ("Faulted", "GroundFailure")],
        strict=True,
    ):
        report = {"connectorId": 1, "status": state, "errorCode": error, "timestamp": "2026-11-24T05:00:00Z"}
        handlers["ingest"].lambda_handler(
            sqs_event(call("n", "StatusNotification", report), charge_point_id=cp), context
        )
    for cp, tag, kw, soc in zip(
        chargers, ("T1", "T2", "T3"), ("11", "0", "7.4"), ("50", "30", "70"), strict=True
    ):
        start = {
            "connectorId": 1,
            "idTag": f"{fleet_id}-{tag}",
            "meterStart": 1000,
            "timestamp": "2026-11-24T05:00:00Z",
        }
        handlers["ingest"].lambda_handler(
            sqs_event(call("s", "StartTransaction", start), charge_point_id=cp), context
        )
        transaction_id = published(f"{cp}/out")[-1][2]["transactionId"]
        meter = {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [
                {
                    "timestamp": "2026-11-24T05:30:00Z",
                    "sampledValue": [
                        {"value": "3000", "unit": "Wh"},
                        {"value": kw, "unit": "kW", "measurand": "Power.Active.Import"},
                        {"value": soc, "unit": "Percent", "measurand": "SoC"},
                    ],
                }
            ],
        }
        handlers["ingest"].lambda_handler(
            sqs_event(call("m", "MeterValues", meter), charge_point_id=cp), context
        )
    return fleet_id


def status(handlers, context, fleet_id, **query) -> dict:
    response = handlers["fleet_api"].lambda_handler(
        api_event("/fleet/status", fleet_id, query={k: str(v).lower() for k, v in query.items()} or None),
        context,
    )
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])


def test_every_vehicle_is_counted_by_state(handlers, context, fleet):
    counts = status(handlers, context, fleet)["counts"]
    assert counts["vehicles"] == {"charging": 1, "plugged_in": 1, "ready": 0, "away": 2}
    assert counts["active_sessions"] == 3


def test_only_vehicles_at_a_charger_are_listed_with_what_they_are_doing(handlers, context, fleet):
    body = status(handlers, context, fleet)
    by_id = {v["vehicle_id"]: v for v in body["vehicles"]}
    assert set(by_id) == {f"van-1-{fleet}", f"van-2-{fleet}"}
    van1 = by_id[f"van-1-{fleet}"]
    assert (van1["state"], van1["power_kw"], van1["energy_kwh"], van1["soc_percent"]) == (
        "charging",
        "11.000",
        "2.000",
        "50",
    )
    # 60 kWh × (80 − 50) % = 18 kWh still to go at 11 kW; the reading is days old by the test's
    # clock, so the estimate says so and never lies in the past
    complete = van1["charge_complete"]
    assert (complete["done"], complete["remaining_kwh"], complete["confidence"]) == (False, "18.0", "medium")
    assert complete["basis"].startswith("SoC 50% of 60 kWh to 80% (the vehicle's default), at 11.0 kW")
    assert "min old" in complete["basis"]
    assert van1["estimated_end_at"] == complete["at"]
    assert datetime.fromisoformat(complete["at"]) >= datetime.fromisoformat(body["generated_at"])
    van2 = by_id[f"van-2-{fleet}"]
    assert van2["state"] == "plugged_in"
    assert van2.get("estimated_end_at") is None
    assert van2["charge_complete"]["at"] is None and van2["charge_complete"]["missing"] == ["charging power"]
    # No charging needs, no usual departure, no past visits: the model alone, and it says so
    departure = van1["departure"]
    assert departure["confidence"] == "low" and departure["declared_departure_at"] is None
    assert (
        "no declared departure" in departure["basis"]
        and "no past visits of this vehicle" in departure["basis"]
    )
    assert departure["p10_at"] <= departure["p50_at"] <= departure["p90_at"]


def test_a_session_whose_card_names_no_vehicle_is_still_shown(handlers, context, fleet):
    (other,) = status(handlers, context, fleet)["other_sessions"]
    assert (other["charge_point_id"], other["state"], other["power_kw"]) == (
        f"{fleet}-cp3",
        "charging",
        "7.400",
    )


def test_chargers_are_counted_by_state_and_the_broken_one_is_listed(handlers, context, fleet):
    body = status(handlers, context, fleet)
    assert body["counts"]["chargers"] == {"charging": 1, "occupied": 1, "faulted": 1}
    (broken,) = body["chargers_needing_attention"]
    assert (broken["charge_point_id"], broken["state"], broken["online"]) == (f"{fleet}-cp3", "faulted", True)
    assert [f["error_code"] for f in broken["current_faults"]] == ["GroundFailure"]


def test_away_vehicles_are_listed_on_request(handlers, context, fleet):
    body = status(handlers, context, fleet, include_away=True)
    states = {v["vehicle_id"]: v["state"] for v in body["vehicles"]}
    assert states == {
        f"van-1-{fleet}": "charging",
        f"van-2-{fleet}": "plugged_in",
        f"van-3-{fleet}": "away",
        f"van-4-{fleet}": "away",
    }


def _requests(handlers, context, fleet) -> list[dict]:
    """The DynamoDB requests one status call makes."""
    requests: list[dict] = []
    client = handlers["fleet_api"].services.fleet._registry._table.meta.client
    sessions_client = handlers["fleet_api"].services.fleet._sessions._table.meta.client

    def record(params, **_):
        requests.append(params)

    for c in {id(client): client, id(sessions_client): sessions_client}.values():
        c.meta.events.register("provide-client-params.dynamodb.*", record)
    try:
        status(handlers, context, fleet)
    finally:
        for c in {id(client): client, id(sessions_client): sessions_client}.values():
            c.meta.events.unregister("provide-client-params.dynamodb.*", record)
    return requests


def test_status_reads_what_is_active_not_the_fleets_vehicles_tokens_or_history(handlers, context, fleet, aws):
    # Given a warm container (the vehicle records, profiles and charging needs are cached a minute)
    status(handlers, context, fleet)
    requests = _requests(handlers, context, fleet)
    # Then it made two queries: the fleet's active sessions, and its chargers' range of the index
    assert sorted(q["IndexName"] for q in requests) == ["active_by_fleet", "by_fleet"]
    assert not any("Scan" in str(q) for q in requests)


def test_status_reads_what_the_estimates_need_in_one_batch(handlers, context, fleet, aws):
    # Given a container whose cached profiles and charging needs have expired
    status(handlers, context, fleet)
    handlers["fleet_api"].services.fleet._registry._cache.forget_prefix("live:")
    requests = _requests(handlers, context, fleet)
    # Then besides the two queries it reads the plugged-in vehicles' profiles and charging needs,
    # and their site's recent stays, in one BatchGetItem, never a request per vehicle
    (batch,) = [q for q in requests if "RequestItems" in q]
    keys = {(k["pk"], k["sk"]) for k in batch["RequestItems"][aws.registry_table]["Keys"]}
    vehicles = {(f"VEHICLE#van-{n}-{fleet}", sk) for n in (1, 2) for sk in ("PROFILE", "NEEDS")}
    assert keys == vehicles | {(f"SITE#{fleet}-depot", "STAYS")}
    assert len(requests) == 3


def test_a_vehicle_shows_its_charging_needs_and_is_ready_at_their_target(
    handlers, context, fleet, monkeypatch
):
    # Given van-2 plugged in at 30 % SoC, short of its default 80 %
    van = f"van-2-{fleet}"

    def vehicle() -> dict:
        response = handlers["fleet_api"].lambda_handler(api_event(f"/vehicles/{van}", fleet), context)
        assert response["statusCode"] == 200, response["body"]
        return json.loads(response["body"])

    assert vehicle()["state"] == "plugged_in" and vehicle()["charging_needs"] is None
    monkeypatch.setattr(
        handlers["fleet_api"].services.registry, "_clock", lambda: datetime(2026, 11, 24, 6, tzinfo=UTC)
    )
    departure = "2026-11-24T15:00:00+00:00"

    def put(target: str) -> dict:
        return handlers["fleet_api"].lambda_handler(
            api_event(
                f"/vehicles/{van}/charging-needs", fleet, method="PUT",
                body={"departure_at": departure, "target_soc_percent": target},
            ),
            context,
        )  # fmt: skip

    # When the fleet manager asks for 25 %, below the 30 % it has: refused, saying why
    refused = put("25")
    assert refused["statusCode"] == 422
    assert "below the vehicle's SoC now (30%" in json.loads(refused["body"])["detail"]
    # When the fleet manager says the 30 % it has is enough for its next trip
    assert put("30")["statusCode"] in (200, 201)
    # Then the vehicle shows them, and counts as ready
    shown = vehicle()
    assert shown["charging_needs"]["target_soc_percent"] == "30"
    assert shown["charging_needs"]["departure_at"].startswith("2026-11-24T15:00:00")
    assert shown["state"] == "ready"
