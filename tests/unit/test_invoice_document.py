"""EN 16931 rounding and the invoice document's own rules: what an invoice must add up to before any
XML is written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.models.invoice import (
    DocumentType,
    ElectronicAddress,
    Identifier,
    InvoiceDocument,
    InvoiceLine,
    PaymentMeans,
    Unit,
    VatCategory,
    VatExemption,
    line_net_amount,
    luhn_valid,
    settle,
    swedish_organisation_number,
)
from tests.invoice_documents import EXEMPT, credit_note, invoice_with, swedish_invoice, two_rate_invoice

pytestmark = pytest.mark.unit


def line(
    id: str,
    quantity: str,
    price: str,
    category: VatCategory = VatCategory.STANDARD,
    rate: str | None = "25",
    unit: str = Unit.KILOWATT_HOUR,
) -> InvoiceLine:
    return InvoiceLine(
        id=id,
        name=f"line {id}",
        quantity=Decimal(quantity),
        unit_code=unit,
        net_price=Decimal(price),
        vat_category=category,
        vat_rate=None if rate is None else Decimal(rate),
    )


# --- lines ----------------------------------------------------------------------------------


def test_a_line_net_amount_is_quantity_times_price_rounded_to_ore() -> None:
    assert line("1", "41.234", "3.45").net_amount == Decimal("142.26")  # 142.2573
    assert str(line("1", "1", "5").net_amount) == "5.00"


def test_half_an_ore_rounds_up_not_to_even() -> None:
    assert line_net_amount(Decimal("2.5"), Decimal("0.01")) == Decimal("0.03")
    assert line_net_amount(Decimal("1"), Decimal("0.125")) == Decimal("0.13")
    assert line_net_amount(Decimal("-1"), Decimal("0.125")) == Decimal("-0.13")


def test_a_price_per_base_quantity_divides_before_rounding() -> None:
    # 345 kronor per 100 kWh is 3.45 per kWh (BT-149, the price base quantity).
    per_hundred = InvoiceLine(
        id="1",
        name="Energi",
        quantity=Decimal("41.234"),
        unit_code=Unit.KILOWATT_HOUR,
        net_price=Decimal("345"),
        base_quantity=Decimal(100),
        vat_category=VatCategory.STANDARD,
        vat_rate=Decimal(25),
    )
    assert per_hundred.net_amount == Decimal("142.26")


def test_a_given_net_amount_must_be_the_rounded_product() -> None:
    with pytest.raises(ValidationError, match=r"not quantity × price rounded \(142.26\)"):
        InvoiceLine(
            id="1",
            name="Energi",
            quantity=Decimal("41.234"),
            unit_code=Unit.KILOWATT_HOUR,
            net_price=Decimal("3.45"),
            net_amount=Decimal("142.25"),
            vat_category=VatCategory.STANDARD,
            vat_rate=Decimal(25),
        )


def test_money_is_never_a_float() -> None:
    with pytest.raises(ValidationError, match="never float"):
        InvoiceLine(
            id="1",
            name="Energi",
            quantity=41.234,  # a float on purpose: money and quantities must refuse it
            unit_code=Unit.KILOWATT_HOUR,
            net_price=Decimal("3.45"),
            vat_category=VatCategory.STANDARD,
            vat_rate=Decimal(25),
        )


@pytest.mark.parametrize(
    ("category", "rate", "message"),
    [
        (VatCategory.STANDARD, "0", "above zero"),
        (VatCategory.EXEMPT, "25", "has rate 0"),
        (VatCategory.ZERO_RATED, None, "needs a rate"),
        (VatCategory.NOT_SUBJECT, "0", "has no rate"),
    ],
)
def test_a_lines_rate_fits_its_vat_category(category: VatCategory, rate: str | None, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        line("1", "1", "1", category, rate)


def test_kwh_in_lower_case_is_not_a_unit_code() -> None:
    with pytest.raises(ValidationError, match="unit_code"):
        line("1", "1", "1", unit="kWh")


def test_a_price_is_never_negative_a_credit_line_has_a_negative_quantity() -> None:
    with pytest.raises(ValidationError, match="net_price"):
        line("1", "1", "-3.45")
    assert line("1", "-2", "3.45").net_amount == Decimal("-6.90")


# --- VAT breakdown and totals -----------------------------------------------------------------


def test_vat_is_rounded_once_per_category_not_per_line() -> None:
    # Three lines of 0.10 at 25 %: per line 0.025 would round to 0.03 each, 0.09 in all;
    # EN 16931 rounds the category's 0.075 once, to 0.08.
    lines = [line(str(i), "1", "0.10") for i in range(1, 4)]
    [standard] = settle(lines).vat_breakdown
    assert standard.taxable_amount == Decimal("0.30")
    assert standard.tax_amount == Decimal("0.08")
    assert sum(item.vat_amount for item in lines) == Decimal("0.09")  # the per-line display only


def test_one_breakdown_per_category_and_rate() -> None:
    lines = [
        line("1", "10", "1.00", rate="25"),
        line("2", "10", "1.00", rate="25.00"),  # the same rate, spelt otherwise
        line("3", "10", "1.00", rate="12"),
        line("4", "10", "1.00", rate="6"),
        line("5", "3", "1.00", VatCategory.EXEMPT, "0"),
        line("6", "4", "1.00", VatCategory.ZERO_RATED, "0"),
    ]
    breakdown = settle(lines, {VatCategory.EXEMPT: EXEMPT}).vat_breakdown
    assert [(b.category.value, b.rate, b.taxable_amount, b.tax_amount) for b in breakdown] == [
        ("S", Decimal(25), Decimal("20.00"), Decimal("5.00")),
        ("S", Decimal(12), Decimal("10.00"), Decimal("1.20")),
        ("S", Decimal(6), Decimal("10.00"), Decimal("0.60")),
        ("Z", Decimal(0), Decimal("4.00"), Decimal("0.00")),
        ("E", Decimal(0), Decimal("3.00"), Decimal("0.00")),
    ]
    exempt = breakdown[-1]
    assert (exempt.exemption_reason, exempt.exemption_reason_code) == (EXEMPT.reason, EXEMPT.code)


def test_an_exempt_category_must_say_why_and_a_zero_rated_one_must_not() -> None:
    with pytest.raises(ValueError, match="BR-E-10"):
        settle([line("1", "1", "1", VatCategory.EXEMPT, "0")])
    with pytest.raises(ValueError, match="BR-Z-10"):
        settle([line("1", "1", "1", VatCategory.ZERO_RATED, "0")], {VatCategory.ZERO_RATED: EXEMPT})


def test_totals_follow_br_co_10_to_16() -> None:
    lines = [
        line("1", "41.234", "3.45"),
        line("2", "1.25", "24"),
        line("3", "1", "50", VatCategory.EXEMPT, "0"),
    ]
    settlement = settle(
        lines, {VatCategory.EXEMPT: EXEMPT}, prepaid=Decimal("100.00"), rounding=Decimal("0.43")
    )
    totals = settlement.totals
    assert totals.line_net_total == Decimal("222.26") == sum(item.net_amount for item in lines)  # BR-CO-10
    assert totals.tax_exclusive_total == totals.line_net_total  # BR-CO-13, no allowances or charges
    assert (
        totals.vat_total == Decimal("43.07") == sum(b.tax_amount for b in settlement.vat_breakdown)
    )  # BR-CO-14
    assert totals.tax_inclusive_total == Decimal("265.33")  # BR-CO-15
    assert totals.payable == Decimal("165.76")  # BR-CO-16: 265.33 − 100.00 + 0.43


def test_the_swedish_session_invoice_adds_up() -> None:
    invoice = swedish_invoice()
    assert [item.net_amount for item in invoice.lines] == [
        Decimal("142.26"),
        Decimal("30.00"),
        Decimal("4.90"),
    ]
    assert invoice.totals.line_net_total == Decimal("177.16")
    assert invoice.totals.vat_total == Decimal("44.29")
    assert invoice.totals.payable == Decimal("221.45")


# --- the document -------------------------------------------------------------------------------


def test_a_document_whose_totals_do_not_follow_from_its_lines_cannot_be_made() -> None:
    invoice = swedish_invoice()
    data = invoice.model_dump()
    data["totals"]["vat_total"] = Decimal("44.30")
    data["totals"]["tax_inclusive_total"] = Decimal("221.46")
    data["totals"]["payable"] = Decimal("221.46")
    with pytest.raises(ValidationError, match=r"BR-CO-10\.\.16"):
        InvoiceDocument.model_validate(data)


def test_a_breakdown_that_does_not_follow_from_the_lines_cannot_be_made() -> None:
    data = swedish_invoice().model_dump()
    data["vat_breakdown"][0]["tax_amount"] = Decimal("44.30")
    with pytest.raises(ValidationError, match="VAT breakdown does not follow"):
        InvoiceDocument.model_validate(data)


def test_peppol_needs_a_buyer_reference_or_an_order_reference() -> None:
    data = swedish_invoice().model_dump() | {"buyer_reference": None}
    with pytest.raises(ValidationError, match="PEPPOL-EN16931-R003"):
        InvoiceDocument.model_validate(data)
    assert InvoiceDocument.model_validate(data | {"order_reference": "PO-7"}).order_reference == "PO-7"


def test_an_amount_due_needs_a_due_date_or_payment_terms() -> None:
    data = swedish_invoice().model_dump() | {"due_date": None, "payment_terms": None}
    with pytest.raises(ValidationError, match="BR-CO-25"):
        InvoiceDocument.model_validate(data)


def test_standard_rated_lines_need_the_sellers_vat_identifier() -> None:
    data = swedish_invoice().model_dump()
    data["seller"] |= {"vat_id": None, "tax_registration_id": None}
    with pytest.raises(ValidationError, match="BR-S-02"):
        InvoiceDocument.model_validate(data)


def test_the_credit_note_mirrors_the_invoice_and_names_it() -> None:
    invoice, credit = swedish_invoice(), credit_note()
    assert credit.type_code is DocumentType.CREDIT_NOTE
    assert credit.preceding_invoice is not None
    assert (credit.preceding_invoice.number, credit.preceding_invoice.issue_date) == (
        invoice.number,
        invoice.issue_date,
    )
    assert credit.lines == invoice.lines
    assert credit.totals == invoice.totals  # positive: the type code makes it a credit
    assert credit.due_date is None and credit.payment_means is None
    assert credit.note == f"Kreditering av faktura {invoice.number}"


def test_a_credit_note_is_not_credited_again() -> None:
    with pytest.raises(ValueError, match="not credited again"):
        credit_note().credit_note(number="X", issue_date=date(2025, 3, 13))


def test_a_credit_note_must_name_its_invoice() -> None:
    data = credit_note().model_dump() | {"preceding_invoice": None}
    with pytest.raises(ValidationError, match="BG-3"):
        InvoiceDocument.model_validate(data)


def test_the_json_form_keeps_every_amount_exact_as_a_string() -> None:
    document = two_rate_invoice()
    text = document.model_dump_json()
    assert '"payable":"' in text and '"net_amount":"142.26"' in text
    assert InvoiceDocument.model_validate_json(text) == document


def test_an_invoice_with_a_negative_correction_line_still_adds_up() -> None:
    lines = (line("1", "10", "3.45"), line("2", "-2", "3.45"))
    invoice = invoice_with(lines)
    assert invoice.totals.line_net_total == Decimal("27.60")
    assert invoice.totals.vat_total == Decimal("6.90")


# --- Swedish identifiers ----------------------------------------------------------------------


def test_swedish_organisation_numbers_are_ten_digits_with_a_luhn_check_digit() -> None:
    assert swedish_organisation_number("559999-0008") == "5599990008"
    assert luhn_valid("5560001116")
    with pytest.raises(ValueError, match="not a Swedish organisation number"):
        swedish_organisation_number("559999-0001")  # examples/registry.json's operator


def test_an_organisation_number_identifier_is_written_without_its_dash() -> None:
    with pytest.raises(ValidationError, match="without a dash"):
        Identifier(value="559999-0008", scheme="0007")
    with pytest.raises(ValidationError, match="not a Swedish organisation number"):
        ElectronicAddress(value="5599990001", scheme="0007")


def test_bankgiro_payments_are_written_the_peppol_way() -> None:
    means = PaymentMeans.bankgiro("5050-1055", reference="4200000425")
    assert (means.code, means.account_id, means.service_provider_id) == ("30", "50501055", "SE:BANKGIRO")
    with pytest.raises(ValueError, match="not a bankgiro number"):
        PaymentMeans.bankgiro("123")
    assert (
        PaymentMeans.iban("SE45 5000 0000 0583 9825 7466", bic="ESSESESS").account_id
        == "SE4550000000058398257466"
    )


def test_an_exemption_needs_a_reason_or_a_code() -> None:
    with pytest.raises(ValidationError, match="reason text or a reason code"):
        VatExemption()
