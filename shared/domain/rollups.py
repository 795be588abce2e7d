"""A closed, priced session as its contributions to the fleet's daily rollups: per local day of its
site, the energy, cost, time plugged in and time charging, the energy per quarter hour (the site's
load), and the hour it arrived and left.

A day is the site's local day (IANA zone, so 23- and 25-hour days included). A session crossing
midnight is cut there: its time by the clock, its energy by its meter readings (interpolated
linearly between them, as the charging periods do) and then scaled so the days add up to exactly
the energy billed. Cost follows the energy (or, for a session with no energy, the time plugged in).
Every split gives its rounding remainder to one part, so the parts always sum to the whole.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from shared.domain.energy import Reading, delivered_by_moment

ZERO = Decimal(0)
QUARTER = timedelta(minutes=15)
QUARTER_HOURS = Decimal("0.25")
# The finest energy (Wh) and money a split keeps, unless the whole has finer digits itself.
ENERGY_QUANTUM = Decimal("0.001")
MONEY_QUANTUM = Decimal("0.0001")

# What one rollup item counts, by attribute; costs are per currency (`net_SEK`, `gross_SEK`),
# quarter hours of the site's local day `q000`…`q099` (Wh), arrivals `a00`…`a23` and departures
# `d00`…`d23` (sessions, by local hour).
Counters = dict[str, Decimal]


@dataclass(frozen=True)
class SessionUsage:
    """What a closed, priced session contributes, as billing fixed it."""

    session_id: str
    attempt: int
    fleet_id: str
    site_id: str
    charge_point_id: str
    vehicle_id: str | None
    driver_id: str | None
    time_zone: str
    started_at: datetime
    ended_at: datetime
    energy_wh: Decimal  # billed
    readings: Sequence[Reading]
    # From each instant on, whether the car was charging (True) or only plugged in: the CDR's
    # charging periods (TIME or PARKING_TIME), in time order.
    charging_from: Sequence[tuple[datetime, bool]]
    currency: str
    cost_net: Decimal
    cost_gross: Decimal


@dataclass
class DayUsage:
    """One local day's part of one session."""

    day: date
    energy_wh: Decimal = ZERO
    cost_net: Decimal = ZERO
    cost_gross: Decimal = ZERO
    sessions: int = 0  # 1 on the day it arrived
    plugged_s: Decimal = ZERO
    charging_s: Decimal = ZERO
    quarters: dict[int, Decimal] = field(default_factory=dict)  # quarter hour since local midnight → Wh
    arrivals: dict[int, int] = field(default_factory=dict)  # local hour → sessions
    departures: dict[int, int] = field(default_factory=dict)

    @property
    def idle_s(self) -> Decimal:
        return self.plugged_s - self.charging_s


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC (a midnight the clock skips is its first hour)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds) / 1_000_000


def split_by_day(usage: SessionUsage) -> dict[date, DayUsage]:
    """The session's parts by local day, in day order."""
    zone = ZoneInfo(usage.time_zone)
    start, end = usage.started_at.astimezone(UTC), max(usage.ended_at, usage.started_at).astimezone(UTC)
    first_day, last_day = start.astimezone(zone).date(), end.astimezone(zone).date()
    days: dict[date, DayUsage] = {}
    starts: dict[date, datetime] = {}
    cuts = {start, end}
    day = first_day
    while day <= last_day:
        days[day] = DayUsage(day)
        starts[day] = begin = day_start(day, zone)
        following = day_start(day + timedelta(days=1), zone)
        at = begin
        while at < following:
            cuts.add(at)
            at += QUARTER
        day += timedelta(days=1)
    cuts |= {at for at, _ in usage.charging_from}
    instants = sorted(c for c in cuts if start <= c <= end)
    pieces = list(pairwise(instants)) or [(start, start)]

    curve = _Curve(usage.readings)
    measured: list[Decimal] = []
    where: list[tuple[date, int]] = []
    for begin, finish in pieces:
        local_day = begin.astimezone(zone).date()
        quarter = int((begin - starts[local_day]) // QUARTER)
        part = days[local_day]
        span = seconds(finish - begin)
        part.plugged_s += span
        if _charging(usage.charging_from, begin):
            part.charging_s += span
        measured.append(curve.at(finish) - curve.at(begin))
        where.append((local_day, quarter))

    for (local_day, quarter), wh in zip(where, share(usage.energy_wh, measured, ENERGY_QUANTUM), strict=True):
        if wh:
            quarters = days[local_day].quarters
            quarters[quarter] = quarters.get(quarter, ZERO) + wh
    for part in days.values():
        part.energy_wh = sum(part.quarters.values(), ZERO)

    weights = [p.energy_wh for p in days.values()]
    if not any(weights):
        weights = [p.plugged_s for p in days.values()]
    for part, net, gross in zip(
        days.values(),
        share(usage.cost_net, weights, MONEY_QUANTUM),
        share(usage.cost_gross, weights, MONEY_QUANTUM),
        strict=True,
    ):
        part.cost_net, part.cost_gross = net, gross

    arrived, left = start.astimezone(zone), end.astimezone(zone)
    days[arrived.date()].sessions = 1
    days[arrived.date()].arrivals = {arrived.hour: 1}
    days[left.date()].departures = {left.hour: 1}
    return days


def share(whole: Decimal, weights: Sequence[Decimal], quantum: Decimal) -> list[Decimal]:
    """`whole` in parts proportional to `weights` (all to the first part when they are all zero),
    each a multiple of `quantum` (or of the whole's own finer digits): every part floored, and the
    quanta left over go one each to the parts that lost the most, so the parts sum to `whole`
    exactly and none has the other sign."""
    if not weights:
        return []
    if whole < 0:
        return [-part for part in share(-whole, weights, quantum)]
    exponent = whole.as_tuple().exponent
    step = min(quantum, Decimal(1).scaleb(exponent)) if isinstance(exponent, int) else quantum
    total = sum(weights, ZERO)
    if total <= 0 or any(w < 0 for w in weights):
        return [whole] + [ZERO] * (len(weights) - 1)
    exact = [whole * w / total for w in weights]
    parts = [e.quantize(step, rounding=ROUND_FLOOR) for e in exact]
    left = int((whole - sum(parts, ZERO)) / step)
    for index in sorted(range(len(parts)), key=lambda i: parts[i] - exact[i])[:left]:
        parts[index] += step
    # Division to 28 digits can leave a last hair over or under: it goes to the heaviest part.
    heaviest = max(range(len(parts)), key=lambda i: weights[i])
    parts[heaviest] += whole - sum(parts, ZERO)
    return parts


def counters(usage: SessionUsage, part: DayUsage) -> dict[tuple[str, str], Counters]:
    """The day's part as the rollup items it adds to: (dimension, key) → attribute → amount.
    A session with no vehicle or driver counts under the empty key ("not known")."""
    common: Counters = {
        "energy_wh": part.energy_wh,
        "sessions": Decimal(part.sessions),
        "plugged_s": part.plugged_s,
        "charging_s": part.charging_s,
        "idle_s": part.idle_s,
        f"net_{usage.currency}": part.cost_net,
        f"gross_{usage.currency}": part.cost_gross,
    }
    hours: Counters = {f"a{h:02d}": Decimal(n) for h, n in part.arrivals.items()}
    hours |= {f"d{h:02d}": Decimal(n) for h, n in part.departures.items()}
    quarters: Counters = {f"q{q:03d}": wh for q, wh in part.quarters.items()}
    return {
        ("fleet", usage.fleet_id): common | hours,
        ("vehicle", usage.vehicle_id or ""): dict(common),
        ("driver", usage.driver_id or ""): dict(common),
        ("charger", usage.charge_point_id): dict(common),
        ("site", usage.site_id): common | quarters,
    }


def delta(old: Mapping[str, Decimal], new: Mapping[str, Decimal]) -> Counters:
    """What turns `old` into `new`, attribute by attribute, without the zeros."""
    changes = {name: new.get(name, ZERO) - old.get(name, ZERO) for name in {*old, *new}}
    return {name: amount for name, amount in sorted(changes.items()) if amount}


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_counters(day: date, counters: Mapping[str, Decimal]) -> Counters:
    """A day's counters as they add to its month's item: without the quarter hours (peaks are
    per day), and with arrivals and departures by weekday and hour (`a1_07`: Mondays 07:00–08:00),
    so a month still answers the weekday × hour table."""
    monthly: Counters = {}
    for name, amount in counters.items():
        if _is_quarter(name):
            continue
        if _is_hour(name):
            name = f"{name[0]}{day.isoweekday()}_{name[1:]}"
        monthly[name] = monthly.get(name, ZERO) + amount
    return monthly


def hour_counts(
    day: date, counters: Mapping[str, Decimal], *, month: bool
) -> Iterator[tuple[int, int, str, int]]:
    """(ISO weekday, local hour, "a" or "d", sessions) of a day item's or month item's counters."""
    for name, amount in counters.items():
        if not month and _is_hour(name):
            yield day.isoweekday(), int(name[1:]), name[0], int(amount)
        elif month and len(name) == 5 and name[0] in "ad" and name[2] == "_" and name[1].isdigit():
            yield int(name[1]), int(name[3:]), name[0], int(amount)


def peak(counters: Mapping[str, Decimal]) -> tuple[int, Decimal] | None:
    """A site day's busiest quarter hour (the earliest of equals) and its energy (Wh)."""
    quarters = [(int(name[1:]), wh) for name, wh in counters.items() if _is_quarter(name) and wh > 0]
    if not quarters:
        return None
    return max(sorted(quarters), key=lambda q: q[1])


def period_start(day: date, granularity: str) -> date:
    """The first day of the day's period: itself, its ISO week's Monday, or its month's 1st."""
    if granularity == "week":
        return day - timedelta(days=day.isoweekday() - 1)
    if granularity == "month":
        return day.replace(day=1)
    return day


def period_label(start: date, granularity: str) -> str:
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "month":
        return f"{start:%Y-%m}"
    return start.isoformat()


def _is_hour(name: str) -> bool:
    return len(name) == 3 and name[0] in "ad" and name[1:].isdigit()


def _is_quarter(name: str) -> bool:
    return len(name) == 4 and name[0] == "q" and name[1:].isdigit()


def _charging(charging_from: Sequence[tuple[datetime, bool]], at: datetime) -> bool:
    """Charging at `at`: the state of the period it falls in (the first period's before it;
    charging when the session has no periods at all)."""
    if not charging_from:
        return True
    index = bisect_right([instant for instant, _ in charging_from], at)
    return charging_from[max(index - 1, 0)][1]


class _Curve:
    """Energy delivered since the first reading, linear between readings, flat outside them."""

    def __init__(self, readings: Sequence[Reading]) -> None:
        delivered = delivered_by_moment(sorted(readings, key=lambda r: r.at))
        self._at = sorted(delivered)
        self._wh = [delivered[at] for at in self._at]

    def at(self, instant: datetime) -> Decimal:
        if not self._at:
            return ZERO
        index = bisect_right(self._at, instant)
        if index == 0:
            return self._wh[0]
        if index == len(self._at):
            return self._wh[-1]
        before, after = self._at[index - 1], self._at[index]
        low, high = self._wh[index - 1], self._wh[index]
        return low + (high - low) * seconds(instant - before) / seconds(after - before)
