"""The PDF form of an invoice or credit note: the one a person reads, Swedish first with English
labels, showing the charging session in the site's local time, its energy, the tariff's prices per
unit as EU AFIR asks them to be shown (excluding and including VAT), every line, VAT per rate and
the totals.

Rendering is a pure function of the document and the session, down to the byte: the invoice bucket
is write-once, so a retried step must write exactly what the first try wrote. Nothing here reads
the clock or draws a random id; the PDF's creation date is the document's issue date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files

import fpdf
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, XPos, YPos

from shared.models.billing_documents import SessionFacts, StatementFacts, UnitPrice
from shared.models.invoice import (
    Identifier,
    InvoiceDocument,
    InvoiceLine,
    InvoiceParty,
    PaymentMeans,
    Period,
    Scheme,
    Unit,
    VatBreakdown,
    VatCategory,
)

# Sweden writes 1 234,56: a space between thousands and a decimal comma. The space is U+00A0, as in
# the CLDR Swedish locale, so spreadsheets set to Swedish read a copied amount back as a number,
# and a line break never splits an amount or parts it from its "kr".
NBSP = "\u00a0"
EN_DASH = "–"

# Source Sans Pro (Adobe, SIL OFL 1.1) from the `font-source-sans-pro` wheel: static TrueType files
# with å ä ö, ×, – and €, and tabular figures, so amounts line up in their columns. fpdf2's own
# core fonts are Latin-1 only and have no €.
_FONT_FILES = files("font_source_sans_pro") / "files"
FONT_FAMILY = "SourceSansPro"

# A4 portrait, in millimetres.
MARGIN = 18.0
PAGE_WIDTH = 210.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_SPACE = 22.0

INK = (34, 34, 34)
MUTED = (105, 105, 105)
ACCENT = (11, 93, 75)  # a dark green: the operator's colour, readable in greyscale print
RULE = (200, 204, 208)
SHADE = (240, 243, 245)

_CURRENCY_SIGNS = {"SEK": "kr", "EUR": "€"}

# UN/ECE codes (BT-130) as a Swedish reader writes them; "st" (styck) is one of something.
_UNIT_LABELS: dict[str, str] = {
    Unit.KILOWATT_HOUR.value: "kWh",
    Unit.HOUR.value: "h",
    Unit.MINUTE.value: "min",
    Unit.ONE.value: "st",
}

_PRICE_LABELS = {
    "ENERGY": "Energi / Energy",
    "TIME": "Laddtid / Charging time",
    "PARKING_TIME": "Parkeringstid / Parking time",
    "FLAT": "Per laddning / Per session",
}
_PRICE_UNITS = {"kWh": "kWh", "hour": "h", "session": "laddning"}

_CATEGORY_LABELS = {
    VatCategory.STANDARD: "",
    VatCategory.ZERO_RATED: "nollskattesats / zero rated",
    VatCategory.EXEMPT: "undantag / exempt",
    VatCategory.REVERSE_CHARGE: "omvänd skattskyldighet / reverse charge",
    VatCategory.INTRA_COMMUNITY: "unionsintern / intra-community",
    VatCategory.EXPORT: "export",
    VatCategory.NOT_SUBJECT: "ej momspliktig / not subject to VAT",
}


def render_pdf(document: InvoiceDocument, session: SessionFacts) -> bytes:
    """The PDF of an invoice or credit note for one charging session. The same document and
    session always give the same bytes."""
    pdf = _InvoicePdf(document)
    pdf.add_page()
    pdf.draw_heading()
    pdf.draw_parties()
    pdf.draw_session(session)
    pdf.draw_lines()
    pdf.draw_settlement()
    return bytes(pdf.output())


def render_statement_pdf(document: InvoiceDocument, statement: StatementFacts) -> bytes:
    """The PDF of a fleet's monthly statement: the month's sessions summed, the specification
    (one row per session) named beside it. The same document always gives the same bytes."""
    pdf = _InvoicePdf(document)
    pdf.add_page()
    pdf.draw_heading()
    pdf.draw_parties()
    pdf.draw_statement(statement)
    pdf.draw_lines()
    pdf.draw_settlement()
    return bytes(pdf.output())


# --- Swedish number formatting --------------------------------------------------------------


def format_number(value: Decimal, min_places: int = 0, max_places: int | None = None) -> str:
    """1234.5 → "1 234,5": grouped thousands and a decimal comma, trailing zeros dropped down to
    `min_places`, rounded (halves up) at `max_places` when given."""
    if max_places is not None:
        value = value.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{abs(value):f}".partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    grouped = NBSP.join([whole, *groups])
    sign = "-" if value < 0 else ""  # after rounding: -0.001 at 2 places is "0,00", not "-0,00"
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def currency_sign(currency: str) -> str:
    """The sign after an amount: kr for kronor, € for euro, else the ISO code (NOK is never "kr")."""
    return _CURRENCY_SIGNS.get(currency, currency)


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount in the document's currency: "1 234,56 kr"."""
    return f"{format_number(amount, 2, 2)}{NBSP}{currency_sign(currency)}"


def format_price(price: Decimal, currency: str, unit: str) -> str:
    """A price per unit keeps every decimal it was billed with (0,4167 kr/min), and at least öre."""
    return f"{format_number(price, 2)}{NBSP}{currency_sign(currency)}/{unit}"


def format_duration(hours: Decimal) -> str:
    """Hours as a person reads them: "1 h 10 min", "45 min" (to the nearest minute)."""
    minutes = int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    whole_hours, rest = divmod(minutes, 60)
    if whole_hours == 0:
        return f"{rest}{NBSP}min"
    return f"{whole_hours}{NBSP}h {rest}{NBSP}min"


def format_local_span(start: datetime, end: datetime, time_zone: str) -> str:
    """When a session ran, in the site's local time and naming the zone:
    "2026-11-23 07:00 – 08:10 (Europe/Stockholm)". The end's date is written only when the
    session ran past midnight."""
    end_text = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    return f"{start:%Y-%m-%d %H:%M} {EN_DASH} {end_text} ({time_zone})"


def issue_datetime(issue_date: date) -> datetime:
    """The PDF's creation date: midnight UTC of the issue date, never the time of rendering."""
    return datetime.combine(issue_date, time(0), tzinfo=UTC)


def _percent(rate: Decimal) -> str:
    return f"{format_number(rate)}{NBSP}%"


def _vat_label(category: VatCategory, rate: Decimal | None) -> str:
    if rate is None:
        return "–"
    if category is VatCategory.STANDARD:
        return _percent(rate)
    return f"{_percent(rate)} ({category.value})"


def _organisation_number(identifier: Identifier) -> str:
    # Written 559999-0008 on paper, 5599990008 in the e-invoice.
    value = identifier.value
    if identifier.scheme == Scheme.SWEDISH_ORGANISATION_NUMBER and len(value) == 10:
        return f"{value[:6]}-{value[6:]}"
    return value


def _account(payment: PaymentMeans) -> tuple[str, str] | None:
    """The label and the number as they are keyed into an internet bank."""
    account = payment.account_id
    if account is None:
        return None
    if payment.service_provider_id == "SE:BANKGIRO":
        return "Bankgiro", f"{account[:-4]}-{account[-4:]}"
    if payment.service_provider_id == "SE:PLUSGIRO":
        return "Plusgiro", f"{account[:-1]}-{account[-1:]}"
    if account[:2].isalpha():
        return "IBAN", " ".join(account[i : i + 4] for i in range(0, len(account), 4))
    return payment.text or "Konto / Account", account


def _period_text(period: Period) -> str:
    if period.start and period.end and period.start != period.end:
        return f"{period.start} {EN_DASH} {period.end}"
    return str(period.start or period.end)


# --- the document ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    label: str
    value: str
    bold: bool = False


class _InvoicePdf(FPDF):
    """One invoice on A4. Pages after the first repeat a short heading; every page carries the
    seller's registration in its footer and "Sida n av m"."""

    def __init__(self, document: InvoiceDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc = document
        self.currency = document.currency
        self.title_sv, self.title_en = (
            ("Kreditfaktura", "Credit note") if document.is_credit_note else ("Faktura", "Invoice")
        )
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=FOOTER_SPACE)
        self.add_font(FONT_FAMILY, "", str(_FONT_FILES / "SourceSansPro-Regular.ttf"))
        self.add_font(FONT_FAMILY, "B", str(_FONT_FILES / "SourceSansPro-Bold.ttf"))
        # fpdf2 would stamp the time of rendering; its /ID is a hash of the content and this date.
        self.set_creation_date(issue_datetime(document.issue_date))
        self.set_producer(f"Laddvakt (fpdf2 {fpdf.__version__})")
        self.set_creator("Laddvakt")
        self.set_title(f"{self.title_sv} {document.number}")
        self.set_author(document.seller.name)
        self.set_subject(f"{self.title_sv} / {self.title_en} {document.number}")
        self.set_lang("sv")
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)

    # -- primitives

    def _font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.set_font(FONT_FAMILY, "B" if bold else "", size)
        self.set_text_color(*color)

    def _text_lines(self, x: float, width: float, lines: Sequence[str]) -> None:
        for text in lines:
            self.set_x(x)
            self.multi_cell(width, 4.6, text, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)

    def _section_title(self, x: float, width: float, text: str) -> None:
        self._font(8, bold=True, color=ACCENT)
        self.set_x(x)
        self.cell(width, 5, text.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        self._font(9.5)

    def _rows(self, x: float, width: float, rows: Sequence[_Row], label_width: float) -> None:
        """Label and value side by side; a long value wraps within its own column."""
        for row in rows:
            top = self.get_y()
            self._font(8.5, color=MUTED)
            self.set_xy(x, top + 0.35)
            self.multi_cell(label_width, 4.2, row.label, align="L", new_x=XPos.RIGHT, new_y=YPos.TOP)
            label_bottom = self.get_y()
            self._font(9.5, bold=row.bold)
            self.set_xy(x + label_width, top)
            self.multi_cell(width - label_width, 4.9, row.value, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_y(max(self.get_y(), label_bottom, top + 4.9))
        self._font(9.5)

    def _grid(self, x: float, width: float, rows: Sequence[_Row]) -> None:
        """Each label above its value, two to a row; a value too wide for half the width (an
        IBAN) gets the whole row, because an account number must never wrap."""
        half = width / 2
        column = 0
        for row in rows:
            self._font(9.5, bold=row.bold)
            wide = self.get_string_width(row.value) > half - 2
            if column == 1 and wide:
                self.set_y(self.get_y() + 9.5)
                column = 0
            top = self.get_y()
            cell_x = x + column * half
            cell_width = width if wide else half
            self._font(8, color=MUTED)
            self.set_xy(cell_x, top)
            self.cell(cell_width, 4, row.label)
            self._font(9.5, bold=row.bold)
            self.set_xy(cell_x, top + 4)
            self.cell(cell_width, 5, row.value)
            self.set_y(top)
            if wide or column == 1:
                self.set_y(top + 9.5)
                column = 0
            else:
                column = 1
        if column == 1:
            self.set_y(self.get_y() + 9.5)
        self._font(9.5)

    # -- page furniture

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self._font(9, bold=True)
        self.set_xy(MARGIN, 10)
        self.cell(CONTENT_WIDTH / 2, 5, self.doc.seller.name)
        self._font(9, color=MUTED)
        self.cell(
            CONTENT_WIDTH / 2,
            5,
            f"{self.title_sv} / {self.title_en} {self.doc.number} (forts. / continued)",
            align="R",
        )
        self.set_y(MARGIN + 2)

    def footer(self) -> None:
        seller = self.doc.seller
        parts = [seller.name]
        if seller.legal_registration:
            parts.append(f"Org.nr {_organisation_number(seller.legal_registration)}")
        if seller.vat_id:
            parts.append(f"Momsreg.nr {seller.vat_id}")
        if seller.tax_registration_id:
            parts.append(seller.tax_registration_id)
        self.set_y(-14)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y() - 1.5, PAGE_WIDTH - MARGIN, self.get_y() - 1.5)
        self._font(7.5, color=MUTED)
        self.set_x(MARGIN)
        self.cell(CONTENT_WIDTH * 0.75, 4, "  ·  ".join(parts))
        self.cell(
            CONTENT_WIDTH * 0.25,
            4,
            f"Sida {self.page_no()} av {{nb}} / Page {self.page_no()} of {{nb}}",
            align="R",
        )

    # -- the blocks, top to bottom

    def draw_heading(self) -> None:
        doc = self.doc
        top = self.get_y()
        self._font(16, bold=True)
        self.set_xy(MARGIN, top)
        self.multi_cell(CONTENT_WIDTH * 0.55, 7, doc.seller.trading_name or doc.seller.name, align="L")
        self._font(20, bold=True, color=ACCENT)
        self.set_xy(MARGIN + CONTENT_WIDTH * 0.45, top - 0.5)
        self.cell(CONTENT_WIDTH * 0.55, 8, self.title_sv, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self._font(10, color=MUTED)
        self.cell(CONTENT_WIDTH * 0.55, 5, self.title_en, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.ln(3)

        rows = [_Row(f"{self.title_sv}nr / No.", doc.number, bold=True)]
        rows.append(_Row("Datum / Issue date", doc.issue_date.isoformat()))
        if doc.due_date:
            rows.append(_Row("Förfallodatum / Due", doc.due_date.isoformat(), bold=True))
        if doc.payment_terms:
            rows.append(_Row("Villkor / Terms", doc.payment_terms))
        if doc.buyer_reference:
            rows.append(_Row("Er referens / Your ref.", doc.buyer_reference))
        if doc.order_reference:
            rows.append(_Row("Order / Order ref.", doc.order_reference))
        if doc.accounting_reference:
            rows.append(_Row("Kostnadsställe / Cost centre", doc.accounting_reference))
        if doc.period:
            rows.append(_Row("Period", _period_text(doc.period)))
        meta_x = MARGIN + CONTENT_WIDTH * 0.55
        self._rows(meta_x, CONTENT_WIDTH * 0.45, rows, label_width=36)
        meta_bottom = self.get_y()

        seller = doc.seller
        self.set_y(top + 9)
        self._font(9.5)
        self._text_lines(MARGIN, CONTENT_WIDTH * 0.53, self._address_lines(seller))
        self._font(8.5, color=MUTED)
        self._text_lines(MARGIN, CONTENT_WIDTH * 0.53, self._registration_lines(seller))
        self.set_y(max(self.get_y(), meta_bottom) + 4)

        if doc.is_credit_note and doc.preceding_invoice:
            credited = doc.preceding_invoice
            self._font(11, bold=True, color=ACCENT)
            self.set_x(MARGIN)
            self.multi_cell(
                CONTENT_WIDTH,
                5.5,
                align="L",
                text=f"Krediterar faktura {credited.number} av {credited.issue_date.isoformat()}",
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
            )
            self._font(9, color=MUTED)
            self.multi_cell(
                CONTENT_WIDTH,
                4.6,
                align="L",
                text=f"Credits invoice {credited.number} of {credited.issue_date.isoformat()}",
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
            )
            self.ln(3)

    def draw_parties(self) -> None:
        doc = self.doc
        top = self.get_y()
        half = CONTENT_WIDTH / 2 - 4
        self._section_title(MARGIN, half, "Köpare / Buyer")
        self._font(10.5, bold=True)
        self._text_lines(MARGIN, half, [doc.buyer.name])
        self._font(9.5)
        self._text_lines(MARGIN, half, self._address_lines(doc.buyer))
        self._font(8.5, color=MUTED)
        self._text_lines(MARGIN, half, self._registration_lines(doc.buyer))
        left_bottom = self.get_y()

        # The note lines up with the invoice details above it.
        right_x = MARGIN + CONTENT_WIDTH * 0.55
        self.set_y(top)
        if doc.note:
            self._section_title(right_x, CONTENT_WIDTH * 0.45, "Meddelande / Note")
            self._text_lines(right_x, CONTENT_WIDTH * 0.45, [doc.note])
        self.set_y(max(left_bottom, self.get_y()) + 5)

    def _box_heading(self, title: str, tag: str) -> float:
        """The shaded heading of a framed box (the session, the statement); returns its top."""
        top = self.get_y()
        inner_x, inner_width = MARGIN + 4, CONTENT_WIDTH - 8
        # Tables take the current fill colour as their cells' background: keep it local.
        with self.local_context(fill_color=SHADE):
            self.rect(MARGIN, top, CONTENT_WIDTH, 7, style="F")
        self._font(10, bold=True, color=ACCENT)
        self.set_xy(inner_x, top + 1)
        self.cell(inner_width, 5, title)
        self._font(8.5, color=MUTED)
        self.set_xy(inner_x, top + 1)
        self.cell(inner_width, 5, tag, align="R")
        self.set_y(top + 9)
        return top

    def _box_frame(self, top: float) -> None:
        bottom = self.get_y() + 2
        self.set_draw_color(*RULE)
        self.rect(MARGIN, top, CONTENT_WIDTH, bottom - top, style="D")
        self.set_y(bottom + 6)

    def draw_session(self, session: SessionFacts) -> None:
        inner_x = MARGIN + 4
        inner_width = CONTENT_WIDTH - 8
        top = self._box_heading("Laddsession / Charging session", session.session_id)

        address = session.site_address
        place = ", ".join(
            part
            for part in (
                address.street,
                f"{address.postal_code} {address.city}".strip(),
                address.country if address.country != self.doc.seller.address.country else "",
            )
            if part
        )
        left = [
            _Row("Plats / Site", f"{session.site_name}\n{place}" if place else session.site_name),
            _Row(
                "Laddpunkt / Charger",
                f"{session.charge_point_id}, uttag / connector {session.connector_id}",
            ),
            _Row(
                "Tid / Time",
                format_local_span(session.started_at_local, session.ended_at_local, session.time_zone),
            ),
        ]
        right = [
            _Row("Energi / Energy", f"{format_number(session.energy_kwh, 0, 3)}{NBSP}kWh", bold=True),
            _Row("Laddtid / Charging", format_duration(session.charging_hours)),
            _Row("Parkering / Parking", format_duration(session.parking_hours)),
            _Row("ID-tagg / ID tag", session.id_tag),
        ]
        if session.vehicle_id:
            right.append(_Row("Fordon / Vehicle", session.vehicle_id))
        if session.driver_id:
            right.append(_Row("Förare / Driver", session.driver_id))
        left_width = inner_width * 0.6
        self._rows(inner_x, left_width - 4, left, label_width=28)
        left_bottom = self.get_y()
        self.set_y(top + 9)
        self._rows(inner_x + left_width, inner_width - left_width, right, label_width=28)
        self.set_y(max(left_bottom, self.get_y()) + 2)

        if session.unit_prices:
            self._unit_prices(inner_x, inner_width, session)
        self._box_frame(top)

    def draw_statement(self, statement: StatementFacts) -> None:
        top = self._box_heading("Månadsfaktura / Monthly statement", statement.month)
        rows = [
            _Row("Månad / Month", statement.month),
            _Row("Laddsessioner / Sessions", format_number(Decimal(statement.sessions))),
            _Row("Energi / Energy", f"{format_number(statement.energy_kwh, 0, 3)}{NBSP}kWh", bold=True),
            _Row("Specifikation", statement.specification_key.rsplit("/", 1)[-1]),
        ]
        self._rows(MARGIN + 4, CONTENT_WIDTH - 8, rows, label_width=40)
        self._box_frame(top)

    def _unit_prices(self, x: float, width: float, session: SessionFacts) -> None:
        version = (
            f", version {session.tariff_version.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            if session.tariff_version
            else ""
        )
        self._font(8.5, bold=True)
        self.set_x(x)
        self.cell(width * 0.5, 5, "Pris per enhet / Unit prices (AFIR)")
        self._font(8.5, color=MUTED)
        self.cell(width * 0.5, 5, f"Tariff {session.tariff_id}{version}", align="R")
        self.ln(5.5)
        self._font(9)  # the table's cells take the current font and colour
        rows = [
            (
                _PRICE_LABELS[price.dimension],
                self._unit_price(price, price.excl_vat),
                self._unit_price(price, price.incl_vat),
                "ingen moms / no VAT"
                if price.vat_rate_percent is None
                else f"moms / VAT {_percent(price.vat_rate_percent)}",
            )
            for price in session.unit_prices
        ]
        self.set_x(x)
        with self.table(
            width=width,
            col_widths=(34, 30, 30, 20),
            align="LEFT",
            text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD", color=MUTED, size_pt=8, fill_color=SHADE),
            line_height=4.6,
            padding=(0.8, 1.5),
            v_align="TOP",
        ) as table:
            table.row(("", "exkl. moms / excl. VAT", "inkl. moms / incl. VAT", ""))
            for cells in rows:
                table.row(cells)

    def _unit_price(self, price: UnitPrice, amount: Decimal) -> str:
        unit = _PRICE_UNITS[price.unit]
        text = format_price(amount, self.currency, unit)
        if price.unit == "hour":
            # AFIR shows time-based prices per minute; the tariff bills by the hour.
            per_minute = amount / 60
            shown = per_minute.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            approx = "" if shown == per_minute else "≈"
            text += f" ({approx}{format_price(shown, self.currency, 'min')})"
        return text

    def draw_lines(self) -> None:
        currency = self.currency
        self._font(9.5)
        self.set_x(MARGIN)
        with self.table(
            width=CONTENT_WIDTH,
            col_widths=(7, 71, 24, 26, 14, 32),
            align="LEFT",
            text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD", color=ACCENT, size_pt=8.5, fill_color=SHADE),
            line_height=4.5,
            padding=(1.0, 1.5),
            v_align="TOP",
        ) as table:
            table.row(
                (
                    "#",
                    "Beskrivning\nDescription",
                    "Antal\nQuantity",
                    "À-pris\nUnit price",
                    "Moms\nVAT",
                    f"Belopp exkl. moms\nAmount excl. VAT ({currency_sign(currency)})",
                )
            )
            for line in self.doc.lines:
                table.row(self._line_cells(line))
        self.ln(4)

    def _line_cells(self, line: InvoiceLine) -> tuple[str, ...]:
        unit = _UNIT_LABELS.get(line.unit_code, line.unit_code)
        description = "\n".join(text for text in (line.name, line.description, line.note) if text)
        per = unit if line.base_quantity == 1 else f"{format_number(line.base_quantity)}{NBSP}{unit}"
        return (
            line.id,
            description,
            f"{format_number(line.quantity)}{NBSP}{unit}",
            format_price(line.net_price, self.currency, per),
            _vat_label(line.vat_category, line.vat_rate),
            format_number(line.net_amount, 2, 2),
        )

    def draw_settlement(self) -> None:
        """VAT per rate and the totals on the right, how to pay on the left: kept on one page, so
        the amount to pay is never parted from the account and reference to pay it with."""
        doc = self.doc
        totals = doc.totals
        rows = [
            _Row("Summa exkl. moms / Net total", format_amount(totals.tax_exclusive_total, self.currency))
        ]
        rows += [self._vat_row(breakdown) for breakdown in doc.vat_breakdown]
        if len(doc.vat_breakdown) > 1:
            rows.append(_Row("Summa moms / Total VAT", format_amount(totals.vat_total, self.currency)))
        if totals.rounding:
            rows.append(_Row("Öresavrundning / Rounding", format_amount(totals.rounding, self.currency)))
        if totals.prepaid:
            rows.append(
                _Row(
                    "Summa inkl. moms / Total incl. VAT",
                    format_amount(totals.tax_inclusive_total, self.currency),
                )
            )
            rows.append(_Row("Redan betalt / Prepaid", format_amount(-totals.prepaid, self.currency)))
        payable_label = "Att kreditera / To be credited" if doc.is_credit_note else "Att betala / To pay"
        exemptions = [
            " ".join(text for text in (b.exemption_reason, b.exemption_reason_code) if text)
            for b in doc.vat_breakdown
            if b.exemption_reason or b.exemption_reason_code
        ]
        payment = self._payment_rows()

        totals_height = 5.6 * len(rows) + 12 + 4.6 * len(exemptions)
        payment_height = 7 + 9.5 * len(payment)
        if self.will_page_break(max(totals_height, payment_height if payment else 0) + 2):
            self.add_page()
        top = self.get_y()

        x = MARGIN + CONTENT_WIDTH * 0.46
        width = CONTENT_WIDTH * 0.54
        for row in rows:
            self._total_row(x, width, row.label, row.value, size=9.5)
        self.set_draw_color(*INK)
        self.line(x, self.get_y() + 1, MARGIN + CONTENT_WIDTH, self.get_y() + 1)
        self.set_draw_color(*RULE)
        self.ln(2.5)
        self._total_row(
            x, width, payable_label, format_amount(totals.payable, self.currency), size=13, bold=True
        )
        if exemptions:
            self.ln(1.5)
            self._font(8, color=MUTED)
            self._text_lines(x, width, [f"Momsbefrielse / VAT exemption: {text}" for text in exemptions])
        totals_bottom = self.get_y()

        if payment:
            self.set_y(top)
            self._section_title(MARGIN + 4, CONTENT_WIDTH * 0.4, "Betalning / Payment")
            self._grid(MARGIN + 4, CONTENT_WIDTH * 0.4, payment)
            bottom = self.get_y() + 1
            self.set_draw_color(*ACCENT)
            self.set_line_width(0.6)
            self.line(MARGIN + 0.3, top, MARGIN + 0.3, bottom)
            self.set_line_width(0.2)
            self.set_draw_color(*RULE)
            totals_bottom = max(totals_bottom, bottom)
        self.set_y(totals_bottom + 4)

    def _payment_rows(self) -> list[_Row]:
        doc = self.doc
        payment = doc.payment_means
        if payment is None:
            return []
        rows: list[_Row] = []
        account = _account(payment)
        if account:
            rows.append(_Row(account[0], account[1], bold=True))
        if payment.service_provider_id and not payment.service_provider_id.startswith("SE:"):
            rows.append(_Row("BIC", payment.service_provider_id))
        if payment.account_name:
            rows.append(_Row("Mottagare / Payee", payment.account_name))
        if payment.remittance_information:
            reference = payment.remittance_information
            # An OCR number is all digits; the bank rejects a payment that quotes it wrongly.
            label = "OCR-nummer / OCR" if reference.isdigit() else "Referens / Reference"
            rows.append(_Row(label, reference, bold=True))
        if doc.due_date:
            rows.append(_Row("Förfallodatum / Due", doc.due_date.isoformat()))
        return rows

    def _vat_row(self, breakdown: VatBreakdown) -> _Row:
        category = _CATEGORY_LABELS[breakdown.category]
        rate = "" if breakdown.rate is None else _percent(breakdown.rate)
        label = " ".join(part for part in ("Moms / VAT", rate, f"({category})" if category else "") if part)
        basis = format_number(breakdown.taxable_amount, 2, 2)
        return _Row(f"{label} på / on {basis}", format_amount(breakdown.tax_amount, self.currency))

    def _total_row(
        self, x: float, width: float, label: str, value: str, size: float, bold: bool = False
    ) -> None:
        height = size * 0.56
        self.set_x(x)
        self._font(size if bold else size - 1, bold=bold, color=INK if bold else MUTED)
        self.cell(width * 0.66, height, label)
        self._font(size, bold=bold)
        self.cell(width * 0.34, height, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # -- party details

    @staticmethod
    def _address_lines(party: InvoiceParty) -> list[str]:
        address = party.address
        lines = [party.name] if party.trading_name and party.trading_name != party.name else []
        lines += [text for text in (address.street, address.additional_street) if text]
        city = " ".join(text for text in (address.postal_code, address.city) if text)
        lines += [text for text in (city, address.subdivision) if text]
        if address.country != "SE":
            lines.append(address.country)
        return lines

    @staticmethod
    def _registration_lines(party: InvoiceParty) -> list[str]:
        """Org.nr and VAT number on one line, F-skatt and seat on the next (a buyer has neither)."""
        numbers = []
        if party.legal_registration:
            numbers.append(f"Org.nr {_organisation_number(party.legal_registration)}")
        if party.vat_id:
            numbers.append(f"Momsreg.nr / VAT {party.vat_id}")
        legal = [text for text in (party.tax_registration_id, party.additional_legal_info) if text]
        contact = party.contact
        reach = [text for text in (contact.name, contact.telephone, contact.email) if text] if contact else []
        return ["  ·  ".join(group) for group in (numbers, legal, reach) if group]
