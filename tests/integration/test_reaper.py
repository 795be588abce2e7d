"""Sessions that never end are closed from the best evidence; a late real stop is kept for correction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.reaper import Reaper
from tests.frames import api_event, call, published, sqs_event

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def start_session(handlers, context, cp: str, connector: int, tag: str, at: str) -> str:
    start = {"connectorId": connector, "idTag": tag, "meterStart": 1_000, "timestamp": at}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", start), charge_point_id=cp), context
    )
    transaction_id = published(f"{cp}/out")[-1][2]["transactionId"]
    meter = {"connectorId": connector, "transactionId": transaction_id,
             "meterValue": [{"timestamp": at.replace(":00Z", ":30Z"), "sampledValue": [{"value": "4000"}]}]}  # fmt: skip
    handlers["ingest"].lambda_handler(sqs_event(call("m", "MeterValues", meter), charge_point_id=cp), context)
    return f"{cp}:{transaction_id}"


@pytest.fixture(scope="module")
def reaped(handlers, context, aws):
    silent = start_session(handlers, context, "LV-STHLM-03", 1, "RFID0007", "2026-11-24T06:00:00Z")
    left = start_session(handlers, context, "LV-STHLM-03", 2, "RFID0008", "2026-11-24T11:00:00Z")
    fresh = start_session(handlers, context, "LV-STHLM-04", 1, "RFID0009", "2026-11-24T11:30:00Z")
    # The car on connector 2 left without a stop: the connector says Available
    free = {
        "connectorId": 2,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": "2026-11-24T11:45:00Z",
    }
    handlers["ingest"].lambda_handler(
        sqs_event(call("st", "StatusNotification", free), charge_point_id="LV-STHLM-03"), context
    )
    reaper = Reaper(
        RegistryTable(aws.registry_table),
        SessionsTable(aws.sessions_table),
        BillingWorkflow(aws.state_machine_arn),
        silence=timedelta(hours=2),
        clock=lambda: NOW,
    )
    return reaper.run(), silent, left, fresh


def test_a_silent_session_is_closed_at_its_last_reading(reaped, aws):
    report, silent, _, _ = reaped
    assert silent in report.closed
    session = SessionsTable(aws.sessions_table).get(silent, with_samples=False)
    assert session.end_inferred and session.ended_at.isoformat() == "2026-11-24T06:00:30+00:00"
    assert session.meter_stop_wh == 4000
    assert "no frame" in session.end_inferred_reason


def test_a_freed_connector_closes_its_session_when_it_was_freed(reaped, aws):
    report, _, left, _ = reaped
    session = SessionsTable(aws.sessions_table).get(left, with_samples=False)
    assert left in report.closed
    assert session.ended_at.isoformat() == "2026-11-24T11:45:00+00:00"
    assert "Available" in session.end_inferred_reason


def test_a_live_session_is_left_alone_and_billing_starts_for_the_closed_ones(reaped, aws):
    report, silent, left, fresh = reaped
    assert fresh not in report.closed
    names = [
        e["name"]
        for e in aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)[
            "executions"
        ]
    ]
    assert any(silent.replace(":", "_") in n for n in names) and any(
        left.replace(":", "_") in n for n in names
    )


def test_a_late_real_stop_is_kept_and_marks_the_invoice_for_correction(handlers, context, reaped, aws):
    _, silent, _, _ = reaped
    transaction_id = int(silent.split(":")[1])
    stop = {"transactionId": transaction_id, "meterStop": 9_500, "timestamp": "2026-11-24T12:30:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("late", "StopTransaction", stop), charge_point_id="LV-STHLM-03"), context
    )
    session = SessionsTable(aws.sessions_table).get(silent, with_samples=False)
    assert session.correction_needed and session.late_meter_stop_wh == 9_500
    assert session.meter_stop_wh == 4000  # the inferred end stays what was (or will be) invoiced
    detail = json.loads(
        handlers["fleet_api"].lambda_handler(api_event(f"/sessions/{silent}", "nordvind"), context)["body"]
    )
    assert detail["end_inferred"] and detail["correction_needed"]
