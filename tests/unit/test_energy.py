"""Energy from register readings as chargers really send them: resets, offline baselines, bad units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.energy import readings_of, session_energy
from shared.models.sessions import MeterSample

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AC22 = Decimal(22)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def samples(*points: tuple[int, int | str, str | None]) -> list[MeterSample]:
    return [
        MeterSample(timestamp=at(m), energy_wh=Decimal(str(wh)), power_w=Decimal(p) if p else None)
        for m, wh, p in points
    ]


def test_clean_session_energy_is_the_register_difference():
    series = samples((15, 12_000, "11000"), (30, 14_750, "11000"))
    verdict = session_energy(readings_of(T0, Decimal(10_000), series, at(60), Decimal(20_250)), AC22, series)
    assert verdict.energy_wh == Decimal(10_250) and verdict.trustworthy and verdict.resets == []


def test_a_register_reset_mid_session_keeps_the_energy_before_and_after():
    # 10 000 → 14 000 (4 kWh), the charger reboots and restarts at 0, then 0 → 2 500 (2.5 kWh)
    series = samples((20, 14_000, None), (40, 0, None), (60, 2_500, None))
    verdict = session_energy(readings_of(T0, Decimal(10_000), series, at(70), Decimal(2_500)), AC22, series)
    assert verdict.energy_wh == Decimal(6_500)
    assert verdict.resets == [at(40)]
    assert verdict.trustworthy


def test_an_offline_zero_baseline_is_not_billed_as_a_lifetime_register():
    # meterStart 0 (offline start) while the register stands at 910 kWh: bill 0.083 kWh, not 910
    series = samples((5, 910_000, None), (20, 910_083, None))
    verdict = session_energy(readings_of(T0, Decimal(0), series, at(30), Decimal(910_083)), AC22, series)
    assert verdict.baseline_ignored
    assert verdict.energy_wh == Decimal(83)
    assert verdict.trustworthy


def test_energy_faster_than_the_connector_allows_is_flagged():
    # 15 kWh in 10 minutes is 90 kW on a 22 kW charger
    series = samples(
        (10, 25_000, None),
    )
    verdict = session_energy(readings_of(T0, Decimal(10_000), series, at(20), Decimal(26_000)), AC22, series)
    assert not verdict.trustworthy
    assert "more than 22 kW can deliver" in verdict.flags[0]


def test_kwh_values_labelled_wh_are_flagged():
    # 11 kW for two hours should add ~22 000 Wh; the register adds 22 (kWh values sent as Wh)
    series = samples(*[(m, 1_000 + m * 22 // 120, "11000") for m in range(0, 121, 15)])
    verdict = session_energy(readings_of(T0, Decimal(1_000), series, at(120), Decimal(1_022)), AC22, series)
    assert not verdict.trustworthy
    assert "kWh values labelled Wh" in verdict.flags[0]


def test_readings_in_any_arrival_order_give_the_same_energy():
    series = samples((15, 12_000, None), (30, 14_750, None), (45, 17_000, None))
    shuffled = [series[2], series[0], series[1]]
    first = session_energy(readings_of(T0, Decimal(10_000), series, at(60), Decimal(18_000)), AC22)
    second = session_energy(readings_of(T0, Decimal(10_000), shuffled, at(60), Decimal(18_000)), AC22)
    assert first.energy_wh == second.energy_wh == Decimal(8_000)
