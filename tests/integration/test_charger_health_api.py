"""Charger health through the real handlers against moto: status frames in through ingest, the
fault, its history and the uptime out through `GET /chargers/{id}`, however often and in whatever
order the frames came, and never for another fleet."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from shared.adapters.registry_table import utc_key
from tests.frames import api_event, call, sqs_event

pytestmark = pytest.mark.integration

CP = "LV-UPPSALA-06"  # Nordvind's two-outlet AC charger
SILENT_CP = "LV-UPPSALA-05"  # Nordvind's charger that goes quiet for two hours
FLEET = "nordvind"
# Status frames carry the charger's own time; these are hours before the test runs.
T = datetime.now(UTC).replace(microsecond=0)


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def ago(hours: float) -> datetime:
    return T - timedelta(hours=hours)


def status(connector: int, value: str, hours_ago: float, error: str = "NoError", **extra: str) -> bytes:
    payload = {"connectorId": connector, "status": value, "errorCode": error, "timestamp": _z(ago(hours_ago))}
    return call(f"s-{connector}-{hours_ago}", "StatusNotification", {**payload, **extra})


HISTORY = [
    status(1, "Available", 5),
    status(2, "Available", 5),
    status(1, "Faulted", 4, "GroundFailure", vendorErrorCode="RCD-30", info="residual current"),
    status(2, "Charging", 3.5),
    status(2, "Unavailable", 3),  # both outlets down from here…
    status(1, "Available", 2),  # …to here: one hour
    status(1, "Faulted", 0.5, "HighTemperature"),  # after the period asked for below: a fault now
]
PERIOD = {"from": _z(ago(5)), "to": _z(ago(1))}


def ingest(handlers, context, cp: str, *frames: bytes) -> None:
    assert handlers["ingest"].lambda_handler(sqs_event(*frames, charge_point_id=cp), context) == {
        "batchItemFailures": []
    }


def get(handlers, context, path: str, fleet: str = FLEET, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = handlers["fleet_api"].lambda_handler(api_event(path, fleet, **kwargs), context)
    return response["statusCode"], json.loads(response["body"] or "null")


def history_items(aws, cp: str) -> list[dict[str, Any]]:
    table = aws.table(aws.registry_table)
    return table.query(
        KeyConditionExpression=Key("pk").eq(f"CHARGER#{cp}") & Key("sk").begins_with("STATUS#")
    )["Items"]


@pytest.fixture(scope="module")
def reported(handlers, context) -> None:
    """Given a charger that booted and reported its connectors over the last five hours."""
    boot = call("b", "BootNotification", {"chargePointVendor": "Laddvakt Sim", "chargePointModel": "AC22"})
    ingest(handlers, context, CP, boot, *HISTORY)


def test_the_charger_shows_its_fault_history_and_uptime_over_a_period(reported, handlers, context):
    # When its fleet manager asks for the charger over hours 5 → 1 ago
    code, body = get(handlers, context, f"/chargers/{CP}", query=PERIOD)
    # Then both outlets were down for one of the four hours
    assert code == 200
    assert (body["uptime_percent"], body["downtime_seconds"]) == ("75.00", 3600)
    assert [
        (f["connector_id"], f["status"], f["error_code"], f["since"], f["until"])
        for f in body["fault_history"]
    ] == [
        (1, "Faulted", "GroundFailure", _z(ago(4)), _z(ago(2))),
        (2, "Unavailable", "NoError", _z(ago(3)), None),
    ]
    assert body["fault_history"][0]["vendor_error_code"] == "RCD-30"
    # And it is online, with the fault it has now
    assert body["online"] is True and body["outages"] == []
    assert [(f["connector_id"], f["error_code"]) for f in body["current_faults"]] == [(1, "HighTemperature")]
    assert body["period_from"] == _z(ago(5)) and body["period_to"] == _z(ago(1))


def test_repeated_and_reordered_status_frames_add_no_history(reported, handlers, context, aws):
    # Given the history as first delivered
    before = sorted(item["sk"] for item in history_items(aws, CP))
    _, first = get(handlers, context, f"/chargers/{CP}", query=PERIOD)
    # When the charger replays every status frame again, in another order (late ones included)
    replayed = list(HISTORY)
    random.Random(7).shuffle(replayed)
    ingest(handlers, context, CP, *replayed)
    # Then the history holds the same changes, once each, and the answer is the same
    assert sorted(item["sk"] for item in history_items(aws, CP)) == before
    assert len(before) == len(HISTORY)
    _, again = get(handlers, context, f"/chargers/{CP}", query=PERIOD)
    assert {k: v for k, v in again.items() if k != "last_seen_at"} == {
        k: v for k, v in first.items() if k != "last_seen_at"
    }


def test_an_unchanged_status_adds_no_history(handlers, context, aws):
    cp = "LV-STHLM-01"
    ingest(handlers, context, cp, status(1, "Available", 1), status(1, "Available", 0.5))
    assert [item["status"] for item in history_items(aws, cp)] == ["Available"]


def test_the_fleets_charger_list_says_online_last_seen_and_faults_now(reported, handlers, context):
    code, body = get(handlers, context, "/chargers")
    charger = next(c for c in body["chargers"] if c["charge_point_id"] == CP)
    assert code == 200 and charger["online"] is True and charger["last_seen_at"]
    assert [(f["connector_id"], f["status"], f["error_code"]) for f in charger["current_faults"]] == [
        (1, "Faulted", "HighTemperature")
    ]


def test_a_frame_after_two_silent_hours_records_the_outage_and_it_lowers_uptime(handlers, context, aws):
    # Given a charger whose last frame came two hours ago
    ingest(handlers, context, SILENT_CP, status(1, "Available", 3), status(2, "Available", 3))
    aws.table(aws.registry_table).update_item(
        Key={"pk": f"CHARGER#{SILENT_CP}", "sk": "STATE"},
        UpdateExpression="SET last_seen_at = :t",
        ExpressionAttributeValues={":t": utc_key(ago(2))},
    )
    code, body = get(handlers, context, f"/chargers/{SILENT_CP}")
    assert code == 200 and body["online"] is False
    assert body["outages"] == [{"since": _z(ago(2)), "until": None}]
    # When it sends a heartbeat again
    ingest(handlers, context, SILENT_CP, call("h", "Heartbeat", {}))
    # Then the silence is an outage that ended: of the hour and a half asked for, the hour after
    # the last frame before it was down
    code, body = get(
        handlers, context, f"/chargers/{SILENT_CP}", query={"from": _z(ago(2.5)), "to": _z(ago(1))}
    )
    assert body["online"] is True
    assert [o["since"] for o in body["outages"]] == [_z(ago(2))] and body["outages"][0]["until"]
    assert (body["uptime_percent"], body["downtime_seconds"]) == ("33.33", 3600)


@pytest.mark.parametrize("cp", [CP, "LV-NO-SUCH-CHARGER"])
def test_another_fleets_charger_is_not_found_like_a_missing_one(reported, handlers, context, cp):
    code, body = get(handlers, context, f"/chargers/{cp}", fleet="kusttaxi", query=PERIOD)
    assert (code, body["title"], body["detail"]) == (404, "Not Found", f"no charger {cp!r}")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "2026-11-10", "to": "2026-11-01"}, "must be before"),
        ({"from": "2024-01-01", "to": "2026-11-01"}, "at most 366 days"),
        ({"from": "last tuesday"}, "neither a date"),
        ({"from": "2026-11-01T06:00:00"}, "no UTC offset"),
        ({"from": "9999-12-31"}, "before now"),
        ({"to": "0001-01-01"}, "out of range"),
    ],
)
def test_a_period_that_makes_no_sense_is_a_422_naming_the_problem(reported, handlers, context, query, says):
    code, body = get(handlers, context, f"/chargers/{CP}", query=query)
    assert code == 422 and says in body["detail"]


def test_a_date_is_the_sites_local_day_and_to_includes_it(reported, handlers, context):
    code, body = get(handlers, context, f"/chargers/{CP}", query={"from": "2026-07-01", "to": "2026-07-01"})
    # Stockholm is UTC+2 in summer
    assert code == 200
    assert (body["period_from"], body["period_to"]) == ("2026-06-30T22:00:00Z", "2026-07-01T22:00:00Z")


def test_the_charger_route_is_for_fleet_managers_not_finance(reported, handlers, context):
    code, _ = get(handlers, context, f"/chargers/{CP}", groups="finance")
    assert code == 403
