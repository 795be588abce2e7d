"""A session whose energy cannot be trusted is held, visible in the API, and billed only once an
operator decides.
"""

from __future__ import annotations

import json

import pytest

from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.sessions_table import SessionsTable
from shared.operations import held_sessions, release
from tests.frames import api_event, call, published, sqs_event

pytestmark = pytest.mark.integration

CP = "LV-UPPSALA-07"  # an 11 kW charger at Nordvind's Uppsala hub


@pytest.fixture(scope="module")
def implausible_session(handlers, context) -> str:
    start = {
        "connectorId": 1,
        "idTag": "RFID0004",
        "meterStart": 100_000,
        "timestamp": "2026-11-23T09:00:00Z",
    }
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", start), charge_point_id=CP), context
    )
    transaction_id = published(f"{CP}/out")[-1][2]["transactionId"]
    # 60 kWh in 30 minutes is 120 kW on an 11 kW charger
    stop = {"transactionId": transaction_id, "meterStop": 160_000, "timestamp": "2026-11-23T09:30:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("x", "StopTransaction", stop), charge_point_id=CP), context
    )
    return f"{CP}:{transaction_id}"


def test_an_implausible_session_is_held_not_invoiced(handlers, context, implausible_session):
    closed = handlers["finalize_session"].lambda_handler({"session_id": implausible_session}, context)
    assert "more than 11 kW can deliver" in closed["held_reason"]
    response = handlers["fleet_api"].lambda_handler(
        api_event(f"/sessions/{implausible_session}", "nordvind"), context
    )
    detail = json.loads(response["body"])
    assert (detail["status"], detail["invoice_key"]) == ("held", None)
    assert "11 kW" in detail["hold_reason"]


def test_an_operator_releases_it_with_a_decided_energy_and_it_is_invoiced(
    handlers, context, aws, implausible_session
):
    sessions = SessionsTable(aws.sessions_table)
    assert implausible_session in {s.session_id for s in held_sessions(sessions)}
    # When an operator decides 6 kWh (the meter was replaced; the site log says so)
    release(
        sessions,
        BillingWorkflow(aws.state_machine_arn),
        implausible_session,
        energy_wh=6000,
        reason="meter replaced 09:10, see site log",
    )
    closed = handlers["finalize_session"].lambda_handler({"session_id": implausible_session}, context)
    assert closed["held_reason"] is None and closed["energy_wh"] == "6000"
    ref = handlers["write_invoice"].lambda_handler(
        handlers["price_session"].lambda_handler(closed, context), context
    )
    handlers["mark_invoiced"].lambda_handler(ref, context)
    invoice = json.loads(
        aws.client("s3").get_object(Bucket=aws.invoice_bucket, Key=ref["key"])["Body"].read()
    )
    # 6 kWh × 3.15 SEK = 18.90 + 25 % = 23.63
    assert invoice["document"]["totals"]["tax_inclusive_total"] == "23.63"
    assert sessions.get(implausible_session).override_reason == "meter replaced 09:10, see site log"


def test_a_release_needs_a_reason_and_a_held_session(aws, implausible_session):
    sessions = SessionsTable(aws.sessions_table)
    with pytest.raises(ValueError, match="reason"):
        release(
            sessions, BillingWorkflow(aws.state_machine_arn), implausible_session, energy_wh=None, reason=" "
        )
