"""The PDF of an invoice or credit note, read back the way finance reads it: the text a PDF reader
extracts (pypdf), not the drawing instructions. What must be on it: the number and dates, both
parties, the charging session in local time with its zone, energy, the tariff's prices per unit,
every line, VAT per rate and the amount to pay in Swedish notation; and the same document must
always give the same bytes, because the invoice bucket is write-once."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from shared.domain.invoice_pdf import (
    format_amount,
    format_duration,
    format_local_span,
    format_number,
    render_pdf,
)
from shared.models.billing_documents import SessionFacts, UnitPrice
from shared.models.invoice import InvoiceDocument, InvoiceLine, PaymentMeans, Unit, VatCategory
from shared.models.registry import Address
from tests.invoice_documents import credit_note, invoice_with, swedish_invoice, two_rate_invoice

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def uppsala_session(**changes: object) -> SessionFacts:
    """The session the example invoices bill: 07:42–09:10 Swedish winter time (UTC+1), 13 minutes
    charging and 75 parked, priced with the site's AC tariff."""
    facts: dict[str, object] = {
        "session_id": "LV-UPPSALA-07:42",
        "transaction_id": "42",
        "charge_point_id": "LV-UPPSALA-07",
        "connector_id": 2,
        "fleet_id": "nordvind",
        "site_id": "uppsala",
        "site_name": "Nordvind hubb Uppsala",
        "site_address": Address(street="Kungsgatan 57", postal_code="753 21", city="Uppsala"),
        "time_zone": "Europe/Stockholm",
        "started_at": datetime(2025, 3, 4, 6, 42, tzinfo=UTC),
        "ended_at": datetime(2025, 3, 4, 8, 10, tzinfo=UTC),
        "started_at_local": datetime(2025, 3, 4, 7, 42, tzinfo=STOCKHOLM),
        "ended_at_local": datetime(2025, 3, 4, 9, 10, tzinfo=STOCKHOLM),
        "energy_kwh": Decimal("41.234"),
        "charging_hours": Decimal("0.2167"),
        "parking_hours": Decimal("1.25"),
        "id_tag": "NV-CARD-0007",
        "vehicle_id": "NV-EV-12",
        "tariff_id": "SE-UPPSALA-AC",
        "tariff_version": datetime(2025, 2, 1, tzinfo=UTC),
        "unit_prices": [
            UnitPrice(
                dimension="ENERGY",
                unit="kWh",
                excl_vat=Decimal("3.45"),
                incl_vat=Decimal("4.3125"),
                vat_rate_percent=Decimal(25),
            ),
            UnitPrice(
                dimension="PARKING_TIME",
                unit="hour",
                excl_vat=Decimal("24.00"),
                incl_vat=Decimal("30.00"),
                vat_rate_percent=Decimal(25),
            ),
            UnitPrice(
                dimension="FLAT",
                unit="session",
                excl_vat=Decimal("4.90"),
                incl_vat=Decimal("6.125"),
                vat_rate_percent=Decimal(25),
            ),
        ],
    }
    facts.update(changes)
    return SessionFacts.model_validate(facts)


def raw_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def pages(pdf: bytes) -> list[str]:
    """Each page's text as a reader sees it: non-breaking spaces read as spaces, runs of spaces as one."""
    return [re.sub(r"[ \u00a0\u202f]+", " ", text) for text in raw_pages(pdf)]


def text(pdf: bytes) -> str:
    return "\n".join(pages(pdf))


@functools.cache
def invoice_pdf() -> bytes:
    return render_pdf(swedish_invoice(), uppsala_session())


@functools.cache
def invoice_text() -> str:
    return text(invoice_pdf())


@functools.cache
def long_invoice() -> InvoiceDocument:
    lines = tuple(
        InvoiceLine(
            id=str(n),
            name=f"Laddning {n}, Nordvind hubb Uppsala",
            quantity=Decimal("12.5") + n,
            unit_code=Unit.KILOWATT_HOUR,
            net_price=Decimal("3.45"),
            vat_category=VatCategory.STANDARD,
            vat_rate=Decimal(25),
        )
        for n in range(1, 61)
    )
    return invoice_with(lines, number="LV-2025-000060")


# --- what the invoice says ------------------------------------------------------------------


def test_the_invoice_names_itself_its_number_and_its_dates() -> None:
    # Given the example invoice, when it is rendered
    content = invoice_text()
    # Then a reader finds what it is, its number, when it was issued and when it is due
    assert "Faktura" in content and "Invoice" in content
    assert "Fakturanr / No. LV-2025-000042" in content
    assert "Datum / Issue date 2025-03-05" in content
    assert "Förfallodatum / Due 2025-04-04" in content
    assert "Villkor / Terms 30 dagar netto" in content
    assert "Er referens / Your ref. NV-FLEET-UPPSALA" in content


def test_the_seller_shows_its_registration_and_f_tax_approval() -> None:
    content = invoice_text()
    assert "Laddvakt Laddnät AB" in content
    assert "Sveavägen 1\n111 57 Stockholm" in content
    # The organisation number is written as on paper, with its dash, not as Peppol's 10 digits
    assert "Org.nr 559999-0008" in content
    assert "Momsreg.nr / VAT SE559999000101" in content
    assert "Godkänd för F-skatt" in content
    assert "Säte: Stockholm" in content
    assert "faktura@laddvakt.example" in content


def test_the_buyer_is_named_with_address_and_numbers() -> None:
    content = invoice_text()
    assert "KÖPARE / BUYER\nNordvind Logistik AB\nHamnvägen 4\n115 41 Stockholm" in content
    assert "Org.nr 556000-1116 · Momsreg.nr / VAT SE556000111601" in content


def test_the_session_is_shown_in_local_time_with_the_zone_named() -> None:
    content = invoice_text()
    assert "Tid / Time 2025-03-04 07:42 – 09:10 (Europe/Stockholm)" in content
    # UTC (06:42) is for machines; the reader sees the time on the charger's wall clock
    assert "06:42" not in content


def test_a_session_past_midnight_shows_the_end_date_too() -> None:
    session = uppsala_session(
        started_at_local=datetime(2025, 3, 4, 23, 30, tzinfo=STOCKHOLM),
        ended_at_local=datetime(2025, 3, 5, 1, 10, tzinfo=STOCKHOLM),
        started_at=datetime(2025, 3, 4, 22, 30, tzinfo=UTC),
        ended_at=datetime(2025, 3, 5, 0, 10, tzinfo=UTC),
    )
    content = " ".join(text(render_pdf(swedish_invoice(), session)).split())  # may wrap before the zone
    assert "2025-03-04 23:30 – 2025-03-05 01:10 (Europe/Stockholm)" in content


def test_the_session_box_has_site_charger_energy_and_times() -> None:
    content = invoice_text()
    assert "Plats / Site Nordvind hubb Uppsala\nKungsgatan 57, 753 21 Uppsala" in content
    assert "Laddpunkt / Charger LV-UPPSALA-07, uttag / connector 2" in content
    assert "Energi / Energy 41,234 kWh" in content
    assert "Laddtid / Charging 13 min" in content
    assert "Parkering / Parking 1 h 15 min" in content
    assert "ID-tagg / ID tag NV-CARD-0007" in content


def test_the_tariffs_unit_prices_are_shown_excluding_and_including_vat_as_afir_asks() -> None:
    content = invoice_text()
    assert "Tariff SE-UPPSALA-AC, version 2025-02-01 00:00 UTC" in content
    assert "Energi / Energy 3,45 kr/kWh 4,3125 kr/kWh moms / VAT 25 %" in content
    # Time is billed by the hour; AFIR wants the price per minute visible too
    assert "Parkeringstid / Parking time 24,00 kr/h (0,40 kr/min) 30,00 kr/h (0,50 kr/min)" in content
    assert "Per laddning / Per session 4,90 kr/laddning 6,125 kr/laddning" in content


def test_every_line_shows_quantity_and_unit_unit_price_vat_rate_and_amount() -> None:
    content = invoice_text()
    assert (
        "1 Energi\nLaddning LV-UPPSALA-07:42, Nordvind hubb\nUppsala\n41,234 kWh 3,45 kr/kWh 25 % 142,26"
        in content
    )
    assert "2 Parkeringstid efter laddning 1,25 h 24,00 kr/h 25 % 30,00" in content
    assert "3 Sessionsavgift 1 st 4,90 kr/st 25 % 4,90" in content


def test_vat_at_25_percent_and_the_amount_to_pay_are_written_in_kronor() -> None:
    content = invoice_text()
    assert "Summa exkl. moms / Net total 177,16 kr" in content
    assert "Moms / VAT 25 % på / on 177,16 44,29 kr" in content
    assert "Att betala / To pay 221,45 kr" in content


def test_thousands_are_grouped_with_a_space_that_never_breaks() -> None:
    # Given an invoice over ten thousand kronor
    raw = "\n".join(raw_pages(render_pdf(long_invoice(), uppsala_session())))
    # Then the amount reads "11 126,63 kr", and its spaces are non-breaking: it is never split
    assert "Att betala / To pay 11\u00a0126,63\u00a0kr" in raw


def test_payment_by_bankgiro_quotes_the_ocr_number() -> None:
    content = invoice_text()
    assert "BETALNING / PAYMENT\nBankgiro\n5050-1055\nOCR-nummer / OCR\n4200000425" in content


def test_payment_by_iban_shows_the_account_in_groups_of_four_and_the_bic() -> None:
    document = swedish_invoice().model_copy(
        update={
            "payment_means": PaymentMeans.iban(
                "SE4550000000058398257466", bic="ESSESESS", reference="Faktura LV-2025-000042"
            )
        }
    )
    content = text(render_pdf(document, uppsala_session()))
    # An account number is never wrapped
    assert "IBAN\nSE45 5000 0000 0583 9825 7466\n" in content
    assert "BIC\nESSESESS" in content
    assert "Referens / Reference\nFaktura LV-2025-000042" in content


def test_each_vat_rate_has_its_own_line_and_an_exemption_says_why() -> None:
    content = text(render_pdf(two_rate_invoice(), uppsala_session()))
    assert "Moms / VAT 25 % på / on 142,26 35,57 kr" in content
    assert "Moms / VAT 0 % (undantag / exempt) på / on 39,59 0,00 kr" in content
    assert "Moms / VAT 0 % (nollskattesats / zero rated) på / on 50,00 0,00 kr" in content
    assert "Summa moms / Total VAT 35,57 kr" in content
    assert "Undantag från skatteplikt, 3 kap." in content
    assert "2 Parkeringsavgift (vidarefakturerad) 95 min 0,4167 kr/min 0 % (E) 39,59" in content


# --- credit notes ---------------------------------------------------------------------------


def test_a_credit_note_says_so_and_names_the_invoice_it_credits() -> None:
    content = text(render_pdf(credit_note(), uppsala_session()))
    assert "Kreditfaktura" in content and "Credit note" in content
    assert "Kreditfakturanr / No. LV-2025-000043" in content
    assert "Krediterar faktura LV-2025-000042 av 2025-03-05" in content
    assert "Att kreditera / To be credited 221,45 kr" in content
    # Nothing to pay on a credit note
    assert "Att betala" not in content
    assert "Bankgiro" not in content


# --- a document that runs over pages --------------------------------------------------------


def test_sixty_lines_flow_onto_further_pages_with_the_table_heading_and_page_numbers() -> None:
    # Given an invoice with 60 lines
    document = long_invoice()
    # When it is rendered
    content = pages(render_pdf(document, uppsala_session()))
    # Then it runs over more than one page, each numbered "n of N"
    total = len(content)
    assert total >= 2
    for number, page in enumerate(content, start=1):
        assert f"Sida {number} av {total} / Page {number} of {total}" in page
    # And every page after the first names the invoice and repeats the table heading
    for page in content[1:]:
        assert "Faktura / Invoice LV-2025-000060 (forts. / continued)" in page
        assert "Beskrivning\nDescription" in page
    # And no line is lost, and the totals come after the last one
    everything = "\n".join(content)
    for line in document.lines:
        assert f"{line.id} Laddning {line.id}, Nordvind hubb Uppsala" in everything
    assert everything.index("60 Laddning 60") < everything.index("Att betala / To pay 11 126,63 kr")


# --- characters and euros ------------------------------------------------------------------


def test_swedish_letters_dashes_and_the_euro_sign_survive() -> None:
    # Given a euro invoice with å ä ö, a multiplication sign and an en dash in a line
    lines = (
        InvoiceLine(
            id="1",
            name="Öresundsbron – Malmö, två laddningar × 2 (Åre)",
            quantity=Decimal("2"),
            unit_code=Unit.ONE,
            net_price=Decimal("12.50"),
            vat_category=VatCategory.STANDARD,
            vat_rate=Decimal(25),
        ),
    )
    document = invoice_with(lines).model_copy(update={"currency": "EUR"})
    # When rendered, Then a reader gets every character back
    content = text(render_pdf(document, uppsala_session()))
    assert "Öresundsbron – Malmö, två laddningar × 2 (Åre)" in content
    assert "12,50 €/st" in content
    assert "Att betala / To pay 31,25 €" in content
    assert "Belopp exkl. moms\nAmount excl. VAT (€)" in content


# --- the same bytes every time --------------------------------------------------------------


def test_the_same_document_gives_the_same_bytes() -> None:
    # A retried step must write exactly what the first try wrote to the write-once bucket
    assert render_pdf(swedish_invoice(), uppsala_session()) == invoice_pdf()


def test_another_process_renders_the_same_bytes() -> None:
    # A retry runs in another Lambda process, with another hash seed
    script = (
        "import hashlib, sys\n"
        "from tests.unit.test_invoice_pdf import invoice_pdf\n"
        "sys.stdout.write(hashlib.sha256(invoice_pdf()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout == hashlib.sha256(invoice_pdf()).hexdigest()


def test_the_pdf_is_dated_by_its_issue_date_not_by_when_it_was_rendered() -> None:
    metadata = PdfReader(io.BytesIO(invoice_pdf())).metadata
    assert metadata is not None
    assert metadata.creation_date is not None
    assert metadata.creation_date.date() == date(2025, 3, 5)
    assert metadata.title == "Faktura LV-2025-000042"


# --- Swedish notation -----------------------------------------------------------------------


def test_amounts_use_a_decimal_comma_grouped_thousands_and_kr() -> None:
    assert format_amount(Decimal("1234.56"), "SEK") == "1\u00a0234,56\u00a0kr"
    assert format_amount(Decimal("1234567"), "SEK") == "1\u00a0234\u00a0567,00\u00a0kr"
    assert format_amount(Decimal("-5.5"), "SEK") == "-5,50\u00a0kr"
    assert format_amount(Decimal("9.99"), "NOK") == "9,99\u00a0NOK"  # never "kr" for another krone
    assert format_number(Decimal("41.234")) == "41,234"
    assert format_number(Decimal("-0.004"), 2, 2) == "0,00"


def test_durations_and_spans_read_as_a_person_writes_them() -> None:
    assert format_duration(Decimal("1.1667")) == "1\u00a0h 10\u00a0min"
    assert format_duration(Decimal("0.75")) == "45\u00a0min"
    assert (
        format_local_span(
            datetime(2026, 11, 23, 7, 0, tzinfo=STOCKHOLM),
            datetime(2026, 11, 23, 8, 10, tzinfo=STOCKHOLM),
            "Europe/Stockholm",
        )
        == "2026-11-23 07:00 – 08:10 (Europe/Stockholm)"
    )
