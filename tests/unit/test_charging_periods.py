"""Charging periods built from meter samples: a new period wherever the price can change, in the
site's local time across daylight saving, and energy counted the project's way across resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.charging_periods import charging_periods
from shared.domain.tariffs import price_periods
from shared.models.ocpi import CdrDimensionType, ChargingPeriod, Tariff, parse_tariff
from shared.models.sessions import MeterSample

pytestmark = pytest.mark.unit

STOCKHOLM = ZoneInfo("Europe/Stockholm")
D = Decimal
HOUR = timedelta(hours=1)


def tariff(*elements: dict[str, Any]) -> Tariff:
    return parse_tariff({"id": "T1", "currency": "SEK", "elements": list(elements)})


def element(kind: str, price: str, step: int = 1, **restrictions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": [{"type": kind, "price": D(price), "step_size": step}]}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def steady(start: datetime, hours: int, kw: int = 11, **extra: Any) -> list[MeterSample]:
    """One sample an hour of steady charging at `kw`."""
    return [
        MeterSample(timestamp=start + h * HOUR, energy_wh=D(kw * 1000 * h), power_w=D(kw * 1000), **extra)
        for h in range(hours + 1)
    ]


def volume(period: ChargingPeriod, kind: CdrDimensionType) -> Decimal:
    found = period.volume(kind)
    assert found is not None, f"{kind} missing in {period}"
    return found


def hours(periods: list[ChargingPeriod], kind: CdrDimensionType) -> Decimal:
    return sum((p.volume(kind) or D(0) for p in periods), D(0)).quantize(D("0.000001"))


NIGHT_TIME = tariff(element("TIME", "10", start_time="22:00", end_time="06:00"), element("TIME", "30"))


def test_a_night_window_over_the_spring_dst_change_covers_seven_real_hours():
    # Given night charging time 22:00–06:00 in Stockholm; on 29 March 2026 clocks jump 02:00 → 03:00
    start = datetime(2026, 3, 28, 21, 0, tzinfo=STOCKHOLM)
    end = datetime(2026, 3, 29, 7, 0, tzinfo=STOCKHOLM)  # 9 real hours later
    samples = steady(start.astimezone(UTC), 9)
    # When the session's periods are built
    periods = charging_periods(samples, start, end, NIGHT_TIME, STOCKHOLM)
    # Then there are three: before 22:00, the night (22:00 CET to 06:00 CEST) and after 06:00
    assert [p.start_date_time.astimezone(STOCKHOLM).strftime("%H:%M") for p in periods] == [
        "21:00",
        "22:00",
        "06:00",
    ]
    assert [volume(p, CdrDimensionType.TIME) for p in periods] == [D(1), D(7), D(1)]
    # And priced, 7 hours at the night price
    totals = price_periods(NIGHT_TIME, periods, STOCKHOLM, session_start=start, session_end=end)
    assert totals.total_time_cost.excl_vat == 7 * D(10) + 2 * D(30)


def test_a_night_window_over_the_autumn_dst_change_covers_nine_real_hours():
    # Given the same night price; on 25 October 2026 clocks go back 03:00 → 02:00
    start = datetime(2026, 10, 24, 21, 0, tzinfo=STOCKHOLM)
    end = datetime(2026, 10, 25, 7, 0, tzinfo=STOCKHOLM)  # 11 real hours later
    periods = charging_periods(steady(start.astimezone(UTC), 11), start, end, NIGHT_TIME, STOCKHOLM)
    # Then the night lasts 9 real hours
    assert [volume(p, CdrDimensionType.TIME) for p in periods] == [D(1), D(9), D(1)]


def test_a_window_at_a_repeated_local_hour_applies_both_times_the_clock_shows_it():
    # Given a price for 02:30–03:00 local; on 25 October 2026 that half hour happens twice
    t = tariff(element("TIME", "99", start_time="02:30", end_time="03:00"), element("TIME", "1"))
    start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    end = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # 03:00 CET
    periods = charging_periods(steady(start, 2), start, end, t, STOCKHOLM)
    totals = price_periods(t, periods, STOCKHOLM, session_start=start, session_end=end)
    # Then one real hour is at 99 (02:30–03:00 CEST and 02:30–03:00 CET) and one at 1
    assert totals.total_time_cost.excl_vat == D(99) + D(1)
    assert len(periods) == 4


def test_a_window_at_a_skipped_local_hour_never_applies():
    # Given a price for 02:00–03:00 local; on 29 March 2026 that hour does not exist
    t = tariff(element("TIME", "99", start_time="02:00", end_time="03:00"), element("TIME", "1"))
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET
    end = datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST
    periods = charging_periods(steady(start, 2), start, end, t, STOCKHOLM)
    totals = price_periods(t, periods, STOCKHOLM, session_start=start, session_end=end)
    assert totals.total_time_cost.excl_vat == 2 * D(1)


def test_a_new_local_day_starts_a_new_period_when_the_weekday_matters():
    # Given a weekend price; the session runs from Friday 23:00 to Saturday 01:00 local
    t = tariff(element("TIME", "5", day_of_week=["SATURDAY", "SUNDAY"]), element("TIME", "8"))
    start = datetime(2026, 1, 16, 23, 0, tzinfo=STOCKHOLM)
    periods = charging_periods(steady(start.astimezone(UTC), 2), start, start + 2 * HOUR, t, STOCKHOLM)
    # Then it splits at local midnight (23:00 UTC), not at UTC midnight
    assert [p.start_date_time for p in periods] == [
        start.astimezone(UTC),
        datetime(2026, 1, 16, 23, 0, tzinfo=UTC),
    ]
    totals = price_periods(t, periods, STOCKHOLM, session_start=start, session_end=start + 2 * HOUR)
    assert totals.total_time_cost.excl_vat == D(8) + D(5)


def test_charging_state_tells_charging_from_parking():
    # Given an OCPP 2.0.1 session: charging for an hour, then EVConnected (full) for 30 minutes
    t = tariff(element("TIME", "10"), element("PARKING_TIME", "60"))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    samples = [
        MeterSample(timestamp=start, energy_wh=D(1000), power_w=D(7400), charging_state="Charging"),
        MeterSample(timestamp=start + HOUR, energy_wh=D(8400), power_w=D(7400), charging_state="EVConnected"),
    ]
    periods = charging_periods(samples, start, start + timedelta(minutes=90), t, STOCKHOLM)
    # Then an hour of TIME with the energy, and half an hour of PARKING_TIME without any
    assert [
        (volume(p, CdrDimensionType.TIME if i == 0 else CdrDimensionType.PARKING_TIME))
        for i, p in enumerate(periods)
    ] == [D(1), D("0.5")]
    assert volume(periods[0], CdrDimensionType.ENERGY) == D("7.4")
    assert periods[1].volume(CdrDimensionType.ENERGY) is None


def test_without_charging_state_a_power_below_the_threshold_is_parking():
    # Given an OCPP 1.6 session whose power falls to 40 W after 45 minutes
    t = tariff(element("TIME", "10"), element("PARKING_TIME", "60"))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    samples = [
        MeterSample(timestamp=start, energy_wh=D(0), power_w=D(11000)),
        MeterSample(timestamp=start + timedelta(minutes=45), energy_wh=D(8250), power_w=D(40)),
    ]
    periods = charging_periods(samples, start, start + HOUR, t, STOCKHOLM, parking_below_w=D(100))
    assert hours(periods, CdrDimensionType.TIME) == D("0.75")
    assert hours(periods, CdrDimensionType.PARKING_TIME) == D("0.25")


def test_energy_counts_across_a_register_reset_as_the_project_does():
    # Given 10 000 → 14 000 Wh, a reboot to 0, then 0 → 2 500 Wh (6.5 kWh in all)
    t = tariff(element("ENERGY", "2"))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    samples = [
        MeterSample(timestamp=start, energy_wh=D(10_000)),
        MeterSample(timestamp=start + timedelta(minutes=20), energy_wh=D(14_000)),
        MeterSample(timestamp=start + timedelta(minutes=40), energy_wh=D(0)),
        MeterSample(timestamp=start + timedelta(minutes=60), energy_wh=D(2_500)),
    ]
    periods = charging_periods(samples, start, start + HOUR, t, STOCKHOLM)
    assert hours(periods, CdrDimensionType.ENERGY) == D("6.5")


def test_power_crossing_a_threshold_starts_a_new_period_and_is_priced_moment_by_moment():
    # Given the spec's max_power tariff, and 1 kWh at 6 kW, 40 kWh at 48 kW, then 0.5 kWh at 4 kW
    t = tariff(
        element("ENERGY", "0.20", max_power=D(16)),
        element("ENERGY", "0.35", max_power=D(32)),
        element("ENERGY", "0.50"),
    )
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    samples = [
        MeterSample(timestamp=start, energy_wh=D(0), power_w=D(6000)),
        MeterSample(timestamp=start + timedelta(minutes=10), energy_wh=D(1000), power_w=D(48000)),
        MeterSample(timestamp=start + timedelta(minutes=60), energy_wh=D(41000), power_w=D(4000)),
        MeterSample(timestamp=start + timedelta(minutes=67, seconds=30), energy_wh=D(41500), power_w=D(4000)),
    ]
    end = start + timedelta(minutes=67, seconds=30)
    periods = charging_periods(samples, start, end, t, STOCKHOLM)
    totals = price_periods(t, periods, STOCKHOLM, session_start=start, session_end=end)
    # Then three periods and "20.30 euro (excl. VAT)"
    assert len(periods) == 3
    assert totals.total_energy_cost.excl_vat == D("20.30")


def test_without_reported_power_the_registers_average_power_is_used():
    # Given an OCPP 1.6 charger that only reports the register: 3 kWh in the first hour, 30 in the next
    t = tariff(element("ENERGY", "1", max_power=D(16)), element("ENERGY", "2"))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    samples = [
        MeterSample(timestamp=start, energy_wh=D(0)),
        MeterSample(timestamp=start + HOUR, energy_wh=D(3000)),
        MeterSample(timestamp=start + 2 * HOUR, energy_wh=D(33000)),
    ]
    periods = charging_periods(samples, start, start + 2 * HOUR, t, STOCKHOLM)
    totals = price_periods(t, periods, STOCKHOLM, session_start=start, session_end=start + 2 * HOUR)
    assert [(p.volume(CdrDimensionType.MAX_POWER)) for p in periods] == [D(3), D(30)]
    assert totals.total_energy_cost.excl_vat == 3 * D(1) + 30 * D(2)


def test_passing_min_kwh_starts_a_new_period_exactly_there():
    # Given the first kWh free, then 0.20/kWh; the car charges steadily at 6 kW
    t = tariff(element("ENERGY", "0", max_kwh=D(1)), element("ENERGY", "0.20", min_kwh=D(1)))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    samples = steady(start, 1, kw=6)
    periods = charging_periods(samples, start, start + HOUR, t, STOCKHOLM)
    totals = price_periods(t, periods, STOCKHOLM, session_start=start, session_end=start + HOUR)
    # Then the split is at 10 minutes (1 kWh) and 5 kWh are billed
    assert periods[1].start_date_time == start + timedelta(minutes=10)
    assert totals.total_energy_cost.excl_vat == D("1.00")


def test_passing_a_duration_restriction_starts_a_new_period():
    t = tariff(element("TIME", "0", max_duration=1800), element("TIME", "4"))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    periods = charging_periods(steady(start, 1), start, start + HOUR, t, STOCKHOLM)
    assert [p.start_date_time - start for p in periods] == [timedelta(0), timedelta(minutes=30)]


def test_pieces_the_tariff_prices_alike_stay_one_period():
    # Given a tariff without restrictions and a sample every hour for five hours
    t = tariff(element("ENERGY", "2"))
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    periods = charging_periods(steady(start, 5), start, start + 5 * HOUR, t, STOCKHOLM)
    # Then the session is one period carrying all of it
    assert len(periods) == 1
    assert volume(periods[0], CdrDimensionType.ENERGY) == D(55)
    assert periods[0].tariff_id == "T1"


def test_a_session_without_duration_has_no_periods():
    start = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    assert charging_periods([], start, start, tariff(element("ENERGY", "2")), STOCKHOLM) == []
