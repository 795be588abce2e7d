"""Properties of pricing that must hold for every session, not just the ones we thought of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain import invoicing, rating
from shared.domain.meter import read_meter_values
from shared.domain.tariff_choice import flat_as_ocpi
from shared.models.invoice import round_money
from shared.models.registry import FlatTariff, Operator, Site
from shared.models.sessions import ClosedSession

pytestmark = pytest.mark.property

energies = st.integers(min_value=0, max_value=2_000_000)  # up to 2 MWh in Wh
prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("20"), places=2)
vat_rates = st.sampled_from([Decimal(0), Decimal(6), Decimal(12), Decimal(25)])


def _closed(energy_wh: int) -> ClosedSession:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    return ClosedSession(
        session_id="CP:1",
        transaction_id="1",
        charge_point_id="CP",
        connector_id=1,
        id_tag="T",
        fleet_id="f",
        site_id="s",
        started_at=at,
        ended_at=at + timedelta(hours=1),
        meter_start_wh=Decimal(0),
        meter_stop_wh=Decimal(energy_wh),
        energy_wh=Decimal(energy_wh),
    )


SELLER = Operator(id="cpo", name="CPO AB")


def gross(energy_wh: int, tariff: FlatTariff) -> tuple[Decimal, Decimal, Decimal]:
    """Net, VAT and gross of a one-hour session at a flat price, as the invoice will total them."""
    site = Site(id="s", fleet_id="f", name="Site", tariff=tariff)
    session = _closed(energy_wh)
    rated = rating.rate(session, [], flat_as_ocpi(site, tariff), site, SELLER, last_updated=session.ended_at)
    lines = rating.lines_of(rated.cdr, site.time_zone)
    total = invoicing.gross_of(lines)
    net = sum((round_money(line.excl_vat) for line in lines), Decimal(0))  # each line to öre, half up
    return net, total - net, total


@given(energy=energies, price=prices, vat=vat_rates)
def test_totals_are_whole_ore_and_add_up(energy, price, vat):
    net, vat_amount, total = gross(energy, FlatTariff(energy_price_per_kwh=price, vat_rate_percent=vat))
    for amount in (net, vat_amount, total):
        assert amount == amount.quantize(Decimal("0.01"))
    # Rounding never moves the net more than half an öre from the exact price.
    exact = Decimal(energy) / 1000 * price
    assert abs(net - exact) <= Decimal("0.005")
    assert abs(vat_amount - net * vat / 100) <= Decimal("0.005")


@given(low=energies, extra=st.integers(min_value=0, max_value=100_000), price=prices, vat=vat_rates)
def test_more_energy_never_costs_less(low, extra, price, vat):
    tariff = FlatTariff(energy_price_per_kwh=price, vat_rate_percent=vat)
    assert gross(low + extra, tariff)[2] >= gross(low, tariff)[2]


@given(wh=st.integers(min_value=0, max_value=10**9))
def test_a_register_in_kwh_reads_the_same_as_in_wh(wh):
    kwh_text = str(Decimal(wh) / 1000)
    as_wh = read_meter_values([{"timestamp": "2026-11-23T07:00:00Z", "sampledValue": [{"value": str(wh)}]}])
    as_kwh = read_meter_values(
        [{"timestamp": "2026-11-23T07:00:00Z", "sampledValue": [{"value": kwh_text, "unit": "kWh"}]}]
    )
    assert as_wh.samples[0].energy_wh == as_kwh.samples[0].energy_wh == Decimal(wh)
