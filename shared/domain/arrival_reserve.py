"""The arrival reserve: how much of a depot's capacity the planner holds back for vehicles that
usually arrive later, learnt from the site's past stays. Pure: no AWS, no numpy (the Lambda does
not carry it); the live scheduler and `laddvakt eval schedule` both run this code.

For a weekday or a weekend day, `table[n][s]` is the mean power, at slot s of the (local) day,
that stays plugging in after slot n needed: each stay's energy spread evenly over its stay, at
most `max_power_kw`, cut at the end of its arrival day, summed over the stays of each day of that
kind and divided by the number of such days seen (days with at least one arrival). Replanning at
slot n, the planner holds `table[n]` back later today and `table[0]` on later days, in hourly
steps and never in the current hour: whoever arrives in it is replanned for on arrival, and a
vehicle that must charge now is never starved by vehicles that may come.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from operator import add
from zoneinfo import ZoneInfo

from shared.domain.scheduling import PowerStep

SLOT = timedelta(minutes=5)
# Two days ahead: a depot's plans rarely reach further (a departure estimate caps them sooner).
HORIZON_HOURS = 48
# How much of the learnt mean is held back: twice it. A mean holds too little on a busy day, and
# what is not held is filled with energy moved to cheap hours that the day's later arrivals then
# lack. Chosen on ACN-Data's 2019-09..11 Caltech weeks as the most held back for which the
# planner, told the real departures, still spent no more than the hindsight optimum (shares of 1,
# 1.5, 2, 3, 4 and 6 tried; more holds back more energy for the cars here now, at more cost) and
# checked once on the held-out 2020-02 week: see docs/eval/schedule.md.
RESERVE_SHARE = 2.0
_HOUR = timedelta(hours=1)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class PastStay:
    """One past session at the site: plugged in and unplugged (aware, UTC), and the energy it took."""

    plugged_in_at: datetime
    unplugged_at: datetime
    energy_kwh: Decimal


class ArrivalReserve:
    """The learnt tables, by day kind (True: Saturday or Sunday), in the site's zone. Rows are
    summed up when first asked for: a replan reads two or three of them, so the 2-D sums are not
    paid for in full per replan (the evaluation, which reads them all, keeps them)."""

    def __init__(
        self, time_zone: str, slot_minutes: int, diff: dict[bool, list[list[float]]], days: dict[bool, int]
    ) -> None:
        self.time_zone = time_zone
        self.slot_minutes = slot_minutes
        # Days of each kind the tables are averaged over.
        self.days = days
        self._diff = diff
        self._columns: dict[bool, list[list[float]]] = {False: [], True: []}
        self._rows: dict[tuple[bool, int], list[float]] = {}

    @property
    def empty(self) -> bool:
        return not any(self.days.values())

    def row(self, weekend: bool, n: int) -> list[float]:
        """`table[n]`: the mean power (kW) at each slot of the day that stays arriving after slot n
        needed, on a day of this kind."""
        if (weekend, n) not in self._rows:
            diff, columns = self._diff[weekend], self._columns[weekend]
            # The difference table summed down its rows up to n (kept for the next row asked),
            # then along the row.
            for k in range(len(columns), n + 1):
                columns.append(list(map(add, columns[-1], diff[k])) if columns else list(diff[0]))
            per_day = len(diff) - 1
            divisor = max(1, self.days[weekend])
            self._rows[(weekend, n)] = [kw / divisor for kw in accumulate(columns[n][:per_day])]
        return self._rows[(weekend, n)]


def learn_arrival_reserve(
    stays: Iterable[PastStay],
    time_zone: str,
    *,
    slot: timedelta = SLOT,
    max_power_kw: Decimal | None = None,
) -> ArrivalReserve:
    """The reserve tables from `stays`, read in the site's IANA zone. `max_power_kw` caps each
    stay's average power (the EVSE's power where it is known; None: the stay's own energy over its
    hours, which no real stay can make exceed its connector's power)."""
    slot_minutes = int(slot / timedelta(minutes=1))
    if slot_minutes <= 0 or 60 % slot_minutes or slot != timedelta(minutes=slot_minutes):
        raise ValueError(f"the reserve's slot must divide an hour, not {slot}")
    zone = ZoneInfo(time_zone)
    per_day = 24 * 60 // slot_minutes
    cap = float(max_power_kw) if max_power_kw is not None else math.inf
    # Each stay adds its power to the rectangle n in [0, a), s in [a, d) (arriving at slot a,
    # leaving at d): four corners of a 2-D difference table, summed up once at the end.
    diff = {kind: [[0.0] * (per_day + 1) for _ in range(per_day + 1)] for kind in (False, True)}
    days: dict[bool, set[object]] = {False: set(), True: set()}
    for stay in stays:
        if stay.unplugged_at <= stay.plugged_in_at:
            continue
        arrival = stay.plugged_in_at.astimezone(zone)
        departure = stay.unplugged_at.astimezone(zone)
        weekend = arrival.weekday() >= 5
        days[weekend].add(arrival.date())
        a = (arrival.hour * 60 + arrival.minute) // slot_minutes
        d = per_day
        if departure.date() == arrival.date():
            d = max(a + 1, (departure.hour * 60 + departure.minute) // slot_minutes)
        hours = (stay.unplugged_at - stay.plugged_in_at) / _HOUR
        rate = min(cap, float(stay.energy_kwh) / hours)
        table = diff[weekend]
        table[0][a] += rate
        table[0][d] -= rate
        table[a][a] -= rate
        table[a][d] += rate
    return ArrivalReserve(time_zone, slot_minutes, diff, {kind: len(seen) for kind, seen in days.items()})


def reserve_steps(
    reserve: ArrivalReserve, now: datetime, hours: int = HORIZON_HOURS, *, share: float = RESERVE_SHARE
) -> tuple[PowerStep, ...]:
    """Hourly steps of held-back capacity (kW, to 0.1: `share` times the learnt mean) from `now`
    on, none in the current hour.
    Steps are whole UTC hours from the start of the local hour, each looked up in local time, so
    a DST change shortens or repeats a local hour and never shifts the table. No steps at all
    when nothing was learnt."""
    if reserve.empty:
        return ()
    zone = ZoneInfo(reserve.time_zone)
    local = now.astimezone(zone)
    minutes = reserve.slot_minutes
    per_hour = 60 // minutes
    slot = (local.hour * 60 + local.minute) // minutes
    hour_start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    steps = [PowerStep(now, _ZERO)]
    for hour in range(1, hours):
        at = hour_start + hour * _HOUR
        there = at.astimezone(zone)
        row = reserve.row(there.weekday() >= 5, slot if there.date() == local.date() else 0)
        first = (there.hour * 60 + there.minute) // minutes
        powers = row[first : first + per_hour]
        kw = max(0.0, share * math.fsum(powers) / len(powers))
        steps.append(PowerStep(at, Decimal(f"{kw:.1f}")))
    return tuple(steps)
