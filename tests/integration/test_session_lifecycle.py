"""A charging session through the real handlers against moto: frames in, replies out, the session
recorded, each billing step in turn, the invoice in S3, and the fleet API reading it back.
"""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.aws import dynamodb_table
from tests.frames import api_event, call, published, sqs_event
from tests.invoice_documents import peppol_validator

pytestmark = pytest.mark.integration

CP = "LV-GBG-08"  # Kust Taxi's DC charger: 3.45 SEK/kWh + 25 % VAT


@pytest.fixture(scope="module")
def session_id(handlers, context) -> str:
    """Given a registered DC charger, a Kust Taxi card starts, meters and stops a session."""
    start = {
        "connectorId": 1,
        "idTag": "RFID0011",
        "meterStart": 2_000_000,
        "timestamp": "2026-11-23T06:00:00Z",
    }
    result = handlers["ingest"].lambda_handler(
        sqs_event(
            call("b", "BootNotification", {"chargePointVendor": "Laddvakt Sim", "chargePointModel": "DC50"}),
            call("s", "StartTransaction", start),
            charge_point_id=CP,
        ),
        context,
    )
    assert result == {"batchItemFailures": []}
    transaction_id = published(f"{CP}/out")[-1][2]["transactionId"]
    meter = {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": "2026-11-23T06:30:00Z",
                "sampledValue": [
                    {"value": "2024.5", "unit": "kWh"},
                    {"value": "48.2", "unit": "kW", "measurand": "Power.Active.Import"},
                    {"value": "61", "unit": "Percent", "measurand": "SoC"},
                ],
            }
        ],
    }
    handlers["ingest"].lambda_handler(sqs_event(call("m", "MeterValues", meter), charge_point_id=CP), context)
    return f"{CP}:{transaction_id}"


def test_every_call_was_answered_on_the_out_topic(session_id):
    replies = published(f"{CP}/out")
    assert [r[0] for r in replies[-3:]] == [3, 3, 3]
    assert replies[-3][2]["status"] == "Accepted"


def test_the_active_session_shows_live_in_the_fleet_api(handlers, context, session_id):
    response = handlers["fleet_api"].lambda_handler(api_event("/fleet/status", "kusttaxi"), context)
    assert response["statusCode"] == 200
    status = json.loads(response["body"])
    charging = [v for v in status["vehicles"] if v["state"] == "charging"]
    assert len(charging) == 1
    assert charging[0]["session_id"] == session_id
    assert (charging[0]["power_kw"], charging[0]["energy_kwh"], charging[0]["soc_percent"]) == (
        "48.200",
        "24.500",
        "61",
    )
    assert status["counts"]["vehicles"]["charging"] == 1
    # And the session says what it has cost so far, as its invoice will price it:
    # 24.5 kWh × 3.45 = 84.525 → 84.53 net, + 25 % VAT 21.13 = 105.66
    detail = json.loads(
        handlers["fleet_api"].lambda_handler(api_event(f"/sessions/{session_id}", "kusttaxi"), context)[
            "body"
        ]
    )
    assert (detail["cost_so_far"], detail["currency"]) == ("105.66", "SEK")


def test_stop_closes_prices_and_invoices_the_session(handlers, context, session_id, aws):
    transaction_id = int(session_id.split(":")[1])
    stop = {
        "transactionId": transaction_id,
        "meterStop": 2_041_234,
        "timestamp": "2026-11-23T07:10:00Z",
        "reason": "EVDisconnected",
    }
    assert handlers["ingest"].lambda_handler(
        sqs_event(call("x", "StopTransaction", stop), charge_point_id=CP), context
    ) == {"batchItemFailures": []}
    # StopTransaction started one execution named after the session.
    executions = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)[
        "executions"
    ]
    assert any(session_id.replace(":", "_") in e["name"] for e in executions)

    # When the workflow's four steps run in order (each output is the next input)
    closed = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    priced = handlers["price_session"].lambda_handler(closed, context)
    ref = handlers["write_invoice"].lambda_handler(priced, context)
    done = handlers["mark_invoiced"].lambda_handler(ref, context)

    # Then 41.234 kWh × 3.45 SEK = 142.26 net, 35.57 VAT, 177.83 total, filed under the local month
    assert Decimal(closed["energy_wh"]) == Decimal(41234)
    # under the seller's gapless series
    assert re.fullmatch(r"invoices/laddvakt-cpo/2026/11/LV-\d{7}\.json", ref["key"]), ref["key"]
    assert ref["key"].endswith(f"/{ref['invoice_id']}.json")
    invoice = json.loads(
        aws.client("s3").get_object(Bucket=aws.invoice_bucket, Key=ref["key"])["Body"].read()
    )
    assert (
        invoice["document"]["totals"]["tax_exclusive_total"],
        invoice["document"]["totals"]["vat_total"],
        invoice["document"]["totals"]["tax_inclusive_total"],
    ) == (
        "142.26",
        "35.57",
        "177.83",
    )
    assert (
        invoice["document"]["buyer"]["name"] == "Kust Taxi AB"
        and invoice["document"]["seller"]["vat_id"] == "SE559999000801"
    )
    assert invoice["session"]["started_at_local"] == "2026-11-23T07:00:00+01:00"
    assert done["status"] == "invoiced"
    # And its e-invoice passes the official EN 16931 and Peppol BIS 3 rules, and its PDF is there
    xml = aws.client("s3").get_object(Bucket=aws.invoice_bucket, Key=ref["keys"]["xml"])["Body"].read()
    report = peppol_validator().validate(xml)
    assert report.passed and not report.fatal, report.rule_ids()
    pdf = aws.client("s3").get_object(Bucket=aws.invoice_bucket, Key=ref["keys"]["pdf"])
    assert pdf["ContentType"] == "application/pdf" and pdf["Body"].read().startswith(b"%PDF")

    # And the API shows the ended session with its energy and invoice; the car is idle again
    response = handlers["fleet_api"].lambda_handler(api_event(f"/sessions/{session_id}", "kusttaxi"), context)
    detail = json.loads(response["body"])
    assert (detail["status"], detail["energy_kwh"], detail["invoice_key"]) == (
        "invoiced",
        "41.234",
        ref["key"],
    )
    assert detail["meter_curve"][0]["energy_kwh"] == "24.500"


def test_finance_lists_the_invoice_and_fetches_it_through_a_short_lived_link(handlers, context, session_id):
    # Given the invoiced session, when Kust Taxi's finance lists its invoices
    page = handlers["fleet_api"].lambda_handler(api_event("/invoices", "kusttaxi", groups="finance"), context)
    listed = json.loads(page["body"])
    (invoice,) = [i for i in listed["invoices"] if i["session_id"] == session_id]
    # Then it is there with its totals, and its number opens a download link for the JSON form
    assert (invoice["gross"], invoice["currency"], invoice["formats"]) == (
        "177.83",
        "SEK",
        ["json", "pdf", "xml"],
    )
    one = handlers["fleet_api"].lambda_handler(
        api_event(f"/invoices/{invoice['invoice_number']}", "kusttaxi", groups="finance"), context
    )
    link = json.loads(one["body"])["downloads"]["json"]
    assert one["statusCode"] == 200
    assert link.startswith("https://") and "Signature=" in link and invoice["invoice_number"] in link
    # And neither another fleet's finance nor Kust Taxi's fleet manager gets it
    other = handlers["fleet_api"].lambda_handler(
        api_event(f"/invoices/{invoice['invoice_number']}", "nordvind", groups="finance"), context
    )
    manager = handlers["fleet_api"].lambda_handler(api_event("/invoices", "kusttaxi"), context)
    assert (other["statusCode"], manager["statusCode"]) == (404, 403)


def test_repeating_a_step_never_bills_twice(handlers, context, session_id, aws):
    again = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    priced = handlers["price_session"].lambda_handler(again, context)
    ref = handlers["write_invoice"].lambda_handler(priced, context)
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=aws.invoice_bucket)["Contents"]]
    assert keys.count(ref["key"]) == 1


def test_readings_that_arrive_after_billing_and_change_the_energy_mark_the_invoice_for_correction(
    handlers, context, session_id, aws
):
    # Given the invoiced session (41.234 kWh), and a meter frame that was stuck in a retry: its
    # register at 06:50 stands above the stop's, so the meter restarted after it (a reset nobody
    # had seen when the session was billed)
    transaction_id = session_id.split(":")[1]
    late = {
        "connectorId": 1,
        "transactionId": int(transaction_id),
        "meterValue": [
            {"timestamp": "2026-11-23T06:45:00Z", "sampledValue": [{"value": "2030000"}]},
            {"timestamp": "2026-11-23T06:50:00Z", "sampledValue": [{"value": "2045000"}]},
        ],
    }
    # When it arrives
    result = handlers["ingest"].lambda_handler(
        sqs_event(call("late", "MeterValues", late), charge_point_id=CP), context
    )
    # Then it is answered and kept, and the session says its invoice must be corrected, and why
    assert result == {"batchItemFailures": []}
    assert published(f"{CP}/out")[-1] == [3, "late", {}]
    detail = json.loads(
        handlers["fleet_api"].lambda_handler(api_event(f"/sessions/{session_id}", "kusttaxi"), context)[
            "body"
        ]
    )
    assert detail["status"] == "invoiced" and detail["correction_needed"] is True
    assert detail["correction_reason"].endswith("measure 45000 Wh, not the billed 41234 Wh")


def test_another_fleet_cannot_read_the_session(handlers, context, session_id):
    response = handlers["fleet_api"].lambda_handler(api_event(f"/sessions/{session_id}", "nordvind"), context)
    assert response["statusCode"] == 404
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]


def test_a_token_without_a_fleet_is_forbidden(handlers, context):
    response = handlers["fleet_api"].lambda_handler(api_event("/chargers", None), context)
    assert response["statusCode"] == 403


def test_chargers_show_connector_state(handlers, context):
    status = {
        "connectorId": 1,
        "errorCode": "GroundFailure",
        "status": "Faulted",
        "timestamp": "2026-11-23T08:00:00Z",
    }
    handlers["ingest"].lambda_handler(
        sqs_event(call("st", "StatusNotification", status), charge_point_id="LV-GBG-09"), context
    )
    response = handlers["fleet_api"].lambda_handler(api_event("/chargers", "kusttaxi"), context)
    chargers = {c["charge_point_id"]: c for c in json.loads(response["body"])["chargers"]}
    assert chargers["LV-GBG-09"]["state"] == "faulted"
    assert chargers["LV-GBG-09"]["connectors"][0]["error_code"] == "GroundFailure"
    assert set(chargers) == {"LV-GBG-08", "LV-GBG-09", "LV-GBG-10"}  # Nordvind's chargers are not listed


def test_bad_frames_are_answered_kept_and_do_not_fail_the_batch(handlers, context, aws):
    # Given a batch with a non-JSON frame, an unknown action and an SQS body that is not a rule document
    result = handlers["ingest"].lambda_handler(
        sqs_event(b"{oops", call("u", "Frobnicate", {}), "not a rule document", charge_point_id="LV-GBG-10"),
        context,
    )
    # Then only the unreadable SQS body fails (SQS retries it, then the DLQ keeps it)
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
    # And the unknown action got a CallError, and both frames are kept with their reasons
    assert published("LV-GBG-10/out")[-1][:3] == [4, "u", "NotImplemented"]
    kept = aws.table(aws.rejected_frames_table).query(
        KeyConditionExpression="charge_point_id = :cp", ExpressionAttributeValues={":cp": "LV-GBG-10"}
    )["Items"]
    reasons = sorted(item["reason"] for item in kept)
    assert any("not valid JSON" in r for r in reasons) and any("Frobnicate" in r for r in reasons)
    assert base64.b64decode(next(i for i in kept if "JSON" in i["reason"])["payload_base64"]) == b"{oops"


def _meter(transaction_id: int, at: str, wh: int, kw: str = "11") -> dict[str, Any]:
    return {
        "connectorId": 2,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": at,
                "sampledValue": [
                    {"value": str(wh)},
                    {"value": kw, "unit": "kW", "measurand": "Power.Active.Import"},
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def long_session(handlers, context) -> str:
    start = {"connectorId": 2, "idTag": "RFID0001", "meterStart": 10, "timestamp": "2026-11-23T06:00:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s2", "StartTransaction", start), charge_point_id="LV-STHLM-02"), context
    )
    return f"LV-STHLM-02:{published('LV-STHLM-02/out')[-1][2]['transactionId']}"


def test_a_meter_frame_is_one_dynamodb_request_and_no_read(handlers, context, aws, long_session):
    # Given a running session, When a MeterValues frame arrives
    calls: list[str] = []
    client = dynamodb_table(aws.sessions_table).meta.client  # the very table handle the adapter uses

    def count(event_name: str, **_: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    client.meta.events.register("before-call.dynamodb", count)
    try:
        transaction_id = int(long_session.split(":")[1])
        handlers["ingest"].lambda_handler(
            sqs_event(
                call("m2", "MeterValues", _meter(transaction_id, "2026-11-23T06:15:00Z", 2510)),
                charge_point_id="LV-STHLM-02",
            ),
            context,
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)
    # Then the sessions table sees exactly one write request (the sample and the live values together)
    assert calls == ["TransactWriteItems"]


def test_a_long_session_keeps_every_sample_in_small_items(handlers, context, aws, long_session):
    transaction_id = int(long_session.split(":")[1])
    frames = [
        call(
            f"m{i}",
            "MeterValues",
            _meter(transaction_id, f"2026-11-23T{7 + i // 60:02d}:{i % 60:02d}:00Z", 3000 + 100 * i),
        )
        for i in range(300)
    ]
    for batch in range(0, len(frames), 10):
        handlers["ingest"].lambda_handler(
            sqs_event(*frames[batch : batch + 10], charge_point_id="LV-STHLM-02"), context
        )
    session = handlers["fleet_api"].services.fleet._sessions.get(long_session)
    assert len(session.samples) == 301
    head = aws.table(aws.sessions_table).get_item(Key={"session_id": long_session, "sk": "SESSION"})["Item"]
    assert len(json.dumps(head, default=str)) < 2000, "the head item must not grow with the session"
    assert head["latest_register_wh"] == Decimal(3000 + 100 * 299)


def test_a_late_older_sample_is_kept_but_does_not_rewind_the_live_view(handlers, context, aws, long_session):
    transaction_id = int(long_session.split(":")[1])
    before = aws.table(aws.sessions_table).get_item(Key={"session_id": long_session, "sk": "SESSION"})["Item"]
    late = call("late", "MeterValues", _meter(transaction_id, "2026-11-23T06:20:00Z", 2600, kw="3"))
    assert handlers["ingest"].lambda_handler(sqs_event(late, charge_point_id="LV-STHLM-02"), context) == {
        "batchItemFailures": []
    }
    after = aws.table(aws.sessions_table).get_item(Key={"session_id": long_session, "sk": "SESSION"})["Item"]
    assert (after["latest_register_wh"], after["latest_power_w"]) == (
        before["latest_register_wh"],
        before["latest_power_w"],
    )
    stored = {
        s.timestamp.isoformat(): s.energy_wh
        for s in handlers["fleet_api"].services.fleet._sessions.samples(long_session)
    }
    assert stored["2026-11-23T06:20:00+00:00"] == Decimal(2600)


def test_a_retried_start_transaction_is_the_same_session_in_dynamodb(handlers, context, aws):
    start = {"connectorId": 1, "idTag": "RFID0012", "meterStart": 42, "timestamp": "2026-11-23T05:00:00Z"}
    frames = [call("r1", "StartTransaction", start), call("r2", "StartTransaction", start)]
    handlers["ingest"].lambda_handler(sqs_event(*frames, charge_point_id="LV-GBG-10"), context)
    first, again = published("LV-GBG-10/out")[-2:]
    assert first[2]["transactionId"] == again[2]["transactionId"]
    heads = aws.table(aws.sessions_table).scan(
        FilterExpression="charge_point_id = :cp AND sk = :head",
        ExpressionAttributeValues={":cp": "LV-GBG-10", ":head": "SESSION"},
    )["Items"]
    assert [h["meter_start_wh"] for h in heads] == [Decimal(42)]
