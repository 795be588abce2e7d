"""The four steps of the close-and-invoice workflow. Each is safe to repeat: Step Functions retries
a step after a timeout, and a repeat must give the same result, never a second bill.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from shared.adapters.invoice_bucket import InvoiceBucket
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain import invoicing, pricing
from shared.domain.errors import NotPriceable
from shared.models.sessions import (
    ClosedSession,
    CloseRequest,
    InvoiceRef,
    PricedSession,
    SessionInvoiced,
    SessionStatus,
)
from shared.settings import BillingSettings


def _now() -> datetime:
    return datetime.now(UTC)


class Billing:
    def __init__(
        self,
        sessions: SessionsTable,
        registry: RegistryTable,
        invoices: InvoiceBucket,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._invoices = invoices
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: BillingSettings) -> Billing:
        return cls(
            SessionsTable(settings.sessions_table),
            RegistryTable(settings.registry_table),
            InvoiceBucket(settings.invoice_bucket),
        )

    def finalize(self, request: CloseRequest) -> ClosedSession:
        session = self._sessions.get(request.session_id)
        if session.ended_at is None or session.meter_stop_wh is None:
            raise NotPriceable(f"session {session.session_id} has not ended")
        if session.meter_start_wh is None:
            raise NotPriceable(f"session {session.session_id} has no meter reading to start from")
        energy = session.meter_stop_wh - session.meter_start_wh
        if energy < 0:
            raise NotPriceable(
                f"session {session.session_id}: meterStop {session.meter_stop_wh} Wh is below "
                f"meterStart {session.meter_start_wh} Wh"
            )
        if session.status is not SessionStatus.INVOICED:
            session = self._sessions.mark_closing(session.session_id, energy)
        return ClosedSession(
            session_id=session.session_id,
            transaction_id=session.transaction_id,
            charge_point_id=session.charge_point_id,
            connector_id=session.connector_id,
            id_tag=session.id_tag,
            fleet_id=session.fleet_id,
            site_id=session.site_id,
            driver_id=session.driver_id,
            vehicle_id=session.vehicle_id,
            started_at=session.started_at,
            ended_at=session.ended_at,
            meter_start_wh=session.meter_start_wh,
            meter_stop_wh=session.meter_stop_wh,
            energy_wh=energy,
            stop_reason=session.stop_reason,
        )

    def price(self, closed: ClosedSession) -> PricedSession:
        site = self._registry.site(closed.site_id)
        lines = pricing.price_lines(closed, site.tariff)
        vat = pricing.vat_breakdown(lines)
        return PricedSession(
            session=closed,
            tariff=site.tariff,
            site_name=site.name,
            time_zone=site.time_zone,
            currency=site.tariff.currency,
            lines=lines,
            vat=vat,
            totals=pricing.totals(lines, vat),
        )

    def write_invoice(self, priced: PricedSession) -> InvoiceRef:
        invoice = invoicing.build_invoice(
            priced,
            seller=self._registry.operator(),
            buyer=self._registry.fleet(priced.session.fleet_id),
            issued_at=self._clock(),
        )
        key = invoicing.invoice_key(invoice)
        self._invoices.put_invoice(key, invoice)
        return InvoiceRef(
            session_id=priced.session.session_id,
            invoice_id=invoice.invoice_id,
            bucket=self._invoices.name,
            key=key,
            gross=invoice.totals.gross,
            currency=invoice.currency,
        )

    def mark_invoiced(self, ref: InvoiceRef) -> SessionInvoiced:
        session = self._sessions.mark_invoiced(ref.session_id, ref.key)
        return SessionInvoiced(
            session_id=session.session_id, invoice_id=ref.invoice_id, key=ref.key, status=session.status
        )
