"""A session billed at an inferred end, then corrected when its real stop arrives: the invoice is
credited in full by a credit note that names it, and a new invoice bills what really happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.adapters.billing_table import BillingTable
from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.invoice_bucket import InvoiceBucket
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.models.invoice import DocumentType
from shared.operations import correct
from shared.reaper import Reaper
from tests.frames import call, published, sqs_event
from tests.invoice_documents import peppol_validator

pytestmark = pytest.mark.integration

CP = "LV-STHLM-02"  # 2.80 SEK/kWh + 25 % VAT at Nordvind's depot


def run_workflow(handlers, context, session_id: str) -> dict:
    closed = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    priced = handlers["price_session"].lambda_handler(closed, context)
    ref = handlers["write_invoice"].lambda_handler(priced, context)
    handlers["mark_invoiced"].lambda_handler(ref, context)
    return ref


@pytest.fixture(scope="module")
def billed_at_inferred_end(handlers, context, aws) -> tuple[str, dict]:
    # Given a session that went silent after 10 kWh: the reaper ends it there and it is invoiced
    start = {"connectorId": 2, "idTag": "RFID0002", "meterStart": 50_000, "timestamp": "2026-11-26T06:00:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", start), charge_point_id=CP), context
    )
    transaction_id = published(f"{CP}/out")[-1][2]["transactionId"]
    meter = {"connectorId": 2, "transactionId": transaction_id,
             "meterValue": [{"timestamp": "2026-11-26T07:00:00Z", "sampledValue": [{"value": "60000"}]}]}  # fmt: skip
    handlers["ingest"].lambda_handler(sqs_event(call("m", "MeterValues", meter), charge_point_id=CP), context)
    session_id = f"{CP}:{transaction_id}"
    Reaper(
        RegistryTable(aws.registry_table),
        SessionsTable(aws.sessions_table),
        BillingWorkflow(aws.state_machine_arn),
        silence=timedelta(hours=2),
        clock=lambda: datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    ).run()
    first = run_workflow(handlers, context, session_id)
    # And later the real stop arrives: 16 kWh in all
    stop = {"transactionId": transaction_id, "meterStop": 66_000, "timestamp": "2026-11-26T07:40:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("late", "StopTransaction", stop), charge_point_id=CP), context
    )
    return session_id, first


def test_a_correction_credits_the_invoice_and_bills_the_real_stop(
    handlers, context, aws, billed_at_inferred_end
):
    session_id, first = billed_at_inferred_end
    sessions = SessionsTable(aws.sessions_table)
    assert sessions.get(session_id, with_samples=False).correction_needed
    # When the operator corrects it
    correct(sessions, BillingWorkflow(aws.state_machine_arn), session_id, reason="the real stop came late")
    second = run_workflow(handlers, context, session_id)

    # Then the first invoice (10 kWh: 28.00 + 7.00 = 35.00) is credited in full by a credit note
    # that names it, and a new invoice bills 16 kWh (44.80 + 11.20 = 56.00)
    bucket = InvoiceBucket(aws.invoice_bucket)
    original = bucket.get_invoice(first["key"])
    corrected = bucket.get_invoice(second["key"])
    assert (original.document.totals.payable, corrected.document.totals.payable) == (
        Decimal("35.00"),
        Decimal("56.00"),
    )
    listed = BillingTable(aws.billing_table).invoices("nordvind", issued_from="2000-01-01", limit=100)[0]
    (credit_record,) = [r for r in listed if r.session_id == session_id and r.kind == "credit_note"]
    credit = bucket.get_invoice(credit_record.keys["json"])
    assert credit.document.type_code == DocumentType.CREDIT_NOTE
    assert credit.document.preceding_invoice is not None
    assert credit.document.preceding_invoice.number == original.document.number
    assert credit.document.totals.payable == Decimal("35.00")
    assert "the real stop came late" in (credit.document.note or "")
    # And the numbers follow one another: invoice, credit note, new invoice
    numbers = [original.document.number, credit.document.number, corrected.document.number]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    # And the credit CDR cancels the original CDR, which is never changed
    extra = credit.cdr.model_extra or {}
    assert extra["credit"] is True and extra["credit_reference_id"] == (original.cdr.model_extra or {})["id"]
    assert credit.cdr.total_cost is not None and credit.cdr.total_cost.excl_vat == Decimal("-28.00")
    # And both the credit note and the new invoice pass the official Peppol rules
    for record_keys in (credit_record.keys, second["keys"]):
        xml = aws.client("s3").get_object(Bucket=aws.invoice_bucket, Key=record_keys["xml"])["Body"].read()
        assert peppol_validator().validate(xml).passed
    session = sessions.get(session_id, with_samples=False)
    assert (session.status.value, session.correction_needed, session.invoice_key) == (
        "invoiced",
        False,
        second["key"],
    )


def test_only_an_invoiced_session_can_be_corrected(aws, billed_at_inferred_end):
    from shared.domain.errors import SessionNotFound, SessionStateConflict

    sessions, workflow = SessionsTable(aws.sessions_table), BillingWorkflow(aws.state_machine_arn)
    with pytest.raises(SessionNotFound):
        correct(sessions, workflow, "LV-NONE:1", reason="no such session")
    with pytest.raises(ValueError, match="needs a reason"):
        correct(sessions, workflow, billed_at_inferred_end[0], reason=" ")
    # A session already reopened (its correction still running) cannot be reopened again
    session_id = billed_at_inferred_end[0]
    if sessions.get(session_id, with_samples=False).status.value == "invoiced":
        correct(sessions, workflow, session_id, reason="an operator's second look")
    with pytest.raises(SessionStateConflict, match="not invoiced"):
        correct(sessions, workflow, session_id, reason="and a third")
