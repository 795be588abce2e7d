"""Every invoice and credit note Laddvakt writes passes the official EN 16931 and Peppol BIS Billing
3.0 Schematron rules (release 3.0.19, in ../shared/peppol-bis3) with no fatal rule, the check a
receiving Peppol access point makes.

The validator is trusted only because it is tested here too: the official examples pass it, and
copies of them broken in one known way fail with exactly the rules that break names, no more.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from laddvakt.peppol import OFFICIAL_EXAMPLES, PeppolValidator, main
from shared.domain.ubl import CUSTOMIZATION_ID, NS_CBC, NS_CREDIT_NOTE, NS_INVOICE, PROFILE_ID, to_ubl
from shared.models.invoice import InvoiceDocument
from tests.invoice_documents import credit_note, rules_dir, swedish_invoice, two_rate_invoice

pytestmark = pytest.mark.contract


def official(name: str) -> str:
    return (rules_dir() / name).read_text(encoding="utf-8")


def replace_once(text: str, old: str, new: str) -> str:
    """A broken copy breaks in exactly one place, or the test is wrong, not the document."""
    assert text.count(old) == 1, f"expected exactly one {old!r} to edit"
    return text.replace(old, new)


def remove_once(text: str, pattern: str) -> str:
    edited, count = re.subn(pattern, "", text)
    assert count == 1, f"expected exactly one match of {pattern!r} to remove"
    return edited


def fatal_ids(validator: PeppolValidator, document: str | bytes) -> set[str]:
    return validator.validate(document).rule_ids(fatal_only=True)


# --- the validator against the official material ----------------------------------------------


@pytest.mark.parametrize("example", OFFICIAL_EXAMPLES)
def test_the_official_examples_pass_both_rule_sets(peppol_validator: PeppolValidator, example: str) -> None:
    # Given an example OpenPEPPOL publishes as valid
    # When both rule sets check it
    report = peppol_validator.validate(official(example))
    # Then no fatal rule fails
    assert report.fatal == (), [str(f) for f in report.fatal]


SELLER_VAT = (
    r"<cac:PartyTaxScheme>\s*<cbc:CompanyID>GB1232434</cbc:CompanyID>\s*"
    r"<cac:TaxScheme>\s*<cbc:ID>VAT</cbc:ID>\s*</cac:TaxScheme>\s*</cac:PartyTaxScheme>"
)

BROKEN_COPIES: list[tuple[str, str, Callable[[str], str], set[str]]] = [
    (
        "base-example.xml",
        "amount due is not total with VAT",
        lambda x: replace_once(
            x, '<cbc:PayableAmount currencyID="EUR">1656.25', '<cbc:PayableAmount currencyID="EUR">1656.26'
        ),
        {"BR-CO-16"},
    ),
    (
        "base-example.xml",
        "total with VAT is not total without VAT plus VAT",
        lambda x: replace_once(
            x,
            '<cbc:TaxInclusiveAmount currencyID="EUR">1656.25',
            '<cbc:TaxInclusiveAmount currencyID="EUR">1666.25',
        ),
        {"BR-CO-15", "BR-CO-16"},
    ),
    (
        "base-example.xml",
        "no buyer reference and no order reference",
        lambda x: replace_once(x, "<cbc:BuyerReference>0150abc</cbc:BuyerReference>", ""),
        {"PEPPOL-EN16931-R003"},
    ),
    (
        "base-example.xml",
        "VAT breakdown's taxable amount does not match the lines",
        lambda x: replace_once(
            x,
            '<cbc:TaxableAmount currencyID="EUR">1325</cbc:TaxableAmount>\n            <cbc:TaxAmount currencyID="EUR">331.25',
            '<cbc:TaxableAmount currencyID="EUR">1300</cbc:TaxableAmount>\n            <cbc:TaxAmount currencyID="EUR">325',
        ),
        {"BR-S-08", "BR-CO-14"},
    ),
    (
        "base-example.xml",
        "VAT of a category is not its rate times its taxable amount",
        lambda x: replace_once(
            x,
            '<cbc:TaxableAmount currencyID="EUR">1325</cbc:TaxableAmount>',
            '<cbc:TaxableAmount currencyID="EUR">1300</cbc:TaxableAmount>',
        ),
        {"BR-S-08", "BR-S-09", "BR-CO-17"},
    ),
    (
        "base-example.xml",
        "a line amount changed: sum of lines and line arithmetic",
        lambda x: replace_once(
            x,
            '<cbc:LineExtensionAmount currencyID= "EUR">2800<',
            '<cbc:LineExtensionAmount currencyID= "EUR">2810<',
        ),
        {"BR-CO-10", "BR-S-08", "PEPPOL-EN16931-R120"},
    ),
    (
        "base-example.xml",
        "unit code not in UN/ECE rec 20 (kWh is not KWH)",
        lambda x: x.replace('unitCode="DAY"', 'unitCode="kWh"'),
        {"BR-CL-23"},
    ),
    (
        "base-example.xml",
        "no seller VAT identifier with standard-rated lines",
        lambda x: remove_once(x, SELLER_VAT),
        {"BR-S-02", "BR-S-04"},
    ),
    (
        "base-example.xml",
        "no seller electronic address",
        lambda x: replace_once(x, '<cbc:EndpointID schemeID="0088">9482348239847239874</cbc:EndpointID>', ""),
        {"PEPPOL-EN16931-R020"},
    ),
    (
        "base-example.xml",
        "GLN with a wrong check digit",
        lambda x: replace_once(x, ">9482348239847239874<", ">9482348239847239875<"),
        {"PEPPOL-COMMON-R040"},
    ),
    (
        "base-example.xml",
        "an empty element",
        lambda x: replace_once(
            x, "<cbc:AccountingCost>4025:123:4343</cbc:AccountingCost>", "<cbc:AccountingCost/>"
        ),
        {"PEPPOL-EN16931-R008"},
    ),
    (
        "base-example.xml",
        "amount due with neither due date nor payment terms",
        lambda x: remove_once(
            replace_once(x, "<cbc:DueDate>2017-12-01</cbc:DueDate>", ""),
            r"(?s)<cac:PaymentTerms>.*?</cac:PaymentTerms>",
        ),
        {"BR-CO-25"},
    ),
    (
        "base-example.xml",
        "not the Peppol BIS 3 specification identifier",
        lambda x: replace_once(x, "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0<", "<"),
        {"PEPPOL-EN16931-R004"},
    ),
    (
        "base-creditnote-correction.xml",
        "preceding invoice reference without its number",
        lambda x: replace_once(
            x,
            "<cac:InvoiceDocumentReference>\n            <cbc:ID>Snippet1</cbc:ID>",
            "<cac:InvoiceDocumentReference>\n            <cbc:IssueDate>2017-11-01</cbc:IssueDate>",
        ),
        {"BR-55", "UBL-SR-07"},
    ),
    (
        "base-creditnote-correction.xml",
        "a credit note typed as an invoice",
        lambda x: replace_once(x, "<cbc:CreditNoteTypeCode>381<", "<cbc:CreditNoteTypeCode>380<"),
        {"BR-CL-01", "PEPPOL-EN16931-P0101"},
    ),
    (
        "base-creditnote-correction.xml",
        "credit note amount due is not its total",
        lambda x: replace_once(
            x, '<cbc:PayableAmount currencyID="EUR">1656.25', '<cbc:PayableAmount currencyID="EUR">1600'
        ),
        {"BR-CO-16"},
    ),
    (
        "Vat-category-S.xml",
        "total VAT is not the sum of the categories' VAT",
        lambda x: replace_once(
            x, '<cbc:TaxAmount currencyID="EUR">1550.00<', '<cbc:TaxAmount currencyID="EUR">1500.00<'
        ),
        {"BR-CO-14", "BR-CO-15"},
    ),
    (
        "Vat-category-S.xml",
        "a second rate's VAT rounded wrong by more than the tolerance",
        lambda x: replace_once(
            x, '<cbc:TaxAmount currencyID="EUR">300<', '<cbc:TaxAmount currencyID="EUR">310<'
        ),
        {"BR-CO-14", "BR-CO-17", "BR-S-09"},
    ),
    (
        "Vat-category-S.xml",
        "an unknown VAT category code",
        lambda x: replace_once(
            x,
            "<cbc:ID>S</cbc:ID>\n                <cbc:Percent>15<",
            "<cbc:ID>Q</cbc:ID>\n                <cbc:Percent>15<",
        ),
        {"BR-CL-17"},
    ),
]


@pytest.mark.parametrize(
    ("example", "breakage", "edit", "expected"),
    BROKEN_COPIES,
    ids=[f"{example}: {breakage}" for example, breakage, _, _ in BROKEN_COPIES],
)
def test_a_broken_copy_of_an_official_example_fails_with_exactly_the_rules_it_breaks(
    peppol_validator: PeppolValidator,
    example: str,
    breakage: str,
    edit: Callable[[str], str],
    expected: set[str],
) -> None:
    # Given an official example broken in one known way
    broken = edit(official(example))
    # When both rule sets check it
    # Then exactly the rules about that breakage fail, as fatal
    assert fatal_ids(peppol_validator, broken) == expected


def test_a_failure_names_rule_flag_location_and_text(peppol_validator: PeppolValidator) -> None:
    broken = replace_once(
        official("base-example.xml"),
        '<cbc:PayableAmount currencyID="EUR">1656.25',
        '<cbc:PayableAmount currencyID="EUR">1',
    )
    [failure] = peppol_validator.validate(broken).fatal
    assert failure.rule_id == "BR-CO-16"
    assert failure.flag == "fatal"
    assert failure.location == "/Invoice[1]/cac:LegalMonetaryTotal[1]"
    assert failure.text.startswith("[BR-CO-16]-Amount due for payment (BT-115)")
    assert failure.rule_set == "CEN-EN16931-UBL.sch"


# --- Laddvakt's own documents ---------------------------------------------------------------

OWN_DOCUMENTS: dict[str, Callable[[], InvoiceDocument]] = {
    "Swedish invoice: energy KWH, parking HUR, session fee C62 at 25 %": swedish_invoice,
    "credit note crediting it in full": credit_note,
    "invoice with 25 % and 0 % (exempt with reason, zero rated)": two_rate_invoice,
}


@pytest.mark.parametrize("make", OWN_DOCUMENTS.values(), ids=OWN_DOCUMENTS.keys())
def test_laddvakts_documents_pass_both_rule_sets_without_even_a_warning(
    peppol_validator: PeppolValidator, make: Callable[[], InvoiceDocument]
) -> None:
    # Given a document as Laddvakt writes it
    xml = to_ubl(make())
    # When both rule sets check it
    report = peppol_validator.validate(xml)
    # Then nothing fails, fatal or warning
    assert report.failures == (), [str(f) for f in report.failures]


def test_the_credit_note_is_a_ubl_credit_note_referring_to_the_invoice() -> None:
    invoice, credit = swedish_invoice(), credit_note()
    root = ET.fromstring(to_ubl(credit))
    assert root.tag == f"{{{NS_CREDIT_NOTE}}}CreditNote"
    cbc, cac = f"{{{NS_CBC}}}", "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
    assert root.findtext(f"{cbc}CreditNoteTypeCode") == "381"
    reference = root.find(f"{cac}BillingReference/{cac}InvoiceDocumentReference")
    assert reference is not None
    assert reference.findtext(f"{cbc}ID") == invoice.number
    assert reference.findtext(f"{cbc}IssueDate") == invoice.issue_date.isoformat()
    lines = root.findall(f"{cac}CreditNoteLine")
    assert [line.findtext(f"{cbc}CreditedQuantity") for line in lines] == ["41.234", "1.25", "1"]
    assert root.find(f"{cac}InvoiceLine") is None
    assert root.findtext(f"{cac}LegalMonetaryTotal/{cbc}PayableAmount") == str(invoice.totals.payable)


def test_every_amount_carries_the_document_currency() -> None:
    root = ET.fromstring(to_ubl(two_rate_invoice()))
    amounts = [e for e in root.iter() if e.tag.endswith("Amount") and e.tag.startswith(f"{{{NS_CBC}}}")]
    assert len(amounts) > 10
    assert {e.get("currencyID") for e in amounts} == {"SEK"}


def test_identification_of_the_specification_and_process() -> None:
    root = ET.fromstring(to_ubl(swedish_invoice()))
    assert root.tag == f"{{{NS_INVOICE}}}Invoice"
    assert root.findtext(f"{{{NS_CBC}}}CustomizationID") == CUSTOMIZATION_ID
    assert root.findtext(f"{{{NS_CBC}}}ProfileID") == PROFILE_ID


def _precedence(documents: list[ET.Element]) -> set[tuple[str, str, str]]:
    """(parent, earlier child, later child) for every ordered pair of children in these documents."""
    pairs: set[tuple[str, str, str]] = set()
    for document in documents:
        for parent in document.iter():
            tags = [child.tag for child in parent]
            pairs |= {(parent.tag, a, b) for i, a in enumerate(tags) for b in tags[i + 1 :] if a != b}
    return pairs


@pytest.mark.parametrize("make", OWN_DOCUMENTS.values(), ids=OWN_DOCUMENTS.keys())
def test_elements_come_in_the_order_of_the_official_examples(make: Callable[[], InvoiceDocument]) -> None:
    # The UBL schema fixes element order and the Schematron does not check it; the official
    # examples are schema-valid, so no two elements may appear in the opposite order to theirs.
    document = make()
    names = (
        ["base-creditnote-correction.xml"]
        if document.is_credit_note
        else ["base-example.xml", "Vat-category-S.xml"]
    )
    reference = _precedence([ET.fromstring(official(name).encode()) for name in names])
    ours = _precedence([ET.fromstring(to_ubl(document))])
    reversed_pairs = {(p, a, b) for p, a, b in ours if (p, b, a) in reference and (p, a, b) not in reference}
    assert reversed_pairs == set()


# --- what the rules demand of Laddvakt's data ---------------------------------------------------


def test_an_organisation_number_with_a_wrong_check_digit_fails_the_swedish_rules(
    peppol_validator: PeppolValidator,
) -> None:
    # Given an organisation number whose Luhn check digit is wrong (559999-0001, as the example
    # registry once had), written where the seller's 0007 identifiers go
    xml = to_ubl(swedish_invoice()).decode().replace("5599990008", "5599990001")
    # Then Peppol's Swedish rules reject it
    assert fatal_ids(peppol_validator, xml) == {"SE-R-013", "PEPPOL-COMMON-R049"}


def test_a_misspelt_unit_or_wrong_line_amount_in_our_own_invoice_is_caught(
    peppol_validator: PeppolValidator,
) -> None:
    xml = to_ubl(swedish_invoice()).decode()
    assert fatal_ids(peppol_validator, xml.replace('unitCode="KWH"', 'unitCode="kWh"')) == {"BR-CL-23"}
    wrong_line = replace_once(xml, 'currencyID="SEK">142.26<', 'currencyID="SEK">142.36<')
    # BR-S-08 tolerates a category's taxable amount being off by less than 1, so ten öre is
    # caught by the sum of lines and the line's own arithmetic.
    assert fatal_ids(peppol_validator, wrong_line) == {"BR-CO-10", "PEPPOL-EN16931-R120"}


def test_a_warning_is_reported_but_does_not_fail_the_document(peppol_validator: PeppolValidator) -> None:
    # A bankgiro number must have 7 or 8 digits: Peppol only warns (SE-R-009).
    xml = replace_once(
        to_ubl(swedish_invoice()).decode(), "<cbc:ID>50501055</cbc:ID>", "<cbc:ID>505010</cbc:ID>"
    )
    report = peppol_validator.validate(xml)
    assert report.passed
    assert [(f.rule_id, f.flag) for f in report.failures] == [("SE-R-009", "warning")]


# --- the command ---------------------------------------------------------------------------------


def test_the_command_exits_1_on_a_fatal_failure_and_0_otherwise(
    peppol_validator: PeppolValidator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(to_ubl(swedish_invoice()))
    bad.write_text(
        replace_once(official("base-example.xml"), "<cbc:BuyerReference>0150abc</cbc:BuyerReference>", "")
    )
    assert main([str(good)]) == 0
    assert main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: FAIL (1 fatal" in out
    assert "PEPPOL-EN16931-R003" in out


def test_the_command_says_where_the_rules_are_expected_when_they_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--rules", str(tmp_path), str(tmp_path / "x.xml")]) == 2
    assert "CEN-EN16931-UBL.sch" in capsys.readouterr().err
