"""Builds the invoice document for a priced session and decides where it is filed.

Key layout in the invoice bucket: `invoices/{seller_id}/{yyyy}/{mm}/{invoice_number}.json`, where
the year and month are those of the session's end in the site's local time (the month finance
books it in), and the number is the seller's next in its gapless series.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.domain.pricing import energy_kwh
from shared.models.registry import Fleet, Operator
from shared.models.sessions import Invoice, InvoiceSessionFacts, PricedSession

INVOICE_PREFIX = "invoices"


def invoice_document_key(session_id: str) -> str:
    """What a session's invoice is called in the number series: one invoice per session, so a
    retried step asks for the same document and gets the same number."""
    return f"invoice:{session_id}"


def invoice_number(seller: Operator, number: int) -> str:
    return f"{seller.invoice_series}-{number:07d}"


def build_invoice(
    priced: PricedSession, seller: Operator, buyer: Fleet, issued_at: datetime, number: int
) -> Invoice:
    session = priced.session
    zone = ZoneInfo(priced.time_zone)
    return Invoice(
        invoice_id=invoice_number(seller, number),
        issue_date=issued_at.astimezone(zone).date().isoformat(),
        issued_at=issued_at,
        currency=priced.currency,
        seller=seller,
        buyer=buyer,
        session=InvoiceSessionFacts(
            session_id=session.session_id,
            transaction_id=session.transaction_id,
            charge_point_id=session.charge_point_id,
            connector_id=session.connector_id,
            site_id=session.site_id,
            site_name=priced.site_name,
            time_zone=priced.time_zone,
            id_tag=session.id_tag,
            driver_id=session.driver_id,
            vehicle_id=session.vehicle_id,
            started_at=session.started_at,
            ended_at=session.ended_at,
            started_at_local=session.started_at.astimezone(zone),
            ended_at_local=session.ended_at.astimezone(zone),
            meter_start_wh=session.meter_start_wh,
            meter_stop_wh=session.meter_stop_wh,
            energy_kwh=energy_kwh(session.energy_wh),
        ),
        lines=priced.lines,
        vat=priced.vat,
        totals=priced.totals,
    )


def invoice_key(invoice: Invoice) -> str:
    ended_local = invoice.session.ended_at_local
    return f"{INVOICE_PREFIX}/{invoice.seller.id}/{ended_local:%Y}/{ended_local:%m}/{invoice.invoice_id}.json"
