"""What holds for every charge-complete estimate, whatever the readings: it never lies in the past
(a car cannot finish before now unless it is already done), and asking for more energy never
makes it sooner. Never a crash, whatever is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.charge_complete import ChargeCompleteQuery, TaperModel, estimate_charge_complete
from shared.models.sessions import MeterSample

pytestmark = pytest.mark.property

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)

percent = st.decimals(min_value=1, max_value=100, places=1)
power_w = st.decimals(min_value=0, max_value=350_000, places=0)
battery = st.none() | st.decimals(min_value=10, max_value=200, places=1)
taper = st.none() | st.builds(
    TaperModel, st.floats(min_value=50, max_value=99), st.sampled_from(["ac", "dc"]), st.integers(0, 20)
)
reading_age = st.integers(min_value=0, max_value=3 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m))
samples = st.lists(
    st.builds(
        MeterSample,
        timestamp=reading_age,
        power_w=st.none() | power_w,
        soc_percent=st.none() | percent,
        energy_wh=st.none() | st.decimals(min_value=0, max_value=200_000, places=0),
    ),
    max_size=12,
).map(tuple)


def _query(**values) -> ChargeCompleteQuery:
    return ChargeCompleteQuery(now=NOW, plugged_in_at=NOW - timedelta(hours=3), **values)


@settings(max_examples=300, deadline=None)
@given(
    soc=st.none() | percent,
    target=st.none() | percent,
    energy_target=st.none() | st.decimals(min_value=1, max_value=200, places=1),
    delivered=st.decimals(min_value=0, max_value=150, places=2),
    power=st.none() | power_w,
    battery_kwh=battery,
    soc_at=st.none() | reading_age,
    connector=st.none() | st.decimals(min_value=1, max_value=350, places=0),
    model=taper,
    readings=samples,
)
def test_an_estimate_not_yet_done_is_never_before_now(
    soc, target, energy_target, delivered, power, battery_kwh, soc_at, connector, model, readings
):
    estimate = estimate_charge_complete(
        _query(
            energy_delivered_kwh=delivered,
            power_w=power,
            power_at=soc_at,
            soc_percent=soc,
            soc_at=soc_at,
            battery_kwh=battery_kwh,
            target_soc_percent=target,
            target_energy_kwh=energy_target,
            connector_kw=connector,
            taper=model,
            samples=readings,
        )
    )
    if estimate.done:
        assert estimate.at is not None and estimate.at <= NOW
    elif estimate.at is not None:
        assert estimate.at >= NOW
    else:
        assert estimate.confidence == "low" and estimate.missing


@settings(max_examples=300, deadline=None)
@given(
    soc=st.decimals(min_value=1, max_value=98, places=1),
    more=st.tuples(
        st.decimals(min_value=0, max_value=100, places=1), st.decimals(min_value=0, max_value=100, places=1)
    ),
    power=st.decimals(min_value=200, max_value=350_000, places=0),
    battery_kwh=st.decimals(min_value=10, max_value=200, places=1),
    model=taper,
)
def test_more_energy_needed_is_never_sooner(soc, more, power, battery_kwh, model):
    low, high = sorted(min(Decimal(100), soc + m) for m in more)

    def at(target: Decimal) -> datetime | None:
        return estimate_charge_complete(
            _query(
                energy_delivered_kwh=Decimal(5),
                power_w=power,
                power_at=NOW,
                soc_percent=soc,
                soc_at=NOW,
                battery_kwh=battery_kwh,
                target_soc_percent=target,
                taper=model,
            )
        ).at

    sooner, later = at(low), at(high)
    assert sooner is not None and later is not None
    assert sooner <= later


@settings(max_examples=200, deadline=None)
@given(
    needed=st.tuples(
        st.decimals(min_value=1, max_value=200, places=1), st.decimals(min_value=1, max_value=200, places=1)
    ),
    power=st.decimals(min_value=200, max_value=350_000, places=0),
)
def test_more_energy_asked_without_soc_is_never_sooner(needed, power):
    low, high = sorted(needed)

    def at(target: Decimal) -> datetime | None:
        return estimate_charge_complete(
            _query(energy_delivered_kwh=Decimal(0), power_w=power, power_at=NOW, target_energy_kwh=target)
        ).at

    sooner, later = at(low), at(high)
    assert sooner is not None and later is not None and sooner <= later
