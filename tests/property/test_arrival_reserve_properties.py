"""What holds for every arrival reserve, whatever the stays: it is never negative, holds nothing in
the current hour, and holds back only the demand of later arrivals, so planning later in the same
day never holds more than planning earlier did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.arrival_reserve import PastStay, learn_arrival_reserve, reserve_steps

pytestmark = pytest.mark.property

ZONE = "Europe/Stockholm"
STHLM = ZoneInfo(ZONE)
FIRST = datetime(2026, 3, 1, tzinfo=UTC)
# Within the 56 days of history from 1 March: the clocks go forward on the 29th.
minute = st.integers(min_value=0, max_value=56 * 24 * 60)
stays = st.lists(
    st.builds(
        lambda start, minutes, kwh: PastStay(
            FIRST + timedelta(minutes=start), FIRST + timedelta(minutes=start + minutes), kwh
        ),
        minute,
        st.integers(min_value=-10, max_value=30 * 60),
        st.decimals(min_value=0, max_value=150, places=3),
    ),
    max_size=40,
)
cap = st.none() | st.decimals(min_value=1, max_value=350, places=1)


@settings(max_examples=60, deadline=None)
@given(stays, cap, minute, st.integers(min_value=1, max_value=24 * 60))
def test_the_reserve_is_never_negative_and_none_now(history, max_kw, at, later):
    reserve = learn_arrival_reserve(history, ZONE, max_power_kw=max_kw)
    now = FIRST + timedelta(minutes=at)
    steps = reserve_steps(reserve, now)
    assert all(s.limit_kw >= 0 for s in steps)
    if steps:
        assert steps[0].starts_at == now and steps[0].limit_kw == 0
        assert steps[1].starts_at - now <= timedelta(hours=1)
    # And it holds only what later arrivals need: later on the same day, never more at any hour
    # both plans hold (to the 0.1 kW they are rounded to)
    then = now + timedelta(minutes=later)
    if steps and then.astimezone(STHLM).date() == now.astimezone(STHLM).date():
        before = {s.starts_at: s.limit_kw for s in steps}
        for step in reserve_steps(reserve, then)[1:]:
            if step.starts_at in before:
                assert step.limit_kw <= before[step.starts_at] + Decimal("0.1")
