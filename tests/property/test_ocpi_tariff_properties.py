"""Properties of OCPI pricing and of charging periods, for random tariffs and sessions.

- splitting a period in two never changes what a session costs when no restriction can tell the
  halves apart (step_size included: it rounds the session total, not a period);
- every total is the sum of its lines, and total_cost the sum of all of them;
- billed volumes are never below measured ones, and the rounded total is a whole number of steps;
- min_price and max_price bound total_cost;
- charging periods account for every second of the session and every Wh the register counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.charging_periods import charging_periods
from shared.domain.energy import readings_of, session_energy
from shared.domain.tariffs import CdrTotals, LineKind, price_periods
from shared.models.ocpi import CdrDimensionType, ChargingPeriod, Tariff, TariffDimensionType, parse_tariff
from shared.models.sessions import MeterSample

pytestmark = pytest.mark.property

STOCKHOLM = ZoneInfo("Europe/Stockholm")
START = datetime(2026, 3, 28, 18, 0, tzinfo=UTC)  # the evening before the spring DST change
EXACT = Decimal("1E-12")
# Quantities that add up over time (a power does not).
EXTENSIVE = {CdrDimensionType.ENERGY, CdrDimensionType.TIME, CdrDimensionType.PARKING_TIME}

prices = st.decimals(min_value=0, max_value=50, places=2)
vats = st.none() | st.sampled_from([Decimal(0), Decimal("6"), Decimal("12"), Decimal("25")])
steps = st.sampled_from([0, 1, 60, 300, 900, 1000, 5000])
volumes = st.decimals(min_value=0, max_value=40, places=4)


@st.composite
def plain_tariffs(draw: Any) -> Tariff:
    """One element, no restrictions: nothing can tell one moment of the session from another."""
    components = [
        {"type": kind, "price": draw(prices), "step_size": draw(steps), "vat": draw(vats)}
        for kind in draw(st.sets(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1))
    ]
    return parse_tariff(
        {"id": "P", "currency": "SEK", "elements": [{"price_components": _no_none(components)}]}
    )


@st.composite
def restricted_tariffs(draw: Any) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        restrictions: dict[str, Any] = {}
        if draw(st.booleans()):
            start, end = draw(
                st.lists(
                    st.sampled_from(["00:00", "02:30", "06:00", "17:00", "22:00"]),
                    min_size=2,
                    max_size=2,
                    unique=True,
                )
            )
            restrictions.update(start_time=start, end_time=end)
        if draw(st.booleans()):
            restrictions["max_kwh"] = draw(st.decimals(min_value=1, max_value=20, places=1))
        if draw(st.booleans()):
            restrictions["max_power"] = draw(st.decimals(min_value=1, max_value=50, places=0))
        if draw(st.booleans()):
            restrictions["min_duration"] = draw(st.integers(0, 7200))
        kinds = draw(st.sets(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1))
        components = [
            {"type": k, "price": draw(prices), "step_size": draw(steps), "vat": draw(vats)} for k in kinds
        ]
        element: dict[str, Any] = {"price_components": _no_none(components)}
        if restrictions:
            element["restrictions"] = restrictions
        elements.append(element)
    limits: dict[str, Any] = {}
    taxed = any(c.get("vat") for e in elements for c in e["price_components"])
    if draw(st.booleans()):
        low = draw(st.decimals(min_value=0, max_value=20, places=2))
        limits["min_price"] = (
            {"excl_vat": low, "incl_vat": low * Decimal("1.25")} if taxed else {"excl_vat": low}
        )
        if draw(st.booleans()):
            high = low + draw(st.decimals(min_value=0, max_value=100, places=2))
            limits["max_price"] = (
                {"excl_vat": high, "incl_vat": high * Decimal("1.25")} if taxed else {"excl_vat": high}
            )
    return parse_tariff({"id": "R", "currency": "SEK", "elements": elements, **limits})


def _no_none(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if v is not None} for c in components]


@st.composite
def sessions(draw: Any) -> tuple[list[ChargingPeriod], datetime]:
    count = draw(st.integers(1, 6))
    minutes = sorted(draw(st.lists(st.integers(1, 600), min_size=count, max_size=count, unique=True)))
    periods = []
    at = START
    for index in range(count):
        length = timedelta(minutes=minutes[index] - (minutes[index - 1] if index else 0))
        hours = Decimal(int(length.total_seconds())) / 3600
        kind = draw(st.sampled_from(["TIME", "PARKING_TIME"]))
        dimensions = [{"type": kind, "volume": hours}]
        if kind == "TIME" or draw(st.booleans()):
            dimensions.append({"type": "ENERGY", "volume": draw(volumes)})
        power = draw(st.decimals(min_value=0, max_value=60, places=1))
        dimensions += [{"type": "MIN_POWER", "volume": power}, {"type": "MAX_POWER", "volume": power}]
        periods.append(ChargingPeriod.model_validate({"start_date_time": at, "dimensions": dimensions}))
        at += length
    return periods, at


def price(t: Tariff, periods: list[ChargingPeriod], end: datetime) -> CdrTotals:
    return price_periods(t, periods, STOCKHOLM, session_start=START, session_end=end)


def split(period: ChargingPeriod, fraction: Decimal, end: datetime) -> list[ChargingPeriod]:
    length = end - period.start_date_time
    middle = period.start_date_time + timedelta(seconds=int(length.total_seconds() * float(fraction)))

    def part(share: Decimal, at: datetime) -> ChargingPeriod:
        return ChargingPeriod(
            start_date_time=at,
            dimensions=[
                d.model_copy(update={"volume": d.volume * share}) if d.type in EXTENSIVE else d
                for d in period.dimensions
            ],
        )

    return [part(fraction, period.start_date_time), part(1 - fraction, middle)]


@settings(max_examples=150, deadline=None)
@given(
    plain_tariffs(),
    sessions(),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2),
    st.data(),
)
def test_splitting_a_period_in_two_never_changes_the_cost(tariff, session, fraction, data):
    # Given a session priced by a tariff nothing in the session can tell apart
    periods, end = session
    index = data.draw(st.integers(0, len(periods) - 1))
    until = periods[index + 1].start_date_time if index + 1 < len(periods) else end
    # When one period is cut in two, its volumes shared between the halves
    cut = periods[:index] + split(periods[index], fraction, until) + periods[index + 1 :]
    before, after = price(tariff, periods, end), price(tariff, cut, end)
    # Then the session costs the same, to the last of 12 decimals
    assert abs(before.total_cost.excl_vat - after.total_cost.excl_vat) < EXACT
    assert abs((before.total_cost.incl_vat or 0) - (after.total_cost.incl_vat or 0)) < EXACT


@settings(max_examples=200, deadline=None)
@given(restricted_tariffs(), sessions())
def test_every_total_is_the_sum_of_its_lines(tariff, session):
    periods, end = session
    totals = price(tariff, periods, end)
    kinds = {
        "total_energy_cost": [LineKind.ENERGY],
        "total_time_cost": [LineKind.TIME],
        "total_parking_cost": [LineKind.PARKING_TIME],
        "total_fixed_cost": [LineKind.FLAT],
        "total_reservation_cost": [LineKind.RESERVATION_TIME, LineKind.RESERVATION_FLAT],
    }
    for total, of in kinds.items():
        lines = [line for line in totals.lines if line.kind in of]
        assert getattr(totals, total).excl_vat == sum((line.excl_vat for line in lines), Decimal(0))
        assert getattr(totals, total).incl_vat == sum((line.incl_vat for line in lines), Decimal(0))
    assert totals.total_cost.excl_vat == sum((line.excl_vat for line in totals.lines), Decimal(0))
    assert totals.total_cost.incl_vat == sum((line.incl_vat for line in totals.lines), Decimal(0))
    for line in totals.lines:
        assert line.quantity >= line.measured
        assert line.excl_vat == line.quantity * line.price_per_unit or line.kind in (
            LineKind.MIN_PRICE,
            LineKind.MAX_PRICE,
        )


@settings(max_examples=200, deadline=None)
@given(restricted_tariffs(), sessions())
def test_min_and_max_price_bound_the_total(tariff, session):
    periods, end = session
    cost = price(tariff, periods, end).total_cost
    if tariff.min_price is not None:
        assert cost.excl_vat >= tariff.min_price.excl_vat
        assert cost.incl_vat is not None and cost.incl_vat >= (
            tariff.min_price.incl_vat or tariff.min_price.excl_vat
        )
    if tariff.max_price is not None:
        assert cost.excl_vat <= tariff.max_price.excl_vat
        assert cost.incl_vat is not None and cost.incl_vat <= (
            tariff.max_price.incl_vat or tariff.max_price.excl_vat
        )


@settings(max_examples=150, deadline=None)
@given(plain_tariffs(), sessions())
def test_the_rounded_energy_is_a_whole_number_of_steps(tariff, session):
    periods, end = session
    totals = price(tariff, periods, end)
    energy = [line for line in totals.lines if line.kind is LineKind.ENERGY]
    component = tariff.elements[0].component(TariffDimensionType.ENERGY)
    if energy and component is not None and component.step_size:
        billed_wh = sum((line.quantity for line in energy), Decimal(0)) * 1000
        assert abs(billed_wh / component.step_size - round(billed_wh / component.step_size)) < EXACT
        assert billed_wh >= totals.total_energy * 1000


@st.composite
def meter_sessions(draw: Any) -> tuple[list[MeterSample], datetime, datetime]:
    count = draw(st.integers(2, 12))
    offsets = sorted(draw(st.lists(st.integers(0, 14 * 3600), min_size=count, max_size=count, unique=True)))
    register = Decimal(draw(st.integers(0, 100_000)))
    samples = []
    for offset in offsets:
        if draw(st.integers(0, 9)) == 0:
            register = Decimal(draw(st.integers(0, 500)))  # a reset
        else:
            register += Decimal(draw(st.integers(0, 20_000)))
        power = draw(st.none() | st.decimals(min_value=0, max_value=50_000, places=0))
        state = draw(st.none() | st.sampled_from(["Charging", "EVConnected", "SuspendedEV"]))
        samples.append(
            MeterSample(
                timestamp=START + timedelta(seconds=offset),
                energy_wh=register,
                power_w=power,
                charging_state=state,
            )
        )
    end = START + timedelta(seconds=offsets[-1] + draw(st.integers(0, 3600)))
    return samples, START + timedelta(seconds=offsets[0]), end


@settings(max_examples=100, deadline=None)
@given(restricted_tariffs(), meter_sessions())
def test_charging_periods_account_for_every_second_and_every_wh(tariff, session):
    samples, started, ended = session
    periods = charging_periods(samples, started, ended, tariff, STOCKHOLM)
    if ended == started:
        assert periods == []
        return
    # Every second of the session is charging or parking time, once
    seconds = (
        sum(
            (p.volume(CdrDimensionType.TIME) or p.volume(CdrDimensionType.PARKING_TIME) or Decimal(0))
            for p in periods
        )
        * 3600
    )
    assert abs(seconds - Decimal(int((ended - started).total_seconds()))) < Decimal("1E-9")
    # Periods are in order and inside the session
    starts = [p.start_date_time for p in periods]
    assert starts == sorted(starts) and starts[0] == started and starts[-1] < ended
    # Every Wh the register counted (the project's own rule) is in some period
    energy = sum((p.volume(CdrDimensionType.ENERGY) or Decimal(0) for p in periods), Decimal(0)) * 1000
    counted = session_energy(readings_of(started, None, samples, ended, None), Decimal(10**6)).energy_wh
    assert abs(energy - counted) < Decimal("1E-9")
