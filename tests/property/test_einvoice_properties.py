"""Properties of e-invoices that must hold for any lines, not just the sessions we thought of: the
EN 16931 totals identities, and that the UBL passes the official Peppol rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laddvakt.peppol import PeppolValidator
from shared.domain.ubl import to_ubl
from shared.models.invoice import InvoiceLine, Unit, VatCategory, VatExemption, settle
from tests.invoice_documents import EXEMPT, invoice_with, peppol_validator

pytestmark = pytest.mark.property

# Swedish rates only: the seller is Swedish, and Peppol allows it 25, 12 and 6 % standard rates.
VAT = st.sampled_from(
    [
        (VatCategory.STANDARD, Decimal(25)),
        (VatCategory.STANDARD, Decimal(12)),
        (VatCategory.STANDARD, Decimal(6)),
        (VatCategory.ZERO_RATED, Decimal(0)),
        (VatCategory.EXEMPT, Decimal(0)),
    ]
)


@st.composite
def invoice_lines(draw: st.DrawFn) -> tuple[InvoiceLine, ...]:
    count = draw(st.integers(min_value=1, max_value=8))
    lines = []
    for number in range(1, count + 1):
        category, rate = draw(VAT)
        lines.append(
            InvoiceLine(
                id=str(number),
                name=draw(st.sampled_from(["Energi", "Parkering", "Sessionsavgift", "Tomgångsavgift"])),
                quantity=draw(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(2000), places=3)),
                unit_code=draw(st.sampled_from(list(Unit))),
                net_price=draw(st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=4)),
                vat_category=category,
                vat_rate=rate,
            )
        )
    return tuple(lines)


def _exemptions(lines: tuple[InvoiceLine, ...]) -> dict[VatCategory, VatExemption]:
    return (
        {VatCategory.EXEMPT: EXEMPT} if any(line.vat_category is VatCategory.EXEMPT for line in lines) else {}
    )


@given(invoice_lines())
def test_the_totals_identities_hold_for_any_lines(lines: tuple[InvoiceLine, ...]) -> None:
    settlement = settle(lines, _exemptions(lines))
    totals, breakdown = settlement.totals, settlement.vat_breakdown
    by_category: dict[tuple[VatCategory, Decimal | None], Decimal] = defaultdict(Decimal)
    for line in lines:
        assert line.net_amount == (line.quantity * line.net_price).quantize(Decimal("0.01"), ROUND_HALF_UP)
        by_category[(line.vat_category, line.vat_rate)] += line.net_amount
    # BR-CO-10: the sum of line net amounts, exactly
    assert totals.line_net_total == sum(line.net_amount for line in lines)
    # BR-S-08, BR-Z-08, BR-E-08: each category's taxable amount is the exact sum of its lines
    assert {(b.category, b.rate): b.taxable_amount for b in breakdown} == by_category
    # BR-CO-17: each category's VAT is its rate times its taxable amount, rounded once
    for b in breakdown:
        assert b.tax_amount == (b.taxable_amount * (b.rate or 0) / 100).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
    # BR-CO-13..16
    assert totals.tax_exclusive_total == totals.line_net_total
    assert totals.vat_total == sum(b.tax_amount for b in breakdown)
    assert totals.tax_inclusive_total == totals.tax_exclusive_total + totals.vat_total
    assert totals.payable == totals.tax_inclusive_total
    # Rounding once per category is never further than half an öre per line from per-line VAT.
    per_line = sum(line.vat_amount for line in lines)
    assert abs(per_line - totals.vat_total) <= Decimal("0.005") * len(lines) + Decimal("0.005") * len(
        breakdown
    )


@pytest.fixture(scope="module")
def validator() -> PeppolValidator:
    return peppol_validator()


@settings(max_examples=10, deadline=None)
@given(lines=invoice_lines(), days_to_credit=st.integers(min_value=0, max_value=60))
def test_any_invoice_and_its_credit_note_pass_the_peppol_rules(
    validator: PeppolValidator, lines: tuple[InvoiceLine, ...], days_to_credit: int
) -> None:
    invoice = invoice_with(lines, _exemptions(lines))
    credit = invoice.credit_note(
        number="LV-2025-000100", issue_date=date.fromordinal(invoice.issue_date.toordinal() + days_to_credit)
    )
    for document in (invoice, credit):
        report = validator.validate(to_ubl(document))
        assert report.failures == (), [str(f) for f in report.failures]
