"""A site's energy price over time, as the depot planner reads it: the OCPI tariff's ENERGY price
components, with their start_time/end_time/date/day_of_week restrictions read in the site's time
zone, turned into `PricePeriod`s (UTC instants) over a horizon. Pure: no AWS imports.

Only the price per kWh matters to a plan: time, parking and flat components do not change with
the power drawn. Restrictions on a session's duration, energy or power are read as at a session's
start (duration 0, nothing delivered), since a site-wide curve has no one session to read them on.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal

from shared.domain.scheduling import PricePeriod
from shared.domain.tariffs import Moment, components_at
from shared.models.ocpi import Tariff, TariffDimensionType

_HUNDRED = Decimal(100)


def energy_price_curve(
    tariff: Tariff, tz: tzinfo, start: datetime, end: datetime, *, include_vat: bool = False
) -> tuple[PricePeriod, ...]:
    """The energy price from `start` until `end`: a period wherever it changes, the first at `start`.

    Every instant a restriction can switch (each local midnight and each start_time and end_time,
    on both sides of a DST change) is a candidate; the price is read at each and runs of the same
    price are merged. A time that does not exist on a spring-forward day switches at the jump; one
    that occurs twice in autumn switches at its first occurrence (OCPI reads local wall-clock time).
    Where no element prices energy, energy costs nothing.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a price curve's start and end must be aware datetimes (UTC instants)")
    if end <= start:
        return ()
    clock_times = {time(0)}
    for element in tariff.elements:
        if element.restrictions is not None:
            clock_times.update(
                t for t in (element.restrictions.start_time, element.restrictions.end_time) if t
            )
    instants = {start.astimezone(UTC)}
    day = start.astimezone(tz).date() - timedelta(days=1)
    last_day = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last_day:
        for clock in clock_times:
            local = datetime.combine(day, clock, tzinfo=tz)
            both = [local.replace(fold=fold).astimezone(UTC) for fold in (0, 1)]
            if local.replace(fold=0).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(
                tzinfo=None
            ):
                # A wall-clock time the spring-forward jump skips: the switch is the jump itself.
                both.append(_jump(tz, min(both), max(both)))
            instants.update(at for at in both if start < at < end)
        day += timedelta(days=1)
    curve: list[PricePeriod] = []
    for at in sorted(instants):
        price = _energy_price(tariff, tz, at, include_vat)
        if not curve or curve[-1].price_per_kwh != price:
            curve.append(PricePeriod(at, price))
    return tuple(curve)


def _jump(tz: tzinfo, before: datetime, after: datetime) -> datetime:
    """The instant between `before` and `after` at which the zone's offset changes (to the minute)."""
    target = after.astimezone(tz).utcoffset()
    low, high = 0, int((after - before) / timedelta(minutes=1))
    while low < high:
        middle = (low + high) // 2
        if (before + timedelta(minutes=middle)).astimezone(tz).utcoffset() == target:
            high = middle
        else:
            low = middle + 1
    return before + timedelta(minutes=low)


def _energy_price(tariff: Tariff, tz: tzinfo, at: datetime, include_vat: bool) -> Decimal:
    selection = components_at(tariff, Moment(at=at, duration_s=Decimal(0), energy_kwh=Decimal(0)), tz)
    chosen = selection.get(TariffDimensionType.ENERGY)
    if chosen is None:
        return Decimal(0)
    component = chosen[1]
    if include_vat and component.vat is not None:
        return component.price * (1 + component.vat / _HUNDRED)
    return component.price
