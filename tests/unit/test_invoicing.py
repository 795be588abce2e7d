"""A closed session rated with its tariff, and the invoice finance books from it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from shared.domain import invoicing, rating
from shared.domain.errors import NotPriceable
from shared.domain.tariff_choice import flat_as_ocpi
from shared.models.billing_documents import SessionFacts
from shared.models.invoice import Unit, VatCategory
from shared.models.ocpi import CdrDimensionType, parse_tariff
from shared.models.registry import RegistryDocument
from shared.models.sessions import ClosedSession, MeterSample

pytestmark = pytest.mark.unit

STOCKHOLM = ZoneInfo("Europe/Stockholm")


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


def facts(session: ClosedSession, registry: RegistryDocument) -> SessionFacts:
    site = registry.sites[0]
    return SessionFacts(
        session_id=session.session_id,
        transaction_id=session.transaction_id,
        charge_point_id=session.charge_point_id,
        connector_id=session.connector_id,
        fleet_id=session.fleet_id,
        site_id=site.id,
        site_name=site.name,
        site_address=site.address,
        time_zone=site.time_zone,
        started_at=session.started_at,
        ended_at=session.ended_at,
        started_at_local=session.started_at.astimezone(STOCKHOLM),
        ended_at_local=session.ended_at.astimezone(STOCKHOLM),
        energy_kwh=session.energy_wh / 1000,
        charging_hours=Decimal("2.5"),
        parking_hours=Decimal(0),
        id_tag=session.id_tag,
        tariff_id="t",
        unit_prices=[],
    )


def invoice_of(session: ClosedSession, registry: RegistryDocument, tariff=None, samples=()):
    site = registry.sites[0]
    tariff = tariff or flat_as_ocpi(site, site.tariff)
    rated = rating.rate(
        session, list(samples), tariff, site, registry.operator, last_updated=session.ended_at
    )
    lines = rating.lines_of(rated.cdr, site.time_zone)
    document = invoicing.build_invoice(
        number="LV-0000042",
        issued_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        seller=registry.operator,
        buyer=registry.fleets[0],
        facts=facts(session, registry),
        lines=lines,
        currency=rated.cdr.currency,
    )
    return rated, lines, document


def test_energy_times_price_rounded_to_ore_plus_vat(registry_document):
    # Given 17 345 Wh at Stockholm's flat 2.80 SEK/kWh
    _, lines, document = invoice_of(closed("17345"), registry_document)
    # Then 48.566 → 48.57 net, 25 % VAT = 12.1425 → 12.14, 60.71 to pay
    (energy,) = document.lines
    assert (energy.quantity, energy.unit_code, energy.net_price) == (
        Decimal("17.345"),
        Unit.KILOWATT_HOUR,
        Decimal("2.80"),
    )
    assert (document.totals.tax_exclusive_total, document.totals.vat_total) == (
        Decimal("48.57"),
        Decimal("12.14"),
    )
    assert document.totals.payable == Decimal("60.71")
    # And the live cost and 2.0.1's totalCost say exactly this
    assert invoicing.gross_of(lines) == Decimal("60.71")


def test_the_invoice_names_both_parties_for_peppol_and_is_due_in_30_days(registry_document):
    _, _, document = invoice_of(closed("17345"), registry_document)
    assert document.seller.vat_id == "SE559999000801"
    assert document.seller.tax_registration_id == "Godkänd för F-skatt"
    assert document.seller.electronic_address.value == "5599990008"
    assert document.buyer.name == "Nordvind Logistik AB"
    assert document.buyer_reference == "NORDVIND-LADDNING"
    assert (document.issue_date.isoformat(), document.due_date.isoformat()) == ("2026-11-01", "2026-12-01")
    assert (
        document.payment_means is not None and document.payment_means.remittance_information == "LV-0000042"
    )


def test_forms_are_filed_by_the_local_month_the_session_ended_in(registry_document):
    # Ended 23:30 UTC on 31 October = 00:30 on 1 November in Stockholm: a November invoice
    session = closed("17345")
    session_facts = facts(session, registry_document)
    assert invoicing.document_key("laddvakt-cpo", session_facts, "LV-0000042", "xml") == (
        "invoices/laddvakt-cpo/2026/11/LV-0000042.xml"
    )
    assert (
        invoicing.cdr_key("laddvakt-cpo", session_facts, "LV-STHLM-01-7")
        == "cdrs/laddvakt-cpo/2026/11/LV-STHLM-01-7.json"
    )


TIME_OF_USE = parse_tariff(
    """{"id": "tou", "currency": "SEK", "last_updated": "2026-01-01T00:00:00Z",
        "elements": [
          {"price_components": [{"type": "FLAT", "price": 5.00, "vat": 25, "step_size": 1}]},
          {"price_components": [{"type": "ENERGY", "price": 4.00, "vat": 25, "step_size": 1}],
           "restrictions": {"start_time": "06:00", "end_time": "22:00"}},
          {"price_components": [{"type": "ENERGY", "price": 2.00, "vat": 25, "step_size": 1}]},
          {"price_components": [{"type": "PARKING_TIME", "price": 60.00, "vat": 25, "step_size": 60}]}
        ]}"""
)


def test_energy_and_each_service_fee_are_lines_of_their_own_with_their_vat(registry_document):
    # Given a session from 21:00 to 23:30 Stockholm time that charges 20 kWh by 22:30 and then
    # stays plugged in for an hour without charging
    session = ClosedSession(
        **{**closed("20000").model_dump(), "started_at": datetime(2026, 6, 1, 19, 0, tzinfo=UTC),
           "ended_at": datetime(2026, 6, 1, 21, 30, tzinfo=UTC)}
    )  # fmt: skip
    samples = [
        MeterSample(
            timestamp=datetime(2026, 6, 1, 19, 0, tzinfo=UTC), energy_wh=Decimal(1000), power_w=Decimal(11000)
        ),
        MeterSample(
            timestamp=datetime(2026, 6, 1, 20, 0, tzinfo=UTC), energy_wh=Decimal(12000), power_w=Decimal(9000)
        ),
        MeterSample(
            timestamp=datetime(2026, 6, 1, 20, 30, tzinfo=UTC), energy_wh=Decimal(21000), power_w=Decimal(0)
        ),
    ]
    rated, lines, document = invoice_of(session, registry_document, TIME_OF_USE, samples)
    # Then the start fee, day energy, evening energy and the parking hour are separate lines
    by_item = {line.seller_item_id: line for line in document.lines if line.seller_item_id != "ENERGY"}
    energy = [line for line in document.lines if line.seller_item_id == "ENERGY"]
    assert {e.net_price for e in energy} == {Decimal("4.00"), Decimal("2.00")}
    assert sum(e.quantity for e in energy) == Decimal(20)
    assert by_item["FLAT"].net_amount == Decimal("5.00") and by_item["FLAT"].unit_code == Unit.ONE
    assert by_item["PARKING_TIME"].quantity == Decimal(1) and by_item["PARKING_TIME"].net_amount == Decimal(
        "60.00"
    )
    assert all(line.vat_category is VatCategory.STANDARD and line.vat_rate == 25 for line in document.lines)
    # And the CDR's energy is the energy billed, its periods account for all of it
    assert sum(p.volume(CdrDimensionType.ENERGY) or 0 for p in rated.cdr.charging_periods) == Decimal(20)
    assert invoicing.gross_of(lines) == document.totals.payable


def test_a_buyer_without_a_peppol_address_is_refused_with_the_reason(registry_document):
    nameless = registry_document.fleets[0].model_copy(update={"organisation_number": "", "peppol": None})
    session = closed("1000")
    site = registry_document.sites[0]
    rated = rating.rate(
        session,
        [],
        flat_as_ocpi(site, site.tariff),
        site,
        registry_document.operator,
        last_updated=session.ended_at,
    )
    with pytest.raises(NotPriceable, match="no Peppol address"):
        invoicing.build_invoice(
            number="LV-0000043",
            issued_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
            seller=registry_document.operator,
            buyer=nameless,
            facts=facts(session, registry_document),
            lines=rating.lines_of(rated.cdr, site.time_zone),
            currency="SEK",
        )


def test_billed_energy_is_the_trusted_energy_however_the_periods_measured_it():
    # An operator decided 6 kWh; the meter's periods measured 4 and 12
    periods = rating.with_energy([_period(4), _period(12)], Decimal(6))
    assert [p.volume(CdrDimensionType.ENERGY) for p in periods] == [Decimal("1.5"), Decimal("4.5")]


def _period(kwh: int):
    from shared.models.ocpi import CdrDimension, ChargingPeriod

    return ChargingPeriod(
        start_date_time=datetime(2026, 1, 1, tzinfo=UTC),
        dimensions=[CdrDimension(type=CdrDimensionType.ENERGY, volume=Decimal(kwh))],
    )
