"""The invoice document: an invoice or a credit note shaped after the EN 16931 semantic model, which
is what Peppol BIS Billing 3.0 (UBL), the PDF and the JSON are all renderings of.

Field comments name the business terms (BT-n) and groups (BG-n) of EN 16931-1, so a rule id in a
validation report leads straight to the field. Amounts follow the norm's rounding: a line's net
amount is rounded to 2 decimals, a VAT category's taxable amount is the exact sum of its lines, its
VAT is the rate times that sum rounded once to 2 decimals, and every total is an exact sum
(`settle`). A document whose breakdown or totals disagree with its lines cannot be constructed.

Laddvakt bills no document-level allowances or charges (fees are lines of their own), so BT-107
and BT-108 are always zero and left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_money(amount: Decimal) -> Decimal:
    """EN 16931 amounts have 2 decimals (BR-DEC-*); halves round away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- value types -----------------------------------------------------------------------------


def _not_float(value: object) -> object:
    # A float has already lost the öre: 0.1 + 0.2 is not 0.3. Decimals or decimal strings only.
    if isinstance(value, float):
        raise ValueError("money, quantities and rates are Decimal or decimal strings, never float")
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _two_decimals(value: Decimal) -> Decimal:
    _finite(value)
    if value != value.quantize(CENT):
        raise ValueError(f"{value} has more than 2 decimals (EN 16931 BR-DEC rules)")
    return value.quantize(CENT)  # one spelling: "142.30", never "142.3"


_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    if _XML_ILLEGAL.search(value):
        raise ValueError("contains a control character XML cannot carry")
    return value


Money = Annotated[Decimal, BeforeValidator(_not_float), AfterValidator(_two_decimals)]
Quantity = Annotated[Decimal, BeforeValidator(_not_float), AfterValidator(_finite)]
Price = Annotated[Decimal, BeforeValidator(_not_float), AfterValidator(_finite), Field(ge=0)]  # BR-27
Percent = Annotated[Decimal, BeforeValidator(_not_float), AfterValidator(_finite), Field(ge=0, le=100)]
# Peppol rejects empty elements (PEPPOL-EN16931-R008), so an optional text is absent, never "".
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_xml_text)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]  # ISO 4217
# UN/ECE Recommendation 20 (with Rec 21) common codes are upper case: "kWh" is not one (BR-CL-23).
UnitCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,3}$")]
# ISO/IEC 6523 ICD and Peppol EAS scheme identifiers are 4 digits.
SchemeId = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
VatId = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}[0-9A-Za-z+*.]{2,12}$")
]  # country prefix + number
PaymentMeansCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{1,3}$")]  # UNCL 4461


class Unit(StrEnum):
    """The UN/ECE Recommendation 20 unit codes Laddvakt bills in (BT-130)."""

    KILOWATT_HOUR = "KWH"
    HOUR = "HUR"
    MINUTE = "MIN"
    ONE = "C62"  # a unit: a session fee, a start fee


class Scheme(StrEnum):
    """Identifier schemes (ICD for BT-29/30, EAS for BT-34/49) Laddvakt's parties use."""

    SWEDISH_ORGANISATION_NUMBER = "0007"  # Organisationsnummer, 10 digits, Luhn check digit
    GLN = "0088"  # GS1 Global Location Number
    SWEDISH_VAT = "9955"  # EAS only: an electronic address that is a Swedish VAT number


class DocumentType(StrEnum):
    """BT-3, UNTDID 1001."""

    INVOICE = "380"  # commercial invoice
    CREDIT_NOTE = "381"


class VatCategory(StrEnum):
    """BT-118/BT-151, UNTDID 5305 as restricted by EN 16931."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    NOT_SUBJECT = "O"


# BR-E-10, BR-AE-10, BR-IC-10, BR-G-10, BR-O-10: these categories must say why no VAT is charged;
# BR-S-10 and BR-Z-10: these must not.
_NEEDS_EXEMPTION = {
    VatCategory.EXEMPT,
    VatCategory.REVERSE_CHARGE,
    VatCategory.INTRA_COMMUNITY,
    VatCategory.EXPORT,
    VatCategory.NOT_SUBJECT,
}
_ZERO_RATE = {
    VatCategory.ZERO_RATED,
    VatCategory.EXEMPT,
    VatCategory.REVERSE_CHARGE,
    VatCategory.INTRA_COMMUNITY,
    VatCategory.EXPORT,
}


def luhn_valid(digits: str) -> bool:
    """The check digit of a Swedish organisation number (and many others)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def swedish_organisation_number(text: str) -> str:
    """The 10 digits Peppol wants ("559999-0008" → "5599990008"), with a valid check digit
    (PEPPOL-COMMON-R049, SE-R-003/004/013)."""
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) != 10 or not luhn_valid(digits):
        raise ValueError(f"{text!r} is not a Swedish organisation number (10 digits, Luhn check digit)")
    return digits


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- parties ---------------------------------------------------------------------------------


def _check_scheme(scheme: str | None, value: str) -> None:
    # Caught here rather than by the receiving access point (PEPPOL-COMMON-R049).
    if scheme == Scheme.SWEDISH_ORGANISATION_NUMBER and value != swedish_organisation_number(value):
        raise ValueError("an organisation number (scheme 0007) is written as 10 digits without a dash")


class Identifier(_Frozen):
    """An identifier with its optional scheme (ICD/EAS code): BT-29, BT-30, BT-46, BT-47 and their -1."""

    value: Text
    scheme: SchemeId | None = None

    @model_validator(mode="after")
    def _swedish_number_checks(self) -> Identifier:
        _check_scheme(self.scheme, self.value)
        return self


class ElectronicAddress(_Frozen):
    """BT-34 / BT-49 with the scheme BT-34-1 / BT-49-1: where Peppol delivers (required by Peppol)."""

    value: Text
    scheme: SchemeId

    @model_validator(mode="after")
    def _swedish_number_checks(self) -> ElectronicAddress:
        _check_scheme(self.scheme, self.value)
        return self


class PostalAddress(_Frozen):
    """BG-5 (seller) / BG-8 (buyer)."""

    street: Text | None = None  # BT-35 / BT-50
    additional_street: Text | None = None  # BT-36 / BT-51
    city: Text | None = None  # BT-37 / BT-52
    postal_code: Text | None = None  # BT-38 / BT-53
    subdivision: Text | None = None  # BT-39 / BT-54
    country: CountryCode  # BT-40 / BT-55 (BR-9, BR-11)


class Contact(_Frozen):
    """BG-6 (seller) / BG-9 (buyer)."""

    name: Text | None = None  # BT-41 / BT-56
    telephone: Text | None = None  # BT-42 / BT-57
    email: Text | None = None  # BT-43 / BT-58

    @model_validator(mode="after")
    def _not_empty(self) -> Contact:
        if not (self.name or self.telephone or self.email):
            raise ValueError("a contact needs a name, telephone or email (an empty one is an empty element)")
        return self


class InvoiceParty(_Frozen):
    """BG-4 Seller or BG-7 Buyer. BT-32 and BT-33 exist for the seller only."""

    name: Text  # BT-27 / BT-44: the registered legal name
    trading_name: Text | None = None  # BT-28 / BT-45
    identifier: Identifier | None = None  # BT-29 / BT-46
    legal_registration: Identifier | None = None  # BT-30 / BT-47, e.g. organisationsnummer (0007)
    vat_id: VatId | None = None  # BT-31 / BT-48
    # BT-32, seller only. Swedish sellers approved for F-tax say so here: "Godkänd för F-skatt" (SE-R-005).
    tax_registration_id: Text | None = None
    additional_legal_info: Text | None = None  # BT-33, seller only: e.g. "Säte: Stockholm"
    electronic_address: ElectronicAddress  # BT-34 / BT-49 (PEPPOL-EN16931-R020 / R010)
    address: PostalAddress  # BG-5 / BG-8 (BR-8 / BR-10)
    contact: Contact | None = None  # BG-6 / BG-9


class PaymentMeans(_Frozen):
    """BG-16 payment instructions with BG-17 credit transfer."""

    code: PaymentMeansCode = "30"  # BT-81, UNCL 4461: 30 is credit transfer
    text: Text | None = None  # BT-82
    remittance_information: Text | None = None  # BT-83: the payment reference (OCR) to quote
    account_id: Text | None = None  # BT-84: IBAN, or the bankgiro/plusgiro number
    account_name: Text | None = None  # BT-85
    service_provider_id: Text | None = None  # BT-86: BIC, or SE:BANKGIRO / SE:PLUSGIRO

    @classmethod
    def bankgiro(
        cls, number: str, reference: str | None = None, account_name: str | None = None
    ) -> PaymentMeans:
        """A Swedish bankgiro payment, the way Peppol wants it (SE-R-008/009/011): code 30, the
        7-8 digit number, and SE:BANKGIRO as the payment service provider."""
        digits = re.sub(r"[\s-]", "", number)
        if not (digits.isdigit() and len(digits) in (7, 8)):
            raise ValueError(f"{number!r} is not a bankgiro number (7 or 8 digits)")
        return cls(
            code="30",
            text="Bankgiro",
            remittance_information=reference,
            account_id=digits,
            account_name=account_name,
            service_provider_id="SE:BANKGIRO",
        )

    @classmethod
    def iban(
        cls, iban: str, bic: str | None = None, reference: str | None = None, account_name: str | None = None
    ) -> PaymentMeans:
        """A credit transfer to a bank account (code 30; SEK is not a SEPA currency, so not 58)."""
        compact = iban.replace(" ", "").upper()
        if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", compact):
            raise ValueError(f"{iban!r} is not an IBAN")
        return cls(
            code="30",
            text="Credit transfer",
            remittance_information=reference,
            account_id=compact,
            account_name=account_name,
            service_provider_id=bic,
        )


# --- lines, VAT and totals -------------------------------------------------------------------


class Period(_Frozen):
    """BG-14 invoicing period (BT-73/BT-74) or BG-26 line period (BT-134/BT-135), as local dates."""

    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start is None and self.end is None:
            raise ValueError("a period needs a start or an end date (BR-CO-19, BR-CO-20)")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("a period cannot end before it starts (BR-29, BR-30)")
        return self


def line_net_amount(quantity: Decimal, net_price: Decimal, base_quantity: Decimal = Decimal(1)) -> Decimal:
    """BT-131 = BT-129 × (BT-146 / BT-149), rounded to 2 decimals (PEPPOL-EN16931-R120)."""
    return round_money(quantity * net_price / base_quantity)


class InvoiceLine(_Frozen):
    """BG-25 invoice line, with BG-29 price details, BG-30 line VAT and BG-31 item information.

    `net_amount` may be left out: it is then computed from quantity and price. When given, it must
    be exactly that, so the receiving side's check (R120) and ours agree.
    """

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._\-]{1,32}$")]  # BT-126
    note: Text | None = None  # BT-127
    name: Text  # BT-153
    description: Text | None = None  # BT-154
    seller_item_id: Text | None = None  # BT-155, e.g. ENERGY, PARKING, SESSION-FEE
    quantity: Quantity  # BT-129
    unit_code: UnitCode  # BT-130
    net_price: Price  # BT-146
    base_quantity: Annotated[Quantity, Field(gt=0)] = Decimal(1)  # BT-149 (PEPPOL-EN16931-R121)
    # BT-131. The default is only a placeholder: `_price_the_line` always fills it in, and a
    # placeholder that slipped through would fail validation rather than bill zero.
    net_amount: Money = Field(default=None, validate_default=True)
    vat_category: VatCategory  # BT-151
    vat_rate: Percent | None  # BT-152: none only for "not subject to VAT" (BR-O-05)
    period: Period | None = None  # BG-26

    @model_validator(mode="before")
    @classmethod
    def _price_the_line(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("net_amount") is not None:
            return data
        raw = (data.get("quantity"), data.get("net_price"), data.get("base_quantity", 1))
        if any(value is None or isinstance(value, float) for value in raw):
            return data  # the field validators say what is missing or wrong
        try:
            quantity, price, base = (Decimal(str(value)) for value in raw)
            return {**data, "net_amount": line_net_amount(quantity, price, base)}
        except ArithmeticError:  # not a number, or a zero base quantity
            return data

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceLine:
        expected = line_net_amount(self.quantity, self.net_price, self.base_quantity)
        if self.net_amount != expected:
            raise ValueError(
                f"line {self.id}: net amount {self.net_amount} is not quantity × price rounded ({expected})"
            )
        _check_rate(self.vat_category, self.vat_rate, f"line {self.id}")
        return self

    @property
    def vat_amount(self) -> Decimal:
        """This line's share of VAT, for showing per line on the PDF only. The VAT owed is per
        category and rate (`VatBreakdown`), computed once on the sum, and can differ by an öre
        from the sum of these."""
        return round_money(self.net_amount * (self.vat_rate or 0) / 100)


def _check_rate(category: VatCategory, rate: Decimal | None, where: str) -> None:
    if category is VatCategory.NOT_SUBJECT:
        if rate is not None:
            raise ValueError(f"{where}: 'not subject to VAT' has no rate (BR-O-05, BR-O-09)")
    elif rate is None:
        raise ValueError(f"{where}: VAT category {category.value} needs a rate")
    elif category is VatCategory.STANDARD and rate <= 0:
        raise ValueError(f"{where}: the standard rate is above zero (BR-S-05)")
    elif category in _ZERO_RATE and rate != 0:
        raise ValueError(f"{where}: VAT category {category.value} has rate 0")


class VatExemption(_Frozen):
    """Why a category carries no VAT: BT-120 text and/or BT-121 code (VATEX list)."""

    reason: Text | None = None  # BT-120, e.g. "Undantag från skatteplikt enligt 3 kap. ML"
    code: Annotated[str, StringConstraints(pattern=r"^VATEX-[A-Z0-9\-]+$")] | None = None  # BT-121

    @model_validator(mode="after")
    def _something(self) -> VatExemption:
        if self.reason is None and self.code is None:
            raise ValueError("an exemption needs a reason text or a reason code")
        return self


class VatBreakdown(_Frozen):
    """BG-23: one per VAT category and rate."""

    category: VatCategory  # BT-118
    rate: Percent | None  # BT-119
    taxable_amount: Money  # BT-116 = Σ BT-131 of the category and rate (BR-S-08 etc.)
    tax_amount: Money  # BT-117 = BT-116 × BT-119 / 100, rounded (BR-CO-17)
    exemption_reason: Text | None = None  # BT-120
    exemption_reason_code: str | None = None  # BT-121


class DocumentTotals(_Frozen):
    """BG-22. Without document-level allowances and charges BT-109 equals BT-106."""

    line_net_total: Money  # BT-106 = Σ BT-131 (BR-CO-10)
    tax_exclusive_total: Money  # BT-109 = BT-106 (BR-CO-13)
    vat_total: Money  # BT-110 = Σ BT-117 (BR-CO-14)
    tax_inclusive_total: Money  # BT-112 = BT-109 + BT-110 (BR-CO-15)
    prepaid: Money = ZERO  # BT-113
    rounding: Money = ZERO  # BT-114
    payable: Money  # BT-115 = BT-112 − BT-113 + BT-114 (BR-CO-16)


class Settlement(_Frozen):
    vat_breakdown: tuple[VatBreakdown, ...]
    totals: DocumentTotals


_CATEGORY_ORDER = {category: position for position, category in enumerate(VatCategory)}


def settle(
    lines: Sequence[InvoiceLine],
    exemptions: Mapping[VatCategory, VatExemption] | None = None,
    *,
    prepaid: Decimal = ZERO,
    rounding: Decimal = ZERO,
) -> Settlement:
    """The VAT breakdown (BG-23) and document totals (BG-22) of these lines, by EN 16931 rounding.

    Each line's net amount is already rounded to 2 decimals; a category's taxable amount is their
    exact sum; its VAT is rate × taxable amount rounded once, never a sum of rounded line VATs; the
    totals are exact sums, so BR-CO-10, BR-CO-13..16 hold to the öre. `exemptions` gives the reason
    for every category that charges no VAT (BR-E-10 and friends).
    """
    exemptions = exemptions or {}
    taxable: dict[tuple[VatCategory, Decimal | None], Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        # Decimal("25") and Decimal("25.0") are one rate: equal values hash alike.
        taxable[(line.vat_category, line.vat_rate)] += line.net_amount
    breakdown: list[VatBreakdown] = []
    # Categories in a fixed order, the highest rate first within one: the same lines always give
    # the same breakdown, which the document's own consistency check relies on.
    ordered = sorted(taxable.items(), key=lambda kv: (_CATEGORY_ORDER[kv[0][0]], -(kv[0][1] or 0)))
    for (category, rate), amount in ordered:
        exemption = exemptions.get(category)
        if category in _NEEDS_EXEMPTION and exemption is None:
            raise ValueError(
                f"VAT category {category.value} needs an exemption reason (BR-{category.value}-10)"
            )
        if category not in _NEEDS_EXEMPTION and exemption is not None:
            raise ValueError(
                f"VAT category {category.value} must not carry an exemption reason (BR-{category.value}-10)"
            )
        breakdown.append(
            VatBreakdown(
                category=category,
                rate=rate,
                taxable_amount=amount,
                tax_amount=round_money(amount * (rate or 0) / 100),
                exemption_reason=exemption.reason if exemption else None,
                exemption_reason_code=exemption.code if exemption else None,
            )
        )
    line_total = sum((line.net_amount for line in lines), ZERO)
    vat_total = sum((b.tax_amount for b in breakdown), ZERO)
    tax_inclusive = line_total + vat_total
    totals = DocumentTotals(
        line_net_total=line_total,
        tax_exclusive_total=line_total,
        vat_total=vat_total,
        tax_inclusive_total=tax_inclusive,
        prepaid=prepaid,
        rounding=rounding,
        payable=tax_inclusive - prepaid + rounding,
    )
    return Settlement(vat_breakdown=tuple(breakdown), totals=totals)


# --- the document ----------------------------------------------------------------------------


class PrecedingInvoice(_Frozen):
    """BG-3: the invoice a credit note corrects."""

    number: Text  # BT-25
    issue_date: date  # BT-26


# Which parties must carry a VAT identifier for which category (BR-S-02, BR-Z-02, BR-E-02,
# BR-AE-02/03, BR-IC-02/03, BR-G-02): the seller's BT-31 (or BT-32), and for reverse charge and
# intra-community supply the buyer's BT-48 too.
_SELLER_VAT_NEEDED = {
    VatCategory.STANDARD,
    VatCategory.ZERO_RATED,
    VatCategory.EXEMPT,
    VatCategory.REVERSE_CHARGE,
    VatCategory.INTRA_COMMUNITY,
    VatCategory.EXPORT,
}
_BUYER_VAT_NEEDED = {VatCategory.REVERSE_CHARGE, VatCategory.INTRA_COMMUNITY}


class InvoiceDocument(_Frozen):
    """An invoice (380) or credit note (381): EN 16931's "Invoice", whatever its type code.

    A credit note carries the same positive quantities and amounts as the invoice it credits; its
    type code is what makes it a credit.
    """

    type_code: DocumentType  # BT-3
    number: Text  # BT-1: gapless per seller
    issue_date: date  # BT-2
    due_date: date | None = None  # BT-9 (in a UBL credit note it travels in the payment means)
    payment_terms: Text | None = None  # BT-20
    currency: CurrencyCode = "SEK"  # BT-5
    note: Text | None = None  # BT-22 (Peppol allows one)
    buyer_reference: Text | None = None  # BT-10: "Er referens", the buyer's routing reference
    order_reference: Text | None = None  # BT-13: purchase order
    accounting_reference: Text | None = None  # BT-19: the buyer's cost centre
    seller: InvoiceParty  # BG-4
    buyer: InvoiceParty  # BG-7
    preceding_invoice: PrecedingInvoice | None = None  # BG-3
    period: Period | None = None  # BG-14: the charging session's dates
    payment_means: PaymentMeans | None = None  # BG-16
    lines: Annotated[tuple[InvoiceLine, ...], Field(min_length=1)]  # BG-25 (BR-16)
    vat_breakdown: Annotated[tuple[VatBreakdown, ...], Field(min_length=1)]  # BG-23 (BR-CO-18)
    totals: DocumentTotals  # BG-22

    @property
    def is_credit_note(self) -> bool:
        return self.type_code is DocumentType.CREDIT_NOTE

    @model_validator(mode="after")
    def _business_rules(self) -> InvoiceDocument:
        problems: list[str] = []
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            problems.append("line ids must be unique")
        if self.buyer_reference is None and self.order_reference is None:
            problems.append(
                "a buyer reference (BT-10) or an order reference (BT-13) is required (PEPPOL-EN16931-R003)"
            )
        if self.due_date is not None and self.due_date < self.issue_date:
            problems.append("the due date is before the issue date")
        if (
            not self.is_credit_note
            and self.totals.payable > 0
            and self.due_date is None
            and self.payment_terms is None
        ):
            problems.append("an amount due needs a due date (BT-9) or payment terms (BT-20) (BR-CO-25)")
        if self.is_credit_note and self.preceding_invoice is None:
            problems.append("a credit note names the invoice it credits (BG-3)")
        if self.is_credit_note and self.due_date is not None and self.payment_means is None:
            problems.append("a credit note's due date is written in its payment means, so it needs one")
        categories = {line.vat_category for line in self.lines}
        if categories & _SELLER_VAT_NEEDED and not (self.seller.vat_id or self.seller.tax_registration_id):
            problems.append(
                "the seller needs a VAT identifier (BT-31) for these VAT categories (BR-S-02 etc.)"
            )
        if categories & _BUYER_VAT_NEEDED and self.buyer.vat_id is None:
            problems.append(
                "reverse charge and intra-community supply need the buyer's VAT identifier (BT-48)"
            )
        if VatCategory.NOT_SUBJECT in categories and (
            len(categories) > 1 or self.seller.vat_id or self.buyer.vat_id
        ):
            problems.append(
                "'not subject to VAT' stands alone and without VAT identifiers (BR-O-02, BR-O-11)"
            )
        exemptions = {
            b.category: VatExemption(reason=b.exemption_reason, code=b.exemption_reason_code)
            for b in self.vat_breakdown
            if b.exemption_reason or b.exemption_reason_code
        }
        try:
            expected = settle(
                self.lines, exemptions, prepaid=self.totals.prepaid, rounding=self.totals.rounding
            )
        except ValueError as exc:
            problems.append(str(exc))
        else:
            if expected.vat_breakdown != self.vat_breakdown:
                problems.append(
                    "the VAT breakdown does not follow from the lines (BR-CO-17, BR-S-08 etc.): use settle()"
                )
            if expected.totals != self.totals:
                problems.append("the totals do not follow from the lines (BR-CO-10..16): use settle()")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def credit_note(self, *, number: str, issue_date: date, note: str | None = None) -> InvoiceDocument:
        """The credit note that credits this invoice in full: same lines and amounts, type 381,
        referring to this invoice's number and date (BG-3). A correction is this credit note and
        then a new invoice."""
        if self.is_credit_note:
            raise ValueError("a credit note is corrected by a new invoice, not credited again")
        data = self.model_dump()
        data.update(
            type_code=DocumentType.CREDIT_NOTE,
            number=number,
            issue_date=issue_date,
            due_date=None,
            payment_terms=None,
            payment_means=None,
            note=note or f"Kreditering av faktura {self.number}",
            preceding_invoice={"number": self.number, "issue_date": self.issue_date},
        )
        return InvoiceDocument.model_validate(data)
