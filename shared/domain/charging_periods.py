"""OCPI charging periods from a session's meter samples: what the pricing function prices.

"A CPO SHALL at least start (and add) a ChargingPeriod every moment/event that has relevance for
the total costs of a CDR" (OCPI 2.2.1, CDR object). So a new period starts wherever the price can
change: a tariff window opening or closing in the site's local time (daylight saving included), a
new local day when an element depends on the date or weekday, charging turning into parking and
back, the session passing a min/max_duration, the energy passing a min/max_kwh, and the power
crossing a min/max_power. Consecutive pieces that the tariff prices alike are merged again.

Energy comes from the absolute register, counted as `shared.domain.energy` counts it (a register
that goes down was reset, and counting continues from its new value); between two readings it is
interpolated linearly. Power is the reported power from its sample on, or else the average power
the register shows. A piece is charging time (TIME) or parking time (PARKING_TIME, "time not
charging"): OCPP 2.0.1's chargingState says which (Charging is charging; EVConnected, SuspendedEV,
SuspendedEVSE and Idle are not); without it (OCPP 1.6) a power below `parking_below_w` is parking.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_CEILING, Decimal
from itertools import pairwise

from shared.domain.energy import delivered_by_moment, readings_of
from shared.domain.tariffs import Moment, components_at
from shared.models.ocpi import CdrDimension, CdrDimensionType, ChargingPeriod, Tariff
from shared.models.sessions import MeterSample

# Below this a car is plugged in but not charging (balancing, a full battery's trickle): 1.6 only.
PARKING_BELOW_W = Decimal(100)
CHARGING_STATES = {"Charging"}
ZERO = Decimal(0)
HOUR_S = Decimal(3600)
MICROSECOND = timedelta(microseconds=1)


def charging_periods(
    samples: Sequence[MeterSample],
    started_at: datetime,
    ended_at: datetime,
    tariff: Tariff,
    tz: tzinfo,
    *,
    meter_start_wh: Decimal | None = None,
    meter_stop_wh: Decimal | None = None,
    parking_below_w: Decimal = PARKING_BELOW_W,
) -> list[ChargingPeriod]:
    """The session's OCPI charging periods, in time order, for pricing with this tariff.

    A session with no duration has no periods. Without any register reading there is no ENERGY
    dimension (the energy is unknown, not zero).
    """
    if ended_at <= started_at:
        return []
    timeline = _Timeline(samples, started_at, ended_at, meter_start_wh, meter_stop_wh, parking_below_w)
    cuts = sorted(
        {started_at, ended_at}
        | {s.timestamp for s in timeline.samples}
        | _local_boundaries(tariff, started_at, ended_at, tz)
        | _duration_boundaries(tariff, started_at, ended_at)
        | _energy_boundaries(tariff, timeline, started_at, ended_at)
    )
    cuts = [c for c in cuts if started_at <= c <= ended_at]

    pieces: list[_Piece] = []
    for begin, end in pairwise(cuts):
        if end <= begin:
            continue
        power = timeline.power_w(begin, end)
        moment = Moment(
            at=begin,
            duration_s=_seconds(begin - started_at),
            energy_kwh=(timeline.delivered_wh(begin) or ZERO) / 1000,
            min_power_kw=None if power is None else power / 1000,
            max_power_kw=None if power is None else power / 1000,
        )
        charging = timeline.charging(begin, power)
        selection = components_at(tariff, moment, tz)
        signature = (charging, tuple(sorted((str(k), v[0]) for k, v in selection.items())))
        energy = None
        start_wh, end_wh = timeline.delivered_wh(begin), timeline.delivered_wh(end)
        if start_wh is not None and end_wh is not None:
            energy = end_wh - start_wh
        pieces.append(_Piece(begin, end, charging, signature, energy, power))

    periods: list[ChargingPeriod] = []
    group: list[_Piece] = []
    for piece in pieces:
        if group and piece.signature != group[-1].signature:
            periods.append(_period(group, tariff.id))
            group = []
        group.append(piece)
    if group:
        periods.append(_period(group, tariff.id))
    return periods


@dataclass(frozen=True)
class _Piece:
    begin: datetime
    end: datetime
    charging: bool
    signature: tuple[object, ...]
    energy_wh: Decimal | None
    power_w: Decimal | None


def _period(pieces: list[_Piece], tariff_id: str) -> ChargingPeriod:
    hours = _seconds(pieces[-1].end - pieces[0].begin) / HOUR_S
    dimensions = [
        CdrDimension(
            type=CdrDimensionType.TIME if pieces[0].charging else CdrDimensionType.PARKING_TIME, volume=hours
        )
    ]
    energies = [p.energy_wh for p in pieces if p.energy_wh is not None]
    if energies and (pieces[0].charging or sum(energies) > 0):
        dimensions.append(CdrDimension(type=CdrDimensionType.ENERGY, volume=sum(energies, ZERO) / 1000))
    powers = [p.power_w for p in pieces if p.power_w is not None]
    if powers:
        dimensions.append(CdrDimension(type=CdrDimensionType.MIN_POWER, volume=min(powers) / 1000))
        dimensions.append(CdrDimension(type=CdrDimensionType.MAX_POWER, volume=max(powers) / 1000))
    return ChargingPeriod(start_date_time=pieces[0].begin, dimensions=dimensions, tariff_id=tariff_id)


class _Timeline:
    """The session's samples as step functions (state, reported power) and a curve (energy)."""

    def __init__(
        self,
        samples: Sequence[MeterSample],
        started_at: datetime,
        ended_at: datetime,
        meter_start_wh: Decimal | None,
        meter_stop_wh: Decimal | None,
        parking_below_w: Decimal,
    ) -> None:
        self.samples = sorted(
            (s for s in samples if started_at <= s.timestamp <= ended_at), key=lambda s: s.timestamp
        )
        readings = readings_of(started_at, meter_start_wh, list(self.samples), ended_at, meter_stop_wh)
        delivered = delivered_by_moment(readings)
        self._curve_at = sorted(delivered)
        self._curve_wh = [delivered[at] for at in self._curve_at]
        self._parking_below_w = parking_below_w
        powered = [(s.timestamp, s.power_w) for s in self.samples if s.power_w is not None]
        self._power_at = [at for at, _ in powered]
        self._power_w = [power for _, power in powered]
        self._state_at = [s.timestamp for s in self.samples if s.charging_state is not None]
        self._state = [
            s.charging_state in CHARGING_STATES for s in self.samples if s.charging_state is not None
        ]

    def delivered_wh(self, at: datetime) -> Decimal | None:
        """Energy delivered since the first reading, interpolated linearly between readings."""
        if not self._curve_at:
            return None
        index = bisect_right(self._curve_at, at)
        if index == 0:
            return self._curve_wh[0]
        if index == len(self._curve_at):
            return self._curve_wh[-1]
        before, after = self._curve_at[index - 1], self._curve_at[index]
        low, high = self._curve_wh[index - 1], self._curve_wh[index]
        return low + (high - low) * _seconds(at - before) / _seconds(after - before)

    def power_w(self, begin: datetime, end: datetime) -> Decimal | None:
        """The power from `begin` on: the last reported power, or the register's average."""
        index = bisect_right(self._power_at, begin)
        if index:
            return self._power_w[index - 1]
        start_wh, end_wh = self.delivered_wh(begin), self.delivered_wh(end)
        if start_wh is None or end_wh is None or len(self._curve_at) < 2:
            return None
        return (end_wh - start_wh) / (_seconds(end - begin) / HOUR_S)

    def curve(self) -> list[tuple[datetime, Decimal]]:
        """The energy delivered at each reading, in time order."""
        return list(zip(self._curve_at, self._curve_wh, strict=True))

    def charging(self, at: datetime, power_w: Decimal | None) -> bool:
        index = bisect_right(self._state_at, at)
        if index:
            return self._state[index - 1]
        return power_w is None or power_w >= self._parking_below_w


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds) / 1_000_000


def _local_boundaries(tariff: Tariff, start: datetime, end: datetime, tz: tzinfo) -> set[datetime]:
    """Every instant a local-time restriction can change: each start_time/end_time (and local
    midnight, when an element depends on the date or the weekday) on every local day of the
    session, at both sides of a repeated hour, plus every change of the UTC offset (a clock that
    jumps forward or back passes boundaries without showing them)."""
    clocks: set[time] = set()
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        clocks.update(t for t in (r.start_time, r.end_time) if t is not None)
        if r.day_of_week or r.start_date or r.end_date:
            clocks.add(time(0, 0))
    if not clocks:
        return set()
    found: set[datetime] = set()
    day: date = start.astimezone(tz).date() - timedelta(days=1)
    last: date = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for clock in clocks:
            for fold in (0, 1):
                instant = datetime.combine(day, clock).replace(tzinfo=tz, fold=fold).astimezone(UTC)
                if start < instant < end:
                    found.add(instant)
        day += timedelta(days=1)
    return found | _offset_changes(start, end, tz)


def _offset_changes(start: datetime, end: datetime, tz: tzinfo) -> set[datetime]:
    changes: set[datetime] = set()
    step = timedelta(hours=1)
    here, offset = start, start.astimezone(tz).utcoffset()
    while here < end:
        there = min(here + step, end)
        there_offset = there.astimezone(tz).utcoffset()
        if there_offset != offset:
            low, high = here, there  # offset(low) == offset, offset(high) != offset
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            changes.add(high.replace(microsecond=0) if high.microsecond else high)
            offset = there_offset
        here = there
    return {c for c in changes if start < c < end}


def _duration_boundaries(tariff: Tariff, start: datetime, end: datetime) -> set[datetime]:
    found = set()
    for element in tariff.elements:
        r = element.restrictions
        for seconds in (r.min_duration, r.max_duration) if r else ():
            if seconds is not None and start < start + timedelta(seconds=seconds) < end:
                found.add(start + timedelta(seconds=seconds))
    return found


def _energy_boundaries(tariff: Tariff, timeline: _Timeline, start: datetime, end: datetime) -> set[datetime]:
    """The instants the delivered energy reaches each min_kwh/max_kwh, rounded up to the
    microsecond so the energy before a new period is never a hair short of the threshold."""
    thresholds = {
        kwh * 1000
        for element in tariff.elements
        if element.restrictions
        for kwh in (element.restrictions.min_kwh, element.restrictions.max_kwh)
        if kwh is not None and kwh > 0
    }
    found = set()
    curve = timeline.curve()
    for threshold in thresholds:
        for (before, low), (after, high) in pairwise(curve):
            if low < threshold <= high:
                # Multiply before dividing, so a crossing on a whole microsecond stays exact.
                span_us = _seconds(after - before) * 1_000_000
                micros = (span_us * (threshold - low) / (high - low)).to_integral_value(
                    rounding=ROUND_CEILING
                )
                instant = before + timedelta(microseconds=int(micros))
                if start < instant < end:
                    found.add(instant)
                break
    return found
