"""Invoice documents as Laddvakt writes them for a Swedish charge point operator and a fleet, shared
by the contract, unit and property tests of e-invoices.

The seller's organisation number is 559999-0008, not the 559999-0001 of examples/registry.json:
that one fails the Luhn check Peppol applies to Swedish organisation numbers (SE-R-013,
PEPPOL-COMMON-R049), which `test_peppol_validation` shows.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from laddvakt.peppol import (
    DEFAULT_RULES_DIR,
    OFFICIAL_EXAMPLES,
    RULE_FILES,
    PeppolValidator,
    shared_validator,
)
from shared.models.invoice import (
    Contact,
    DocumentType,
    ElectronicAddress,
    Identifier,
    InvoiceDocument,
    InvoiceLine,
    InvoiceParty,
    PaymentMeans,
    Period,
    PostalAddress,
    Scheme,
    Unit,
    VatCategory,
    VatExemption,
    settle,
)

SESSION_DAY = date(2025, 3, 4)


def rules_dir() -> Path:
    """../shared/peppol-bis3, or a failed test that says where the rule files should be.

    Never a skip: a missing rule set must not turn the e-invoice contract green."""
    missing = [name for name in (*RULE_FILES, *OFFICIAL_EXAMPLES) if not (DEFAULT_RULES_DIR / name).is_file()]
    if missing:
        pytest.fail(
            f"Peppol BIS 3 rules or examples missing from {DEFAULT_RULES_DIR}: {', '.join(missing)}. "
            "They are the shared artefacts from OpenPEPPOL/peppol-bis-invoice-3 (release 3.0.19), "
            "expected in ../shared/peppol-bis3 beside the repository.",
            pytrace=False,
        )
    return DEFAULT_RULES_DIR


def peppol_validator() -> PeppolValidator:
    """The process's one validator (compiling the rules once per test session)."""
    rules_dir()
    return shared_validator()


def operator() -> InvoiceParty:
    return InvoiceParty(
        name="Laddvakt Laddnät AB",
        vat_id="SE559999000101",
        tax_registration_id="Godkänd för F-skatt",
        additional_legal_info="Säte: Stockholm",
        legal_registration=Identifier(value="5599990008", scheme=Scheme.SWEDISH_ORGANISATION_NUMBER),
        electronic_address=ElectronicAddress(value="5599990008", scheme=Scheme.SWEDISH_ORGANISATION_NUMBER),
        address=PostalAddress(street="Sveavägen 1", postal_code="111 57", city="Stockholm", country="SE"),
        contact=Contact(name="Kundtjänst", email="faktura@laddvakt.example"),
    )


def fleet() -> InvoiceParty:
    return InvoiceParty(
        name="Nordvind Logistik AB",
        vat_id="SE556000111601",
        legal_registration=Identifier(value="5560001116", scheme=Scheme.SWEDISH_ORGANISATION_NUMBER),
        electronic_address=ElectronicAddress(value="5560001116", scheme=Scheme.SWEDISH_ORGANISATION_NUMBER),
        address=PostalAddress(street="Hamnvägen 4", postal_code="115 41", city="Stockholm", country="SE"),
        contact=Contact(email="ekonomi@nordvind.example"),
    )


def session_lines(vat_rate: Decimal = Decimal(25)) -> tuple[InvoiceLine, ...]:
    """One charging session: its energy, the time the car stood on after charging, a session fee."""
    common = {"vat_category": VatCategory.STANDARD, "vat_rate": vat_rate}
    return (
        InvoiceLine(
            id="1",
            name="Energi",
            description="Laddning LV-UPPSALA-07:42, Nordvind hubb Uppsala",
            seller_item_id="ENERGY",
            quantity=Decimal("41.234"),
            unit_code=Unit.KILOWATT_HOUR,
            net_price=Decimal("3.45"),
            **common,
        ),
        InvoiceLine(
            id="2",
            name="Parkeringstid efter laddning",
            seller_item_id="PARKING",
            quantity=Decimal("1.25"),
            unit_code=Unit.HOUR,
            net_price=Decimal("24.00"),
            **common,
        ),
        InvoiceLine(
            id="3",
            name="Sessionsavgift",
            seller_item_id="SESSION-FEE",
            quantity=Decimal(1),
            unit_code=Unit.ONE,
            net_price=Decimal("4.90"),
            **common,
        ),
    )


def invoice_with(
    lines: tuple[InvoiceLine, ...],
    exemptions: dict[VatCategory, VatExemption] | None = None,
    number: str = "LV-2025-000042",
) -> InvoiceDocument:
    settlement = settle(lines, exemptions)
    return InvoiceDocument(
        type_code=DocumentType.INVOICE,
        number=number,
        issue_date=date(2025, 3, 5),
        due_date=date(2025, 4, 4),
        payment_terms="30 dagar netto",
        note="Laddsession LV-UPPSALA-07:42 den 4 mars 2025, 07:42–09:10",
        buyer_reference="NV-FLEET-UPPSALA",
        seller=operator(),
        buyer=fleet(),
        period=Period(start=SESSION_DAY, end=SESSION_DAY),
        payment_means=PaymentMeans.bankgiro("5050-1055", reference="4200000425"),
        lines=lines,
        vat_breakdown=settlement.vat_breakdown,
        totals=settlement.totals,
    )


@functools.cache
def swedish_invoice() -> InvoiceDocument:
    return invoice_with(session_lines())


@functools.cache
def credit_note() -> InvoiceDocument:
    return swedish_invoice().credit_note(number="LV-2025-000043", issue_date=date(2025, 3, 12))


EXEMPT = VatExemption(reason="Undantag från skatteplikt, 3 kap. mervärdesskattelagen", code="VATEX-EU-132")


@functools.cache
def two_rate_invoice() -> InvoiceDocument:
    """Energy at 25 % and a fee passed on without VAT (a parking fee collected for a landlord
    exempt from VAT): two VAT categories, one with its exemption reason."""
    lines = (
        *session_lines()[:1],
        InvoiceLine(
            id="2",
            name="Parkeringsavgift (vidarefakturerad)",
            quantity=Decimal("95"),
            unit_code=Unit.MINUTE,
            net_price=Decimal("0.4167"),
            vat_category=VatCategory.EXEMPT,
            vat_rate=Decimal(0),
        ),
        InvoiceLine(
            id="3",
            name="Laddkort, ersättningskort",
            quantity=Decimal(1),
            unit_code=Unit.ONE,
            net_price=Decimal("50.00"),
            vat_category=VatCategory.ZERO_RATED,
            vat_rate=Decimal(0),
        ),
    )
    return invoice_with(lines, {VatCategory.EXEMPT: EXEMPT}, number="LV-2025-000044")
