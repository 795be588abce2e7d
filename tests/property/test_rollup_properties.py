"""A session's daily rollup contributions lose nothing and invent nothing.

For random sessions (up to three days long, across the clock changes of zones with 1-hour,
30-minute and no daylight saving, with meter resets, idle spells and odd amounts), split by the
site's local days:
- energy, net and gross cost sum to the session's totals exactly (Decimal, no rounding left over);
- each day's quarter hours sum to that day's energy, and no part is negative;
- the time plugged in sums to the session's length, and charging + idle is each day's plugged time;
- the days are exactly the local days the session touches, it arrives once and departs once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.energy import Reading
from shared.domain.rollups import DayUsage, SessionUsage, counters, delta, seconds, share, split_by_day

pytestmark = pytest.mark.property

# Stockholm and New York change by an hour (on different dates), Lord Howe by half an hour,
# Kathmandu never (at +05:45); all within days of the start instants drawn below.
ZONES = ["Europe/Stockholm", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Europe forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Europe back
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York back
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe back
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe forward
]

amounts = st.decimals(min_value=0, max_value=200_000, places=3, allow_nan=False, allow_infinity=False)
money = st.decimals(min_value=0, max_value=5_000, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def sessions(draw: st.DrawFn) -> SessionUsage:
    near = draw(st.sampled_from(CHANGES))
    start = near + timedelta(
        seconds=draw(st.integers(-2 * 86400, 86400)), microseconds=draw(st.integers(0, 999))
    )
    length = timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    end = start + length
    # Register readings at random instants in the session, rising, sometimes reset to a lower value
    offsets = sorted(draw(st.lists(st.integers(0, int(length.total_seconds())), max_size=12)))
    register, readings = draw(amounts), []
    for offset in offsets:
        register = (
            draw(amounts) if draw(st.booleans()) and draw(st.booleans()) else register + draw(amounts) / 10
        )
        readings.append(Reading(start + timedelta(seconds=offset), register))
    states = sorted(draw(st.lists(st.integers(0, int(length.total_seconds())), max_size=6)))
    charging_from = [(start + timedelta(seconds=s), draw(st.booleans())) for s in states]
    return SessionUsage(
        session_id="cp:1",
        attempt=0,
        fleet_id="f",
        site_id="s",
        charge_point_id="cp",
        vehicle_id=draw(st.sampled_from(["v", None])),
        driver_id=None,
        time_zone=draw(st.sampled_from(ZONES)),
        started_at=start,
        ended_at=end,
        energy_wh=draw(amounts),
        readings=readings,
        charging_from=charging_from,
        currency="SEK",
        cost_net=(net := draw(money)),
        cost_gross=net * Decimal("1.25"),
    )


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_the_days_add_up_to_the_session_exactly(usage: SessionUsage) -> None:
    days = split_by_day(usage)
    parts = list(days.values())
    assert sum((p.energy_wh for p in parts), Decimal(0)) == usage.energy_wh
    assert sum((p.cost_net for p in parts), Decimal(0)) == usage.cost_net
    assert sum((p.cost_gross for p in parts), Decimal(0)) == usage.cost_gross
    assert sum((p.plugged_s for p in parts), Decimal(0)) == seconds(usage.ended_at - usage.started_at)
    for part in parts:
        assert sum(part.quarters.values(), Decimal(0)) == part.energy_wh
        assert min([part.energy_wh, part.cost_net, part.cost_gross, part.charging_s, part.idle_s]) >= 0
        assert all(wh > 0 for wh in part.quarters.values())
        assert part.charging_s + part.idle_s == part.plugged_s


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_the_days_are_the_local_days_touched_with_one_arrival_and_one_departure(usage: SessionUsage) -> None:
    zone = ZoneInfo(usage.time_zone)
    days = split_by_day(usage)
    first, last = usage.started_at.astimezone(zone).date(), usage.ended_at.astimezone(zone).date()
    assert list(days) == [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert sum(p.sessions for p in days.values()) == 1
    assert days[first].arrivals == {usage.started_at.astimezone(zone).hour: 1}
    assert days[last].departures == {usage.ended_at.astimezone(zone).hour: 1}
    # A local day has 92 to 100 quarter hours (a clock change of up to an hour)
    assert all(0 <= q < 100 for p in days.values() for q in p.quarters)
    # And no day holds more plugged time than it is long
    assert all(p.plugged_s <= 25 * 3600 for p in days.values())


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=-10_000, max_value=10_000, places=5, allow_nan=False, allow_infinity=False),
    st.lists(st.decimals(min_value=0, max_value=1_000, places=3, allow_nan=False), min_size=1, max_size=40),
)
def test_a_share_sums_exactly_and_keeps_the_sign(whole: Decimal, weights: list[Decimal]) -> None:
    parts = share(whole, weights, Decimal("0.001"))
    assert sum(parts, Decimal(0)) == whole
    assert all(p * whole >= 0 for p in parts)


@settings(max_examples=100, deadline=None)
@given(sessions(), sessions())
def test_a_correction_delta_turns_the_old_items_into_the_new(old: SessionUsage, new: SessionUsage) -> None:
    def items(usage: SessionUsage) -> dict[tuple[str, str], dict[str, Decimal]]:
        whole = DayUsage(day=usage.started_at.date())
        for part in split_by_day(usage).values():
            whole.energy_wh += part.energy_wh
        return counters(usage, whole)

    before, after = items(old), items(new)
    for key in {*before, *after}:
        was, now = before.get(key, {}), after.get(key, {})
        changed = delta(was, now)
        rebuilt = {n: was.get(n, Decimal(0)) + changed.get(n, Decimal(0)) for n in {*was, *now}}
        assert {n: v for n, v in rebuilt.items() if v} == {n: v for n, v in now.items() if v}
