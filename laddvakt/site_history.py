"""A site's departure history as the live system holds it at any moment, for the evaluations
that replay real sessions (`laddvakt eval departure`, `laddvakt eval schedule`): the stays that
ended by then and plugged in within `SITE_HISTORY_DAYS`, at most the latest `MAX_SITE_STAYS`
(what `site_stays_with` keeps live). A replayed period's own earlier sessions count, as they would
at a live site, and its later ones never do."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.domain.departure import SITE_HISTORY_DAYS, PastVisit, SiteHabits
from shared.models.profiles import MAX_SITE_STAYS

# Visits come roughly in time order: windows this many keys back are not asked for again.
_MEMO = 256


class RecentStays:
    def __init__(self, stays: Iterable[tuple[datetime, datetime]], time_zone: str) -> None:
        """`stays`: (plugged in, unplugged) of every session of the site the replay loaded."""
        # By plug-in, in epoch seconds (comparing zone-aware datetimes is what would take the time).
        self._stays = sorted(
            {(start.timestamp(), end.timestamp(), start) for start, end in stays if end > start},
            key=lambda stay: stay[:2],
        )
        self._starts = [start for start, _, _ in self._stays]
        self._zone = time_zone
        self._memo: dict[tuple[int, int, int], SiteHabits] = {}

    def habits(self, at: datetime) -> SiteHabits:
        now = at.timestamp()
        first = bisect_left(self._starts, now - SITE_HISTORY_DAYS * 86_400)
        last = bisect_left(self._starts, now)
        ended = [stay for stay in self._stays[first:last] if stay[1] < now][-MAX_SITE_STAYS:]
        # Within one window of plug-ins, those ended by `at` only grow with it: the count is the key.
        key = (first, last, len(ended))
        if key not in self._memo:
            if len(self._memo) >= _MEMO:
                self._memo.clear()
            self._memo[key] = SiteHabits.from_visits(
                (PastVisit(start, start + timedelta(seconds=end - begin)) for begin, end, start in ended),
                self._zone,
            )
        return self._memo[key]
