"""The invoice of a priced session, as an EN 16931 document, and where its forms are filed.

Lines come from the pricing function's lines, one per tariff dimension and element: energy and
each service fee (charging time, parking time, the session fee, a minimum or maximum price
adjustment) on lines of their own, each with its VAT. EN 16931 rounding is the model's own
(`shared.models.invoice.settle`): each line to öre, VAT once per category and rate.

Key layout in the invoice bucket: `invoices/{seller_id}/{yyyy}/{mm}/{number}.{json,xml,pdf}`,
where year and month are those of the session's end in the site's time zone (the month finance
books it in), and the number is the seller's next in its gapless series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from shared.domain.errors import NotPriceable
from shared.domain.tariffs import LineKind, TariffLine
from shared.models.billing_documents import SessionFacts
from shared.models.invoice import (
    DocumentType,
    ElectronicAddress,
    Identifier,
    InvoiceDocument,
    InvoiceLine,
    InvoiceParty,
    PaymentMeans,
    Period,
    PostalAddress,
    Unit,
    VatCategory,
    VatExemption,
    settle,
)
from shared.models.registry import Fleet, Operator, Party

INVOICE_PREFIX = "invoices"
CDR_PREFIX = "cdrs"
# A line's quantity keeps this many decimals (hours of a step-rounded time are rarely finite).
_QUANTITY = Decimal("0.000001")
_NO_VAT = VatExemption(reason="Ingen moms enligt taxan / no VAT applies under the tariff")

_NAMES = {
    LineKind.ENERGY: ("Energi", Unit.KILOWATT_HOUR),
    LineKind.TIME: ("Laddtid", Unit.HOUR),
    LineKind.PARKING_TIME: ("Parkeringstid (ansluten, laddar inte)", Unit.HOUR),
    LineKind.FLAT: ("Startavgift", Unit.ONE),
    LineKind.RESERVATION_TIME: ("Reservationstid", Unit.HOUR),
    LineKind.RESERVATION_FLAT: ("Reservationsavgift", Unit.ONE),
    LineKind.MIN_PRICE: ("Tillägg upp till minimipris", Unit.ONE),
    LineKind.MAX_PRICE: ("Avdrag ned till maxpris", Unit.ONE),
}


def invoice_document_key(session_id: str, attempt: int = 0) -> str:
    """What a session's invoice is called in the number series: one invoice per session (and per
    correction of it), so a retried step asks for the same document and gets the same number."""
    return f"invoice:{session_id}" + (f":c{attempt}" if attempt else "")


def credit_document_key(session_id: str, attempt: int) -> str:
    """The credit note of correction `attempt`, which credits the invoice before it."""
    return f"credit:{session_id}:c{attempt}"


def invoice_number(seller: Operator, number: int) -> str:
    return f"{seller.invoice_series}-{number:07d}"


def document_key(seller_id: str, facts: SessionFacts, number: str, form: str) -> str:
    ended = facts.ended_at_local
    return f"{INVOICE_PREFIX}/{seller_id}/{ended:%Y}/{ended:%m}/{number}.{form}"


def cdr_key(seller_id: str, facts: SessionFacts, cdr_id: str) -> str:
    ended = facts.ended_at_local
    return f"{CDR_PREFIX}/{seller_id}/{ended:%Y}/{ended:%m}/{cdr_id}.json"


def build_invoice(
    *,
    number: str,
    issued_at: datetime,
    seller: Operator,
    buyer: Fleet,
    facts: SessionFacts,
    lines: Sequence[TariffLine],
    currency: str,
) -> InvoiceDocument:
    """The session's invoice (380). Refused (NotPriceable, so the session is held with the
    reason) when a party lacks what an e-invoice needs."""
    invoice_lines = [
        _line(str(i), line, facts) for i, line in enumerate(lines, start=1) if line.excl_vat or line.quantity
    ]
    # A free session still gets a document: one energy line at no cost says what happened.
    return _document(
        number=number,
        issue_date=issued_at.astimezone(facts.started_at_local.tzinfo).date(),
        seller=seller,
        buyer=buyer,
        lines=invoice_lines or [_free_line(facts)],
        currency=currency,
        period=Period(start=facts.started_at_local.date(), end=facts.ended_at_local.date()),
    )


def build_statement(
    *,
    number: str,
    issue_date: date,
    seller: Operator,
    buyer: Fleet,
    month: str,
    sessions: int,
    specification: str,
    lines: Sequence[TariffLine],
    currency: str,
) -> InvoiceDocument:
    """A fleet's monthly statement (380): every session of the month on one invoice, its lines
    the sessions' lines summed by what they bill (energy at each price, each fee), with the
    per-session specification named in the note."""
    first = date.fromisoformat(f"{month}-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    invoice_lines = [
        _bare_line(str(i), line).model_copy(update={"description": f"{month}, {sessions} laddsessioner"})
        for i, line in enumerate(lines, start=1)
        if line.excl_vat or line.quantity
    ]
    if not invoice_lines:
        raise NotPriceable(f"{buyer.id} has nothing to bill for {month}")
    return _document(
        number=number,
        issue_date=issue_date,
        seller=seller,
        buyer=buyer,
        lines=invoice_lines,
        currency=currency,
        period=Period(start=first, end=last),
        note=f"Månadsfaktura {month}: {sessions} laddsessioner, specifikation i {specification}",
    )


def _document(
    *,
    number: str,
    issue_date: date,
    seller: Operator,
    buyer: Fleet,
    lines: list[InvoiceLine],
    currency: str,
    period: Period,
    note: str | None = None,
) -> InvoiceDocument:
    exemptions = (
        {VatCategory.EXEMPT: _NO_VAT}
        if any(line.vat_category is VatCategory.EXEMPT for line in lines)
        else None
    )
    settlement = settle(lines, exemptions)
    try:
        return InvoiceDocument(
            type_code=DocumentType.INVOICE,
            number=number,
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=seller.payment_terms_days),
            payment_terms=f"{seller.payment_terms_days} dagar netto",
            currency=currency,
            note=note,
            buyer_reference=buyer.buyer_reference or buyer.id,
            seller=_party(seller, seller=True),
            buyer=_party(buyer, seller=False),
            period=period,
            payment_means=_payment_means(seller, number),
            lines=tuple(lines),
            vat_breakdown=settlement.vat_breakdown,
            totals=settlement.totals,
        )
    except ValueError as exc:
        raise NotPriceable(f"the invoice cannot be made: {exc}") from exc


def statement_document_key(fleet_id: str, month: str) -> str:
    return f"statement:{fleet_id}:{month}"


def statement_key(seller_id: str, month: str, number: str, form: str) -> str:
    year, mm = month.split("-")
    return f"{INVOICE_PREFIX}/{seller_id}/{year}/{mm}/{number}.{form}"


def gross_of(lines: Sequence[TariffLine]) -> Decimal:
    """What the invoice of these lines will total, VAT included, rounded as the invoice rounds:
    the live cost and 2.0.1's totalCost say exactly what finance will bill."""
    facts_free = [
        _bare_line(str(i), line) for i, line in enumerate(lines, start=1) if line.excl_vat or line.quantity
    ]
    if not facts_free:
        return Decimal("0.00")
    exempt = any(line.vat_category is VatCategory.EXEMPT for line in facts_free)
    return settle(facts_free, {VatCategory.EXEMPT: _NO_VAT} if exempt else None).totals.tax_inclusive_total


def _bare_line(line_id: str, line: TariffLine) -> InvoiceLine:
    name, unit = _NAMES[line.kind]
    quantity, price = _quantity_and_price(line)
    category, rate = _vat(line)
    return InvoiceLine(
        id=line_id,
        name=name,
        quantity=quantity,
        unit_code=unit,
        net_price=price,
        vat_category=category,
        vat_rate=rate,
    )


def _quantity_and_price(line: TariffLine) -> tuple[Decimal, Decimal]:
    if line.kind in (LineKind.MIN_PRICE, LineKind.MAX_PRICE):
        # An adjustment is one unit at the difference; a reduction is a negative quantity, as a
        # net price may never be negative (BR-27).
        return (Decimal(1), line.excl_vat) if line.excl_vat >= 0 else (Decimal(-1), -line.excl_vat)
    quantity = line.quantity.quantize(_QUANTITY).normalize() if line.quantity else line.quantity
    return quantity, line.price_per_unit


def _line(line_id: str, line: TariffLine, facts: SessionFacts) -> InvoiceLine:
    bare = _bare_line(line_id, line)
    return bare.model_copy(
        update={
            "description": f"{facts.charge_point_id} uttag {facts.connector_id}, {facts.site_name}",
            "seller_item_id": line.kind.value,
            "period": Period(start=facts.started_at_local.date(), end=facts.ended_at_local.date()),
        }
    )


def _free_line(facts: SessionFacts) -> InvoiceLine:
    return InvoiceLine(
        id="1",
        name=_NAMES[LineKind.ENERGY][0],
        description=f"{facts.charge_point_id} uttag {facts.connector_id}, {facts.site_name}",
        seller_item_id=LineKind.ENERGY.value,
        quantity=facts.energy_kwh,
        unit_code=Unit.KILOWATT_HOUR,
        net_price=Decimal(0),
        vat_category=VatCategory.ZERO_RATED,
        vat_rate=Decimal(0),
    )


def _vat(line: TariffLine) -> tuple[VatCategory, Decimal | None]:
    rate = line.vat_rate
    if line.kind in (LineKind.MIN_PRICE, LineKind.MAX_PRICE) and line.excl_vat:
        # The tariff bounds the total with and without VAT apart; the rate between them is the
        # adjustment's rate.
        rate = ((line.incl_vat - line.excl_vat) / line.excl_vat * 100).quantize(Decimal("0.01")).normalize()
    if rate is None:
        return VatCategory.EXEMPT, Decimal(0)
    if rate == 0:
        return VatCategory.ZERO_RATED, Decimal(0)
    return VatCategory.STANDARD, rate


def _party(party: Party, *, seller: bool) -> InvoiceParty:
    address = party.electronic_address
    if address is None:
        role = "seller" if seller else f"buyer {party.id!r}"
        raise NotPriceable(
            f"the {role} has no Peppol address: set `peppol` (scheme and id) or a Swedish organisation number"
        )
    digits = party.organisation_number.replace("-", "").replace(" ", "")
    operator = party if isinstance(party, Operator) else None
    return InvoiceParty(
        name=party.name,
        legal_registration=Identifier(value=digits, scheme="0007")
        if party.address.country == "SE" and digits
        else None,
        vat_id=party.vat_number or None,
        tax_registration_id="Godkänd för F-skatt" if operator is not None and operator.f_skatt else None,
        additional_legal_info=f"Säte: {operator.registered_seat}"
        if operator is not None and operator.registered_seat
        else None,
        electronic_address=ElectronicAddress(value=address.value, scheme=address.scheme),
        address=PostalAddress(
            street=party.address.street or None,
            city=party.address.city or None,
            postal_code=party.address.postal_code or None,
            country=party.address.country,
        ),
    )


def _payment_means(seller: Operator, number: str) -> PaymentMeans | None:
    if seller.bankgiro:
        return PaymentMeans.bankgiro(seller.bankgiro, reference=number, account_name=seller.name)
    if seller.iban:
        return PaymentMeans.iban(
            seller.iban, bic=seller.bic or None, reference=number, account_name=seller.name
        )
    return None
