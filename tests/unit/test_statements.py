"""A fleet's month summed into one statement."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.domain import statements
from shared.domain.tariffs import LineKind, TariffLine

pytestmark = pytest.mark.unit


def line(kind: LineKind, quantity: str, price: str, vat: str | None = "25") -> TariffLine:
    excl = Decimal(quantity) * Decimal(price)
    return TariffLine(
        kind=kind, element_index=0, quantity=Decimal(quantity), measured=Decimal(quantity),
        unit="kWh" if kind is LineKind.ENERGY else "h", price_per_unit=Decimal(price),
        vat_rate=None if vat is None else Decimal(vat), excl_vat=excl,
        incl_vat=excl * (1 + Decimal(vat or 0) / 100),
    )  # fmt: skip


def test_lines_of_many_sessions_are_one_line_per_thing_billed_at_one_price():
    # Given three sessions: two at the day price, one at night, one of them parked a while
    sessions = [
        statements.line_record([line(LineKind.ENERGY, "10.5", "2.80")]),
        statements.line_record(
            [line(LineKind.ENERGY, "4.25", "2.80"), line(LineKind.PARKING_TIME, "0.5", "30")]
        ),
        statements.line_record([line(LineKind.ENERGY, "20", "1.50")]),
    ]
    # When they are summed (a day at a time, then the days)
    month = statements.tariff_lines(
        statements.summed([statements.summed(sessions[:2]), statements.summed(sessions[2:])])
    )
    # Then energy at each price is one line, exact, and parking is its own
    assert [(m.kind, m.price_per_unit, m.quantity, m.excl_vat) for m in month] == [
        (LineKind.ENERGY, Decimal("1.50"), Decimal("20"), Decimal("30.00")),
        (LineKind.ENERGY, Decimal("2.80"), Decimal("14.75"), Decimal("41.3000")),
        (LineKind.PARKING_TIME, Decimal("30"), Decimal("0.5"), Decimal("15.0")),
    ]


def test_no_vat_and_zero_vat_stay_apart():
    records = statements.line_record(
        [line(LineKind.ENERGY, "1", "2.80", None), line(LineKind.ENERGY, "1", "2.80", "0")]
    )
    assert [m.vat_rate for m in statements.tariff_lines(statements.summed([records]))] == [None, Decimal(0)]


@pytest.mark.parametrize(
    ("at", "month"),
    [
        (datetime(2026, 11, 1, 3, 0, tzinfo=UTC), "2026-10"),  # 04:00 on 1 November in Stockholm
        (datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "2026-10"),  # already 1 November, 00:30 local
        (datetime(2027, 1, 1, 3, 0, tzinfo=UTC), "2026-12"),
    ],
)
def test_the_statement_run_on_the_1st_bills_the_month_that_just_ended_locally(at, month):
    assert statements.month_before(at, "Europe/Stockholm") == month


def test_the_specification_lists_sessions_in_the_order_they_ended():
    csv_text = statements.specification_csv(
        [
            {"session_id": "B", "ended_local": "2026-10-30T20:00:00+01:00", "energy_kwh": "20.500"},
            {"session_id": "A", "ended_local": "2026-10-03T08:00:00+02:00", "energy_kwh": "10.000"},
        ]
    )
    assert [row.split(",")[0] for row in csv_text.splitlines()] == ["session_id", "A", "B"]


def test_the_statement_pdf_says_which_month_how_many_sessions_and_where_the_specification_is():
    import io
    from datetime import date

    from pypdf import PdfReader

    from shared.domain import invoicing
    from shared.domain.invoice_pdf import render_statement_pdf
    from shared.models.billing_documents import StatementFacts
    from shared.models.registry import RegistryDocument
    from tests.unit.conftest import EXAMPLE_REGISTRY

    registry = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    document = invoicing.build_statement(
        number="LV-0000101", issue_date=date(2026, 11, 1), seller=registry.operator, buyer=registry.fleets[0],
        month="2026-10", sessions=31, specification="LV-0000101.csv",
        lines=[line(LineKind.ENERGY, "812.345", "2.80")], currency="SEK",
    )  # fmt: skip
    facts = StatementFacts(
        fleet_id="nordvind", month="2026-10", sessions=31, energy_kwh=Decimal("812.345"),
        specification_key="invoices/laddvakt-cpo/2026/10/LV-0000101.csv",
    )  # fmt: skip
    pdf = render_statement_pdf(document, facts)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in ("Månadsfaktura / Monthly statement", "2026-10", "31", "LV-0000101.csv", "812,345"):
        assert expected in text
    assert render_statement_pdf(document, facts) == pdf  # the same document, the same bytes
    # And the statement's period is the whole month
    assert (document.period.start.isoformat(), document.period.end.isoformat()) == (
        "2026-10-01",
        "2026-10-31",
    )
