"""When a plugged-in vehicle will unplug: a P10-P50-P90 estimate from what is known now (plug-in
time in the site's zone, the declared departure, the vehicle's own past visits), updated by the
time already plugged in. Pure: no AWS imports, no heavy dependencies.

This first version is the contract the API and the scheduler read; the trained model replaces
its internals, never its signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import quantiles
from typing import Literal

Confidence = Literal["high", "medium", "low"]
# Enough past visits of one vehicle to speak of its habits.
MIN_HISTORY = 5


@dataclass(frozen=True)
class PastVisit:
    """One earlier session of the same vehicle: when it plugged in and when it left (UTC)."""

    plugged_in_at: datetime
    unplugged_at: datetime


@dataclass(frozen=True)
class DepartureQuery:
    plugged_in_at: datetime
    now: datetime
    time_zone: str
    site_id: str | None = None
    # What the driver or fleet manager said (charging needs, NotifyEVChargingNeeds, usual departure).
    declared_departure_at: datetime | None = None
    requested_energy_kwh: Decimal | None = None
    history: tuple[PastVisit, ...] = ()


@dataclass(frozen=True)
class DepartureEstimate:
    p10_at: datetime
    p50_at: datetime
    p90_at: datetime
    # What the estimate rests on, in words a fleet manager reads ("declared departure", ...).
    basis: str
    confidence: Confidence


def estimate_departure(query: DepartureQuery) -> DepartureEstimate | None:
    """None when nothing is known to estimate from."""
    now = max(query.now, query.plugged_in_at)
    if query.declared_departure_at is not None and query.declared_departure_at > now:
        at = query.declared_departure_at
        return DepartureEstimate(at, at, at, "declared departure", "medium")
    stays = sorted(v.unplugged_at - v.plugged_in_at for v in query.history)
    elapsed = now - query.plugged_in_at
    longer = [s for s in stays if s > elapsed]
    if len(longer) < MIN_HISTORY:
        return None
    minutes = [s / timedelta(minutes=1) for s in longer]
    p10, p50, p90 = (quantiles(minutes, n=10, method="inclusive")[i] for i in (0, 4, 8))
    start = query.plugged_in_at
    return DepartureEstimate(
        max(now, start + timedelta(minutes=p10)),
        max(now, start + timedelta(minutes=p50)),
        max(now, start + timedelta(minutes=p90)),
        "the vehicle's past visits",
        "low",
    )
