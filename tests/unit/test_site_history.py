"""The evaluations' live site history (`RecentStays`): at any moment it holds what a live site's
history would (stays ended by then, plugged in within the last 56 days), never a later stay."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from laddvakt.departure_eval import Visit
from laddvakt.site_history import RecentStays

pytestmark = pytest.mark.unit

LA = ZoneInfo("America/Los_Angeles")
MONDAY_8 = datetime(2019, 10, 7, 8, 0, tzinfo=LA)


def visit(plugged_in_at: datetime, hours: float) -> Visit:
    return Visit("caltech", plugged_in_at, hours * 60, None, None)


def history(*visits: Visit) -> RecentStays:
    return RecentStays((v.past_stay() for v in visits), "America/Los_Angeles")


def known(recent: RecentStays, at: datetime) -> list[float]:
    """The stays (minutes) the history holds at `at` for a Monday 08:00 plug-in."""
    return recent.habits(at).remaining(MONDAY_8, 0)


def test_the_history_holds_only_stays_that_ended_before_now_and_began_in_the_last_56_days():
    # Given Monday-morning stays: one 57 days back, one 55 days back, and one of today that ends at 12:00
    recent = history(
        visit(MONDAY_8 - timedelta(days=57), 3),
        visit(MONDAY_8 - timedelta(days=55, minutes=-30), 5),
        visit(MONDAY_8 - timedelta(hours=1), 5),
    )
    # Then at 08:00 only the stay of 55 days back is known (the older one is out of the window,
    # today's has not ended)
    assert known(recent, MONDAY_8) == [300.0]
    # And after today's has ended, it is known too
    assert known(recent, MONDAY_8 + timedelta(hours=5)) == [300.0, 300.0]
    # And a stay that began after now is never known, however short
    later = history(visit(MONDAY_8 + timedelta(minutes=1), 0.1))
    assert known(later, MONDAY_8) == []
