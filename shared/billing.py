"""The four steps of the close-and-invoice workflow. Each is safe to repeat: Step Functions retries
a step after a timeout, and a repeat must give the same result, never a second bill.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.adapters.billing_table import BillingTable
from shared.adapters.billing_workflow import StatementWorkflow
from shared.adapters.invoice_bucket import InvoiceBucket
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain import energy as energy_model
from shared.domain import invoicing, rating, statements
from shared.domain.errors import NotPriceable
from shared.domain.invoice_pdf import render_pdf, render_statement_pdf
from shared.domain.tariff_choice import tariff_of
from shared.domain.tariffs import TariffLine
from shared.domain.ubl import to_ubl
from shared.models.billing_documents import (
    InvoiceFile,
    SessionFacts,
    StatementFacts,
    StatementFile,
    invoice_file_json,
)
from shared.models.invoices_index import DocumentKind, InvoiceRecord
from shared.models.ocpi import Cdr, OcpiInputError, json_text, parse_cdr, to_json
from shared.models.registry import Operator
from shared.models.sessions import (
    ClosedSession,
    CloseRequest,
    InvoiceRef,
    PricedSession,
    SessionInvoiced,
    SessionStatus,
    StatementDay,
    StatementDaySum,
    StatementRequest,
)
from shared.settings import BillingSettings, StatementSettings


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
        ended_at = session.ended_at
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
        return rating.closed_from(session, readings, energy, ended_at, held_reason)

    def price(self, closed: ClosedSession) -> PricedSession:
        """Rate the session with the tariff version in force at its start, and seal its CDR."""
        session = self._sessions.get(closed.session_id)
        site = self._registry.site(closed.site_id)
        try:
            tariff = tariff_of(self._registry, closed)
            rated = rating.rate(
                closed, session.samples, tariff, site, self._registry.operator(), last_updated=closed.ended_at
            )
        except (NotPriceable, OcpiInputError) as exc:
            # Never invoiced blindly: held with the reason, for an operator to decide.
            self._sessions.mark_held(closed.session_id, f"cannot be priced: {exc}", [])
            raise NotPriceable(f"session {closed.session_id} cannot be priced: {exc}") from exc
        zone = ZoneInfo(site.time_zone)
        totals = rated.totals
        facts = SessionFacts(
            session_id=closed.session_id,
            transaction_id=closed.transaction_id,
            charge_point_id=closed.charge_point_id,
            connector_id=closed.connector_id,
            fleet_id=closed.fleet_id,
            site_id=site.id,
            site_name=site.name,
            site_address=site.address,
            time_zone=site.time_zone,
            started_at=closed.started_at,
            ended_at=closed.ended_at,
            started_at_local=closed.started_at.astimezone(zone),
            ended_at_local=closed.ended_at.astimezone(zone),
            energy_kwh=energy_model.kwh(closed.energy_wh),
            charging_hours=_hours(totals.total_time - totals.total_parking_time),
            parking_hours=_hours(totals.total_parking_time),
            id_tag=closed.id_tag,
            driver_id=closed.driver_id,
            vehicle_id=closed.vehicle_id,
            tariff_id=tariff.id,
            tariff_version=tariff.last_updated,
            unit_prices=rating.unit_prices(tariff, closed.started_at, site.time_zone),
        )
        return PricedSession(session=closed, facts=facts, cdr_json=to_json(rated.cdr))

    def write_invoice(self, priced: PricedSession) -> InvoiceRef:
        """Number the invoice, then write its forms and the sealed CDR to the write-once bucket."""
        seller = self._registry.operator()
        buyer = self._registry.fleet(priced.session.fleet_id)
        cdr = parse_cdr(priced.cdr_json)
        lines = rating.lines_of(cdr, priced.facts.time_zone)
        if buyer.invoicing == "monthly" and priced.session.attempt == 0:
            return self._put_on_statement(priced, cdr, lines, seller)
        if priced.session.credit_invoice_key is not None:
            self._credit(priced.session, seller)
        # The claim fixes the number and the issue time, so a retried step writes the same document.
        claim = self._billing_table.claim(
            seller.id, invoicing.invoice_document_key(priced.session.session_id, priced.session.attempt)
        )
        number = invoicing.invoice_number(seller, claim.number)
        try:
            document = invoicing.build_invoice(
                number=number,
                issued_at=claim.claimed_at,
                seller=seller,
                buyer=buyer,
                facts=priced.facts,
                lines=lines,
                currency=cdr.currency,
            )
        except NotPriceable as exc:
            self._sessions.mark_held(priced.session.session_id, str(exc), [])
            raise
        keys = self._write_document(
            seller.id, InvoiceFile(document=document, session=priced.facts, cdr=cdr), "invoice"
        )
        return InvoiceRef(
            session_id=priced.session.session_id,
            invoice_id=number,
            bucket=self._invoices.name,
            key=keys["json"],
            keys=keys,
            gross=document.totals.tax_inclusive_total,
            currency=document.currency,
        )

    def _put_on_statement(
        self, priced: PricedSession, cdr: Cdr, lines: Sequence[TariffLine], seller: Operator
    ) -> InvoiceRef:
        """A monthly fleet's session: its CDR sealed now, its lines kept for the month's statement."""
        facts = priced.facts
        cdr_id = rating.cdr_id(facts.session_id)
        cdr_key = invoicing.cdr_key(seller.id, facts, cdr_id)
        self._invoices.put(cdr_key, priced.cdr_json.encode(), {"session-id": facts.session_id})
        month = f"{facts.ended_at_local:%Y-%m}"
        self._billing_table.record_statement_entry(
            facts.fleet_id,
            month,
            facts.ended_at_local.day,
            {
                "session_id": facts.session_id,
                "charge_point_id": facts.charge_point_id,
                "connector_id": facts.connector_id,
                "site_id": facts.site_id,
                "started_local": facts.started_at_local.isoformat(),
                "ended_local": facts.ended_at_local.isoformat(),
                "energy_kwh": str(facts.energy_kwh),
                "vehicle_id": facts.vehicle_id,
                "driver_id": facts.driver_id,
                "cdr_id": cdr_id,
                "currency": cdr.currency,
                "amount_excl_vat": str(sum((line.excl_vat for line in lines), Decimal(0))),
                "amount_incl_vat": str(invoicing.gross_of(lines)),
                "lines": statements.line_record(lines),
            },
        )
        return InvoiceRef(
            session_id=facts.session_id,
            invoice_id="",
            bucket=self._invoices.name,
            key=cdr_key,
            keys={"cdr": cdr_key},
            gross=invoicing.gross_of(lines),
            currency=cdr.currency,
            statement_month=month,
        )

    def sum_statement_day(self, day: StatementDay) -> StatementDaySum:
        """One day of a fleet's month: its sessions' lines summed and kept (repeating it is harmless,
        so a redriven workflow resumes where it stopped)."""
        entries = self._billing_table.statement_entries(day.fleet_id, day.month, day.day)
        part = {
            "sessions": len(entries),
            "energy_kwh": str(sum((Decimal(e["energy_kwh"]) for e in entries), Decimal(0))),
            "currencies": sorted({e["currency"] for e in entries}),
            "lines": statements.summed(e["lines"] for e in entries),
        }
        self._billing_table.put_statement_part(day.fleet_id, day.month, day.day, part)
        return StatementDaySum(day=day.day, sessions=len(entries))

    def write_statement(self, request: StatementRequest) -> InvoiceRef:
        """The month's statement from the day sums: one invoice, its specification, all forms."""
        seller = self._registry.operator()
        buyer = self._registry.fleet(request.fleet_id)
        parts = self._billing_table.statement_parts(request.fleet_id, request.month)
        sessions = sum(int(p["sessions"]) for p in parts)
        currencies = {c for p in parts for c in p["currencies"]}
        if sessions == 0:
            raise NotPriceable(f"{request.fleet_id} has no sessions to bill for {request.month}")
        if len(currencies) != 1:
            raise NotPriceable(f"{request.fleet_id}'s {request.month} sessions are in {sorted(currencies)}")
        claim = self._billing_table.claim(
            seller.id, invoicing.statement_document_key(request.fleet_id, request.month)
        )
        number = invoicing.invoice_number(seller, claim.number)
        specification = invoicing.statement_key(seller.id, request.month, number, "csv").rsplit("/", 1)[-1]
        document = invoicing.build_statement(
            number=number,
            issue_date=claim.claimed_at.date(),
            seller=seller,
            buyer=buyer,
            month=request.month,
            sessions=sessions,
            specification=specification,
            lines=statements.tariff_lines(statements.summed(p["lines"] for p in parts)),
            currency=currencies.pop(),
        )
        facts = StatementFacts(
            fleet_id=request.fleet_id,
            month=request.month,
            sessions=sessions,
            energy_kwh=sum((Decimal(p["energy_kwh"]) for p in parts), Decimal(0)),
            specification_key=invoicing.statement_key(seller.id, request.month, number, "csv"),
        )
        entries = self._billing_table.statement_entries(request.fleet_id, request.month)
        forms = {
            "json": (
                json_text(StatementFile(document=document, statement=facts).model_dump(mode="json")) + "\n"
            ).encode(),
            "xml": to_ubl(document),
            "pdf": render_statement_pdf(document, facts),
            "csv": statements.specification_csv(entries).encode(),
        }
        keys = {form: invoicing.statement_key(seller.id, request.month, number, form) for form in forms}
        metadata = {"invoice-number": number, "statement": f"{request.fleet_id}/{request.month}"}
        for form, body in forms.items():
            self._invoices.put(keys[form], body, metadata)
        statement_id = invoicing.statement_document_key(request.fleet_id, request.month)
        self._billing_table.record_invoice(
            InvoiceRecord(
                invoice_number=number,
                fleet_id=request.fleet_id,
                seller_id=seller.id,
                session_id=statement_id,
                issue_date=document.issue_date,
                currency=document.currency,
                net=document.totals.tax_exclusive_total,
                vat=document.totals.vat_total,
                gross=document.totals.tax_inclusive_total,
                keys=keys,
            )
        )
        return InvoiceRef(
            session_id=statement_id,
            invoice_id=number,
            bucket=self._invoices.name,
            key=keys["json"],
            keys=keys,
            gross=document.totals.tax_inclusive_total,
            currency=document.currency,
        )

    def _credit(self, closed: ClosedSession, seller: Operator) -> None:
        """Credit the invoice a correction replaces, in full: a credit note that names it, and a
        credit CDR that names the original CDR. Both are sealed like any document; a retried step
        writes the same ones again."""
        if closed.credit_invoice_key is None:
            return
        original = self._invoices.get_invoice(closed.credit_invoice_key)
        claim = self._billing_table.claim(
            seller.id, invoicing.credit_document_key(closed.session_id, closed.attempt)
        )
        number = invoicing.invoice_number(seller, claim.number)
        note = f"Kreditering av faktura {original.document.number}"
        if closed.correction_reason:
            note += f": {closed.correction_reason}"
        credit_note = original.document.credit_note(
            number=number,
            issue_date=claim.claimed_at.astimezone(original.session.started_at_local.tzinfo).date(),
            note=note[:300],
        )
        credit_cdr = rating.credit_cdr(original.cdr, closed.attempt)
        self._write_document(
            seller.id,
            InvoiceFile(document=credit_note, session=original.session, cdr=credit_cdr),
            "credit_note",
        )

    def _write_document(self, seller_id: str, file: InvoiceFile, kind: DocumentKind) -> dict[str, str]:
        """Seal a document's CDR and its three forms in the bucket, and list it for finance."""
        document, facts = file.document, file.session
        forms = {"json": invoice_file_json(file), "xml": to_ubl(document), "pdf": render_pdf(document, facts)}
        keys = {form: invoicing.document_key(seller_id, facts, document.number, form) for form in forms}
        metadata = {"invoice-number": document.number, "session-id": facts.session_id}
        cdr_id = str((file.cdr.model_extra or {}).get("id", rating.cdr_id(facts.session_id)))
        self._invoices.put(invoicing.cdr_key(seller_id, facts, cdr_id), to_json(file.cdr).encode(), metadata)
        for form, body in forms.items():
            self._invoices.put(keys[form], body, metadata)
        self._billing_table.record_invoice(
            InvoiceRecord(
                invoice_number=document.number,
                kind=kind,
                fleet_id=facts.fleet_id,
                seller_id=seller_id,
                session_id=facts.session_id,
                issue_date=document.issue_date,
                currency=document.currency,
                net=document.totals.tax_exclusive_total,
                vat=document.totals.vat_total,
                gross=document.totals.tax_inclusive_total,
                keys=keys,
            )
        )
        return keys

    def mark_invoiced(self, ref: InvoiceRef) -> SessionInvoiced:
        session = self._sessions.mark_invoiced(ref.session_id, ref.key, ref.statement_month)
        return SessionInvoiced(
            session_id=session.session_id, invoice_id=ref.invoice_id, key=ref.key, status=session.status
        )


def start_statements(settings: StatementSettings, event_time: str) -> dict[str, Any]:
    """Start last month's statement for every fleet billed monthly (a repeated start of a month
    is the same execution, so a retried schedule never bills twice)."""
    registry = RegistryTable(settings.registry_table)
    month = statements.month_before(
        datetime.fromisoformat(event_time.replace("Z", "+00:00")), settings.statement_time_zone
    )
    fleets = [f for f in registry.fleet_ids() if registry.fleet(f).invoicing == "monthly"]
    workflow = StatementWorkflow(settings.statement_state_machine_arn)
    for fleet_id in fleets:
        workflow.start(fleet_id, month)
    return {"month": month, "fleets": fleets}


def _hours(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))
