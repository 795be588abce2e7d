"""A site's OCPI tariff as the planner's price curve: energy prices by local time of day and
weekday in the site's zone, across DST changes, merged where the price does not change."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.price_curve import energy_price_curve
from shared.domain.scheduling import PricePeriod
from shared.models.ocpi import Tariff, parse_tariff

pytestmark = pytest.mark.unit

STOCKHOLM = ZoneInfo("Europe/Stockholm")
D = Decimal


def energy(price: str, vat: str | None = None, **restrictions: Any) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "ENERGY", "price": D(price), "step_size": 1}
    if vat is not None:
        component["vat"] = D(vat)
    element: dict[str, Any] = {"price_components": [component]}
    if restrictions:
        element["restrictions"] = restrictions
    return element


def tariff(*elements: dict[str, Any]) -> Tariff:
    return parse_tariff({"id": "T", "currency": "SEK", "elements": list(elements)})


WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
DAY_AND_NIGHT = tariff(
    energy("2.50", start_time="06:00", end_time="22:00", day_of_week=WEEKDAYS), energy("1.00")
)


def curve(t: Tariff, start: datetime, end: datetime) -> list[tuple[str, str]]:
    return [
        (p.starts_at.isoformat(), str(p.price_per_kwh)) for p in energy_price_curve(t, STOCKHOLM, start, end)
    ]


def test_weekday_day_price_and_night_and_weekend_price_in_local_time():
    # Given day energy at 2.50 on weekdays 06-22 Stockholm time, 1.00 otherwise (winter: UTC+1)
    got = curve(DAY_AND_NIGHT, datetime(2026, 1, 16, 0, tzinfo=UTC), datetime(2026, 1, 20, 0, tzinfo=UTC))
    # Then Friday's day runs 05-21 UTC, the weekend is night price, Monday's day starts 05 UTC
    assert got == [
        ("2026-01-16T00:00:00+00:00", "1.00"),
        ("2026-01-16T05:00:00+00:00", "2.50"),
        ("2026-01-16T21:00:00+00:00", "1.00"),
        ("2026-01-19T05:00:00+00:00", "2.50"),
        ("2026-01-19T21:00:00+00:00", "1.00"),
    ]


def test_spring_forward_moves_the_utc_switch_by_an_hour():
    # Given the clocks go forward on Sunday 29 March 2026 (UTC+1 → UTC+2)
    got = curve(DAY_AND_NIGHT, datetime(2026, 3, 27, 0, tzinfo=UTC), datetime(2026, 3, 31, 0, tzinfo=UTC))
    # Then Friday's 06:00 is 05:00 UTC and Monday's is 04:00 UTC
    assert got == [
        ("2026-03-27T00:00:00+00:00", "1.00"),
        ("2026-03-27T05:00:00+00:00", "2.50"),
        ("2026-03-27T21:00:00+00:00", "1.00"),
        ("2026-03-30T04:00:00+00:00", "2.50"),
        ("2026-03-30T20:00:00+00:00", "1.00"),
    ]


def test_a_switch_inside_the_skipped_hour_happens_at_the_jump():
    # Given a price from 02:30 local, which does not exist on 29 March 2026 (02:00 → 03:00)
    t = tariff(energy("0.50", start_time="02:30", end_time="05:00"), energy("1.50"))
    got = curve(t, datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 6, tzinfo=UTC))
    # Then the cheap price starts at the jump (01:00 UTC = 03:00 CEST) and ends at 05:00 CEST
    assert got == [
        ("2026-03-28T23:00:00+00:00", "1.50"),
        ("2026-03-29T01:00:00+00:00", "0.50"),
        ("2026-03-29T03:00:00+00:00", "1.50"),
    ]


def test_autumn_back_switches_at_the_first_occurrence_and_the_window_lasts_an_hour_longer():
    # Given a night price 00:00-06:00 local, on the night the clocks go back (25 October 2026)
    t = tariff(energy("0.80", start_time="00:00", end_time="06:00"), energy("2.00"))
    got = curve(t, datetime(2026, 10, 24, 20, tzinfo=UTC), datetime(2026, 10, 25, 12, tzinfo=UTC))
    # Then it starts at 22:00 UTC (00:00 CEST) and ends at 05:00 UTC (06:00 CET): seven hours
    assert got == [
        ("2026-10-24T20:00:00+00:00", "2.00"),
        ("2026-10-24T22:00:00+00:00", "0.80"),
        ("2026-10-25T05:00:00+00:00", "2.00"),
    ]


def test_a_window_past_midnight_wraps():
    t = tariff(energy("0.60", start_time="22:00", end_time="06:00"), energy("1.80"))
    got = curve(t, datetime(2026, 1, 14, 12, tzinfo=UTC), datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert got == [
        ("2026-01-14T12:00:00+00:00", "1.80"),
        ("2026-01-14T21:00:00+00:00", "0.60"),
        ("2026-01-15T05:00:00+00:00", "1.80"),
    ]


def test_without_an_energy_price_energy_costs_nothing_and_vat_is_added_when_asked():
    only_time = parse_tariff(
        {
            "id": "T",
            "currency": "SEK",
            "elements": [{"price_components": [{"type": "TIME", "price": 5, "step_size": 1}]}],
        }
    )
    start, end = datetime(2026, 1, 14, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC)
    assert energy_price_curve(only_time, STOCKHOLM, start, end) == (PricePeriod(start, D(0)),)
    with_vat = tariff(energy("2.00", vat="25"))
    assert energy_price_curve(with_vat, STOCKHOLM, start, end, include_vat=True)[0].price_per_kwh == D("2.5")


def test_naive_times_are_refused_and_an_empty_horizon_is_empty():
    with pytest.raises(ValueError, match="aware"):
        energy_price_curve(DAY_AND_NIGHT, STOCKHOLM, datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert energy_price_curve(DAY_AND_NIGHT, STOCKHOLM, at, at) == ()
