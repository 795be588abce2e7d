"""Writes an invoice document as UBL 2.1 XML conforming to Peppol BIS Billing 3.0: an `Invoice` for
type 380, a `CreditNote` for 381.

UBL's schemas fix the order of child elements, so every element is appended in its schema
sequence (the comments name it where the two document types differ). Optional fields that are
absent are left out rather than written empty: Peppol rejects empty elements (R008). Only the
standard library is used, so the Lambdas need no XML dependency.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

from shared.models.invoice import (
    DocumentTotals,
    Identifier,
    InvoiceDocument,
    InvoiceLine,
    InvoiceParty,
    PaymentMeans,
    Period,
    VatBreakdown,
    VatCategory,
)

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def to_ubl(document: InvoiceDocument) -> bytes:
    """The UBL XML (UTF-8, with declaration) of an invoice or credit note."""
    root = _UblWriter(document).build()
    ET.indent(root, space="  ")
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode() + b"\n"
    )


def _text(value: Decimal) -> str:
    # Never scientific notation: "1E+2" is not an xs:decimal.
    return format(value, "f")


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


class _UblWriter:
    """Tags are written with their conventional prefixes (cac:, cbc:) declared once on the root,
    which keeps the output readable and free of generated ns0: prefixes."""

    def __init__(self, document: InvoiceDocument) -> None:
        self.doc = document
        self.credit = document.is_credit_note
        self.currency = document.currency

    def build(self) -> ET.Element:
        doc = self.doc
        root = ET.Element(
            "CreditNote" if self.credit else "Invoice",
            {
                "xmlns": NS_CREDIT_NOTE if self.credit else NS_INVOICE,
                "xmlns:cac": NS_CAC,
                "xmlns:cbc": NS_CBC,
            },
        )
        cbc = self._cbc
        cbc(root, "CustomizationID", CUSTOMIZATION_ID)  # BT-24
        cbc(root, "ProfileID", PROFILE_ID)  # BT-23
        cbc(root, "ID", doc.number)  # BT-1
        cbc(root, "IssueDate", doc.issue_date)  # BT-2
        if self.credit:
            cbc(root, "CreditNoteTypeCode", doc.type_code.value)  # BT-3
        else:
            cbc(root, "DueDate", doc.due_date)  # BT-9 (before the type code in an Invoice)
            cbc(root, "InvoiceTypeCode", doc.type_code.value)  # BT-3
        cbc(root, "Note", doc.note)  # BT-22
        cbc(root, "DocumentCurrencyCode", doc.currency)  # BT-5
        cbc(root, "AccountingCost", doc.accounting_reference)  # BT-19
        cbc(root, "BuyerReference", doc.buyer_reference)  # BT-10
        if doc.period is not None:
            self._period(root, doc.period)  # BG-14
        if doc.order_reference is not None:
            order = ET.SubElement(root, "cac:OrderReference")
            cbc(order, "ID", doc.order_reference)  # BT-13
        if doc.preceding_invoice is not None:  # BG-3
            billing = ET.SubElement(root, "cac:BillingReference")
            reference = ET.SubElement(billing, "cac:InvoiceDocumentReference")
            cbc(reference, "ID", doc.preceding_invoice.number)  # BT-25
            cbc(reference, "IssueDate", doc.preceding_invoice.issue_date)  # BT-26
        self._party(ET.SubElement(root, "cac:AccountingSupplierParty"), doc.seller, seller=True)  # BG-4
        self._party(ET.SubElement(root, "cac:AccountingCustomerParty"), doc.buyer, seller=False)  # BG-7
        if doc.payment_means is not None:
            self._payment_means(root, doc.payment_means)  # BG-16
        if doc.payment_terms is not None:
            terms = ET.SubElement(root, "cac:PaymentTerms")
            cbc(terms, "Note", doc.payment_terms)  # BT-20
        self._tax_total(root, doc.vat_breakdown, doc.totals)  # BG-23
        self._monetary_total(root, doc.totals)  # BG-22
        for line in doc.lines:
            self._line(root, line)  # BG-25
        return root

    # --- building blocks ---------------------------------------------------------------------

    @staticmethod
    def _cbc(parent: ET.Element, tag: str, value: str | date | None, /, **attrs: str) -> None:
        if value is None:
            return
        element = ET.SubElement(parent, f"cbc:{tag}", attrs)
        element.text = value.isoformat() if isinstance(value, date) else value

    def _amount(self, parent: ET.Element, tag: str, value: Decimal) -> None:
        self._cbc(parent, tag, _text(value), currencyID=self.currency)

    def _period(self, parent: ET.Element, period: Period) -> None:
        element = ET.SubElement(parent, "cac:InvoicePeriod")
        self._cbc(element, "StartDate", period.start)
        self._cbc(element, "EndDate", period.end)

    def _identifier(self, parent: ET.Element, name: str, identifier: Identifier) -> None:
        attrs = {"schemeID": identifier.scheme} if identifier.scheme else {}
        self._cbc(parent, name, identifier.value, **attrs)

    def _party(self, parent: ET.Element, party: InvoiceParty, *, seller: bool) -> None:
        cbc = self._cbc
        element = ET.SubElement(parent, "cac:Party")
        cbc(element, "EndpointID", party.electronic_address.value, schemeID=party.electronic_address.scheme)
        if party.identifier is not None:  # BT-29 / BT-46
            self._identifier(ET.SubElement(element, "cac:PartyIdentification"), "ID", party.identifier)
        if party.trading_name is not None:  # BT-28 / BT-45
            cbc(ET.SubElement(element, "cac:PartyName"), "Name", party.trading_name)
        address = ET.SubElement(element, "cac:PostalAddress")
        cbc(address, "StreetName", party.address.street)
        cbc(address, "AdditionalStreetName", party.address.additional_street)
        cbc(address, "CityName", party.address.city)
        cbc(address, "PostalZone", party.address.postal_code)
        cbc(address, "CountrySubentity", party.address.subdivision)
        cbc(ET.SubElement(address, "cac:Country"), "IdentificationCode", party.address.country)
        if party.vat_id is not None:  # BT-31 / BT-48
            self._tax_scheme(element, party.vat_id, "VAT")
        if seller and party.tax_registration_id is not None:  # BT-32: any scheme but VAT
            self._tax_scheme(element, party.tax_registration_id, "TAX")
        legal = ET.SubElement(element, "cac:PartyLegalEntity")
        cbc(legal, "RegistrationName", party.name)  # BT-27 / BT-44
        if party.legal_registration is not None:  # BT-30 / BT-47
            self._identifier(legal, "CompanyID", party.legal_registration)
        if seller:
            cbc(legal, "CompanyLegalForm", party.additional_legal_info)  # BT-33
        if party.contact is not None:  # BG-6 / BG-9
            contact = ET.SubElement(element, "cac:Contact")
            cbc(contact, "Name", party.contact.name)
            cbc(contact, "Telephone", party.contact.telephone)
            cbc(contact, "ElectronicMail", party.contact.email)

    def _tax_scheme(self, party: ET.Element, company_id: str, scheme: str) -> None:
        element = ET.SubElement(party, "cac:PartyTaxScheme")
        self._cbc(element, "CompanyID", company_id)
        self._cbc(ET.SubElement(element, "cac:TaxScheme"), "ID", scheme)

    def _payment_means(self, parent: ET.Element, means: PaymentMeans) -> None:
        cbc = self._cbc
        element = ET.SubElement(parent, "cac:PaymentMeans")
        attrs = {"name": means.text} if means.text else {}
        cbc(element, "PaymentMeansCode", means.code, **attrs)  # BT-81, BT-82
        if self.credit:
            cbc(element, "PaymentDueDate", self.doc.due_date)  # BT-9 of a CreditNote lives here
        cbc(element, "PaymentID", means.remittance_information)  # BT-83
        if means.account_id is not None:  # BG-17
            account = ET.SubElement(element, "cac:PayeeFinancialAccount")
            cbc(account, "ID", means.account_id)  # BT-84
            cbc(account, "Name", means.account_name)  # BT-85
            if means.service_provider_id is not None:  # BT-86
                branch = ET.SubElement(account, "cac:FinancialInstitutionBranch")
                cbc(branch, "ID", means.service_provider_id)

    def _tax_category(
        self, parent: ET.Element, tag: str, category: VatCategory, rate: Decimal | None
    ) -> ET.Element:
        element = ET.SubElement(parent, tag)
        self._cbc(element, "ID", category.value)
        if rate is not None:
            self._cbc(element, "Percent", _percent(rate))
        return element

    def _tax_total(
        self, parent: ET.Element, breakdown: tuple[VatBreakdown, ...], totals: DocumentTotals
    ) -> None:
        element = ET.SubElement(parent, "cac:TaxTotal")
        self._amount(element, "TaxAmount", totals.vat_total)  # BT-110
        for subtotal in breakdown:
            sub = ET.SubElement(element, "cac:TaxSubtotal")
            self._amount(sub, "TaxableAmount", subtotal.taxable_amount)  # BT-116
            self._amount(sub, "TaxAmount", subtotal.tax_amount)  # BT-117
            # BT-118, BT-119
            category = self._tax_category(sub, "cac:TaxCategory", subtotal.category, subtotal.rate)
            self._cbc(category, "TaxExemptionReasonCode", subtotal.exemption_reason_code)  # BT-121
            self._cbc(category, "TaxExemptionReason", subtotal.exemption_reason)  # BT-120
            self._cbc(ET.SubElement(category, "cac:TaxScheme"), "ID", "VAT")

    def _monetary_total(self, parent: ET.Element, totals: DocumentTotals) -> None:
        element = ET.SubElement(parent, "cac:LegalMonetaryTotal")
        self._amount(element, "LineExtensionAmount", totals.line_net_total)  # BT-106
        self._amount(element, "TaxExclusiveAmount", totals.tax_exclusive_total)  # BT-109
        self._amount(element, "TaxInclusiveAmount", totals.tax_inclusive_total)  # BT-112
        if totals.prepaid:
            self._amount(element, "PrepaidAmount", totals.prepaid)  # BT-113
        if totals.rounding:
            self._amount(element, "PayableRoundingAmount", totals.rounding)  # BT-114
        self._amount(element, "PayableAmount", totals.payable)  # BT-115

    def _line(self, parent: ET.Element, line: InvoiceLine) -> None:
        cbc = self._cbc
        element = ET.SubElement(parent, "cac:CreditNoteLine" if self.credit else "cac:InvoiceLine")
        cbc(element, "ID", line.id)  # BT-126
        cbc(element, "Note", line.note)  # BT-127
        quantity = "CreditedQuantity" if self.credit else "InvoicedQuantity"
        cbc(element, quantity, _text(line.quantity), unitCode=line.unit_code)  # BT-129, BT-130
        self._amount(element, "LineExtensionAmount", line.net_amount)  # BT-131
        if line.period is not None:
            self._period(element, line.period)  # BG-26
        item = ET.SubElement(element, "cac:Item")
        cbc(item, "Description", line.description)  # BT-154
        cbc(item, "Name", line.name)  # BT-153
        if line.seller_item_id is not None:
            cbc(ET.SubElement(item, "cac:SellersItemIdentification"), "ID", line.seller_item_id)  # BT-155
        # BG-30: BT-151, BT-152
        category = self._tax_category(item, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate)
        cbc(ET.SubElement(category, "cac:TaxScheme"), "ID", "VAT")
        price = ET.SubElement(element, "cac:Price")
        self._amount(price, "PriceAmount", line.net_price)  # BT-146
        if line.base_quantity != 1:
            cbc(price, "BaseQuantity", _text(line.base_quantity), unitCode=line.unit_code)  # BT-149, BT-150
