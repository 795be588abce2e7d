"""Charger health from what a charger told us: online or offline, its faults now and in a period,
and its uptime (the share of a period in which it could charge).

Pure: the adapters hand in status events (each connector status change, at the charger's own
time), outages (gaps in contact longer than the offline rule allows, at our time) and the
period; nothing here reads a clock or a table.

What counts as down follows the idea of availability in EU AFIR (Regulation (EU) 2023/1804): a
recharging point is available when a driver could charge at it, whether or not someone is
charging at that moment. So a charger is **down** while

- it is offline: nothing (heartbeat, boot, status or any other frame) arrived for longer than
  `offline_after` (2 × heartbeat interval + a grace); the whole gap counts, from the last frame
  before it to the first frame after it (or to now, while it lasts), or
- connector 0 (the whole charger in OCPP) is `Faulted` or `Unavailable`, or
- every outlet (connector 1…n) is `Faulted` or `Unavailable`.

Everything else is **up**: `Available`, `Preparing`, `Charging`, `SuspendedEV`, `SuspendedEVSE`,
`Finishing`, `Reserved`, `Occupied` (someone is using or holding it: it works), one outlet faulted
while another works, and an error code reported with a working status (OCPP 1.6 calls that a
warning, e.g. `HighTemperature` while `Charging`). An outlet that has never reported counts as up;
a charger is never down for lack of news except by being offline. No outage is excluded for its
cause (grid, vandalism, planned maintenance): frames do not say why, so an operator's
`Unavailable` for maintenance counts as down.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from itertools import pairwise

DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 300
# How late a heartbeat may be before the charger counts as offline, beyond two missed intervals:
# room for a slow network and a queue that is briefly behind.
OFFLINE_GRACE = timedelta(seconds=60)

DOWN_STATUSES = frozenset({"Faulted", "Unavailable"})
NO_ERROR = "NoError"
WHOLE_CHARGER = 0
_PERCENT = Decimal("0.01")


@dataclass(frozen=True)
class StatusEvent:
    """One connector's reported status from `at` on (StatusNotification, 1.6 or 2.0.1)."""

    connector_id: int
    status: str
    error_code: str
    at: datetime
    info: str | None = None
    vendor_error_code: str | None = None

    @property
    def down(self) -> bool:
        return self.status in DOWN_STATUSES

    @property
    def fault(self) -> bool:
        """Worth a maintenance planner's look: faulted, or any error code (a warning included)."""
        return self.status == "Faulted" or self.error_code != NO_ERROR

    @property
    def problem(self) -> bool:
        return self.fault or self.down

    def _order(self) -> tuple[datetime, bool, str, str, str, str]:
        # Two reports for one moment: the one that says down wins, then a fixed order, so the
        # answer never depends on the order frames arrived in.
        return (
            self.at,
            self.down,
            self.status,
            self.error_code,
            self.info or "",
            self.vendor_error_code or "",
        )


@dataclass(frozen=True)
class Outage:
    """A gap in contact: the last frame before it at `start`, the first after it at `end`."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class FaultEntry:
    connector_id: int
    status: str
    error_code: str
    start: datetime
    end: datetime | None  # None while it lasts
    info: str | None
    vendor_error_code: str | None
    down: bool


@dataclass(frozen=True)
class Availability:
    up: timedelta
    total: timedelta

    @property
    def percent(self) -> Decimal | None:
        """Rounded down to 0.01: 96.999 % is not 97 %."""
        if self.total <= timedelta(0):
            return None
        share = Decimal(_micros(self.up)) * 100 / Decimal(_micros(self.total))
        return share.quantize(_PERCENT, rounding=ROUND_DOWN)


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


# --- online / offline ------------------------------------------------------------------------------


def offline_after(heartbeat_interval_seconds: int) -> timedelta:
    return 2 * timedelta(seconds=heartbeat_interval_seconds) + OFFLINE_GRACE


def is_online(last_seen: datetime | None, now: datetime, heartbeat_interval_seconds: int) -> bool:
    return last_seen is not None and now - last_seen <= offline_after(heartbeat_interval_seconds)


def outage_between(
    previous_seen: datetime | None, now: datetime, heartbeat_interval_seconds: int
) -> Outage | None:
    """The outage a frame arriving `now` ends, if the charger was silent too long before it."""
    if previous_seen is None or now - previous_seen <= offline_after(heartbeat_interval_seconds):
        return None
    return Outage(previous_seen, now)


def offline_periods(
    outages: Iterable[Outage], last_seen: datetime | None, now: datetime, heartbeat_interval_seconds: int
) -> list[Outage]:
    """Recorded outages, and the one still going on if the charger is offline now."""
    periods = list(outages)
    if last_seen is not None and not is_online(last_seen, now, heartbeat_interval_seconds):
        periods.append(Outage(last_seen, now))
    return periods


# --- faults --------------------------------------------------------------------------------------


def _by_connector(events: Iterable[StatusEvent]) -> dict[int, list[StatusEvent]]:
    grouped: dict[int, list[StatusEvent]] = {}
    for event in sorted(set(events), key=StatusEvent._order):
        grouped.setdefault(event.connector_id, []).append(event)
    return grouped


def _runs(events: list[StatusEvent]) -> list[tuple[StatusEvent, datetime | None]]:
    """One connector's events (in order) as runs of the same status and error code, each with
    the moment it ended (None for the last)."""
    runs: list[tuple[StatusEvent, datetime | None]] = []
    for event in events:
        if runs and (runs[-1][0].status, runs[-1][0].error_code) == (event.status, event.error_code):
            continue
        if runs:
            runs[-1] = (runs[-1][0], event.at)
        runs.append((event, None))
    return runs


def current_faults(latest: Iterable[StatusEvent]) -> list[StatusEvent]:
    """Of each connector's latest status, those that are faults, by connector."""
    newest = {c: events[-1] for c, events in _by_connector(latest).items()}
    return [newest[c] for c in sorted(newest) if newest[c].fault]


def fault_history(events: Iterable[StatusEvent], start: datetime, end: datetime) -> list[FaultEntry]:
    """Every run of a faulted, unavailable or erroring connector that overlaps [start, end), by
    its start; `end` of an entry is None while it lasts."""
    entries = [
        FaultEntry(
            connector_id=event.connector_id,
            status=event.status,
            error_code=event.error_code,
            start=event.at,
            end=until,
            info=event.info,
            vendor_error_code=event.vendor_error_code,
            down=event.down,
        )
        for connector_events in _by_connector(events).values()
        for event, until in _runs(connector_events)
        if event.problem and event.at < end and (until is None or until > start)
    ]
    return sorted(entries, key=lambda e: (e.start, e.connector_id))


# --- uptime --------------------------------------------------------------------------------------


class _Timeline:
    """Each connector's status at any moment."""

    def __init__(self, events: Iterable[StatusEvent]) -> None:
        self._events = _by_connector(events)
        self._times = {c: [e.at for e in evs] for c, evs in self._events.items()}

    def status_at(self, connector_id: int, at: datetime) -> StatusEvent | None:
        index = bisect_right(self._times.get(connector_id, []), at)
        return self._events[connector_id][index - 1] if index else None

    def down_at(self, at: datetime, outlets: frozenset[int]) -> bool:
        whole = self.status_at(WHOLE_CHARGER, at)
        if whole is not None and whole.down:
            return True
        if not outlets:
            return False
        states = [self.status_at(c, at) for c in outlets]
        return all(s is not None and s.down for s in states)


def uptime(
    events: Iterable[StatusEvent],
    offline: Iterable[Outage],
    outlets: Iterable[int],
    start: datetime,
    end: datetime,
) -> Availability:
    """How much of [start, end) the charger could charge (see the module's rule). `events`
    should include each connector's last status before `start`; `outlets` are the charger's
    connectors (1…n), to which any outlet seen in `events` is added."""
    events = list(events)
    offline = list(offline)
    outlet_ids = frozenset(outlets) | {e.connector_id for e in events if e.connector_id != WHOLE_CHARGER}
    timeline = _Timeline(events)
    moments = {start, end}
    moments |= {e.at for e in events if start < e.at < end}
    moments |= {t for o in offline for t in (o.start, o.end) if start < t < end}
    ordered = sorted(moments)
    up = timedelta(0)
    for left, right in pairwise(ordered):
        offline_now = any(o.start <= left < o.end for o in offline)
        if not offline_now and not timeline.down_at(left, outlet_ids):
            up += right - left
    return Availability(up=up, total=max(end - start, timedelta(0)))
