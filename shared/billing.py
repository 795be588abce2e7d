"""The four steps of the close-and-invoice workflow. Each is safe to repeat: Step Functions retries
a step after a timeout, and a repeat must give the same result, never a second bill.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.adapters.billing_table import BillingTable
from shared.adapters.invoice_bucket import InvoiceBucket
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain import energy as energy_model
from shared.domain import invoicing, pricing
from shared.domain.errors import NotPriceable
from shared.models.invoices_index import InvoiceRecord
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
        billing_table: BillingTable,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._invoices = invoices
        self._billing_table = billing_table
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: BillingSettings) -> Billing:
        return cls(
            SessionsTable(settings.sessions_table),
            RegistryTable(settings.registry_table),
            InvoiceBucket(settings.invoice_bucket),
            BillingTable(settings.billing_table),
        )

    def finalize(self, request: CloseRequest) -> ClosedSession:
        session = self._sessions.get(request.session_id)
        if session.ended_at is None:
            raise NotPriceable(f"session {session.session_id} has not ended")
        held_reason: str | None = None
        # Every register reading in time order: the start's, the samples' and the stop's (a 2.0.1
        # transaction may start or end without one of its own).
        readings = energy_model.readings_of(
            session.started_at,
            session.meter_start_wh,
            session.samples,
            session.ended_at,
            session.meter_stop_wh,
        )
        if session.energy_override_wh is not None:
            energy = session.energy_override_wh  # an operator's decision, with its reason on the session
        else:
            placement = self._registry.placement(session.charge_point_id)
            max_power = placement.charger.max_power_kw if placement else Decimal(1000)
            verdict = energy_model.session_energy(readings, max_power, session.samples)
            energy = verdict.energy_wh
            if len(readings) < 2:
                held_reason = "no meter readings to measure the energy from"
            elif not verdict.trustworthy and session.override_reason is None:
                held_reason = "; ".join(verdict.flags)
            if held_reason is not None:
                self._sessions.mark_held(
                    session.session_id, held_reason, [r.isoformat() for r in verdict.resets]
                )
        if held_reason is None and session.status is not SessionStatus.INVOICED:
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
            meter_start_wh=readings[0].register_wh if readings else Decimal(0),
            meter_stop_wh=readings[-1].register_wh if readings else Decimal(0),
            energy_wh=energy,
            stop_reason=session.stop_reason,
            held_reason=held_reason,
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
        seller = self._registry.operator()
        # The claim fixes the number and the issue time, so a retried step writes the same document.
        claim = self._billing_table.claim(
            seller.id, invoicing.invoice_document_key(priced.session.session_id)
        )
        invoice = invoicing.build_invoice(
            priced,
            seller=seller,
            buyer=self._registry.fleet(priced.session.fleet_id),
            issued_at=claim.claimed_at,
            number=claim.number,
        )
        key = invoicing.invoice_key(invoice)
        self._invoices.put_invoice(key, invoice)
        self._billing_table.record_invoice(
            InvoiceRecord(
                invoice_number=invoice.invoice_id,
                fleet_id=invoice.buyer.id,
                seller_id=seller.id,
                session_id=priced.session.session_id,
                issue_date=date.fromisoformat(invoice.issue_date),
                currency=invoice.currency,
                net=invoice.totals.net,
                vat=invoice.totals.vat,
                gross=invoice.totals.gross,
                keys={"json": key},
            )
        )
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
