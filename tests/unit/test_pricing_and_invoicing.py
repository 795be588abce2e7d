"""Flat-tariff pricing and the invoice document finance books from."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.domain import invoicing, pricing
from shared.domain.errors import NotPriceable
from shared.models.registry import FlatTariff, RegistryDocument
from shared.models.sessions import ClosedSession, PricedSession

pytestmark = pytest.mark.unit

TARIFF = FlatTariff(currency="SEK", energy_price_per_kwh=Decimal("2.80"), vat_rate_percent=Decimal(25))


def closed(energy_wh: str, ended: datetime = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) -> ClosedSession:
    return ClosedSession(
        session_id="LV-STHLM-01:7",
        transaction_id="7",
        charge_point_id="LV-STHLM-01",
        connector_id=1,
        id_tag="RFID0001",
        fleet_id="nordvind",
        site_id="sthlm-depot",
        started_at=datetime(2026, 10, 31, 21, 0, tzinfo=UTC),
        ended_at=ended,
        meter_start_wh=Decimal(1000),
        meter_stop_wh=Decimal(1000) + Decimal(energy_wh),
        energy_wh=Decimal(energy_wh),
    )


def priced(session: ClosedSession) -> PricedSession:
    lines = pricing.price_lines(session, TARIFF)
    vat = pricing.vat_breakdown(lines)
    return PricedSession(
        session=session,
        tariff=TARIFF,
        site_name="Depå",
        time_zone="Europe/Stockholm",
        currency="SEK",
        lines=lines,
        vat=vat,
        totals=pricing.totals(lines, vat),
    )


def test_energy_times_price_rounded_to_ore_plus_vat():
    # 17 345 Wh at 2.80 SEK/kWh = 48.566 → 48.57 net, 25 % VAT = 12.1425 → 12.14
    result = priced(closed("17345"))
    assert result.lines[0].quantity == Decimal("17.345")
    assert result.totals.net == Decimal("48.57")
    assert result.totals.vat == Decimal("12.14")
    assert result.totals.gross == Decimal("60.71")


def test_zero_energy_session_costs_nothing_but_is_invoiced():
    assert priced(closed("0")).totals.gross == Decimal("0.00")


def test_negative_energy_is_refused_not_priced():
    with pytest.raises(NotPriceable):
        pricing.price_lines(closed("-5"), TARIFF)


def test_invoice_carries_parties_local_times_and_files_by_local_month(registry_document: RegistryDocument):
    # Ended 23:30 UTC on 31 October = 00:30 on 1 November in Stockholm: a November invoice.
    document = priced(closed("17345"))
    invoice = invoicing.build_invoice(
        document,
        seller=registry_document.operator,
        buyer=registry_document.fleets[0],
        issued_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        number=42,
    )
    assert invoice.invoice_id == "LV-0000042"
    assert invoice.session.ended_at_local.isoformat() == "2026-11-01T00:30:00+01:00"
    assert invoice.session.started_at_local.isoformat() == "2026-10-31T22:00:00+01:00"
    assert invoicing.invoice_key(invoice) == "invoices/laddvakt-cpo/2026/11/LV-0000042.json"
    assert invoice.seller.vat_number == "SE559999000101"
    assert invoice.buyer.name == "Nordvind Logistik AB"
