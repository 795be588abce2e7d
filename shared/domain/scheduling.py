"""Depot charging plans: per-connector power limits over time, for the vehicles plugged in at one
site, that deliver what each needs by its departure without exceeding the site's grid limit.
Pure: no AWS imports.

This first version (earliest departure first, step by step) is the contract the scheduling
service, the API and `laddvakt eval schedule` share; the optimising planner replaces its
internals, never its signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

_ZERO = Decimal(0)
_KW = Decimal("0.001")


@dataclass(frozen=True)
class PricePeriod:
    """From `starts_at` until the next period: this energy price (per kWh, the site's currency)."""

    starts_at: datetime
    price_per_kwh: Decimal


@dataclass(frozen=True)
class ChargingDemand:
    """One plugged-in vehicle: what it still needs, by when, and how fast it can take it."""

    session_id: str
    charge_point_id: str
    connector_id: int
    energy_needed_kwh: Decimal
    departure_at: datetime
    # The smaller of the connector's and the vehicle's limits.
    max_power_kw: Decimal


@dataclass(frozen=True)
class SiteProblem:
    site_id: str
    now: datetime
    step: timedelta
    limit_kw: Decimal
    prices: tuple[PricePeriod, ...]
    demands: tuple[ChargingDemand, ...]
    # Load the plan cannot steer (a charger that rejected its profile draws its full power).
    uncontrolled_kw: Decimal = _ZERO


@dataclass(frozen=True)
class PowerStep:
    """From `starts_at` until the next step (or the plan's end): at most `limit_kw`."""

    starts_at: datetime
    limit_kw: Decimal


@dataclass(frozen=True)
class ConnectorPlan:
    session_id: str
    charge_point_id: str
    connector_id: int
    steps: tuple[PowerStep, ...]
    planned_kwh: Decimal
    unmet_kwh: Decimal


@dataclass(frozen=True)
class SitePlan:
    site_id: str
    computed_at: datetime
    step: timedelta
    limit_kw: Decimal
    connectors: tuple[ConnectorPlan, ...]
    peak_kw: Decimal
    # Energy cost of the plan under `prices` (the site's currency), None without prices.
    cost: Decimal | None


def price_at(prices: tuple[PricePeriod, ...], at: datetime) -> Decimal | None:
    current = None
    for period in prices:
        if period.starts_at <= at:
            current = period.price_per_kwh
    return current


def plan_site(problem: SiteProblem) -> SitePlan:
    """Earliest departure first: in every step, the vehicles leaving soonest take the power left
    under the limit, each up to its own maximum and what it still needs."""
    step_hours = Decimal(problem.step / timedelta(hours=1))
    available = max(_ZERO, problem.limit_kw - problem.uncontrolled_kw)
    remaining = {d.session_id: d.energy_needed_kwh for d in problem.demands}
    last = max((d.departure_at for d in problem.demands), default=problem.now)
    powers: dict[str, list[Decimal]] = {d.session_id: [] for d in problem.demands}
    starts: list[datetime] = []
    at = problem.now
    while at < last:
        starts.append(at)
        left = available
        for demand in sorted(problem.demands, key=lambda d: (d.departure_at, d.session_id)):
            power = _ZERO
            if demand.departure_at > at and left > 0:
                power = min(demand.max_power_kw, left, remaining[demand.session_id] / step_hours)
            power = power.quantize(_KW)
            remaining[demand.session_id] -= power * step_hours
            left -= power
            powers[demand.session_id].append(power)
        at += problem.step
    totals = [sum((p[i] for p in powers.values()), _ZERO) for i in range(len(starts))]
    cost = None
    if problem.prices:
        cost = _ZERO
        for i, start in enumerate(starts):
            cost += totals[i] * step_hours * (price_at(problem.prices, start) or _ZERO)
    plans = tuple(
        ConnectorPlan(
            session_id=d.session_id,
            charge_point_id=d.charge_point_id,
            connector_id=d.connector_id,
            steps=_merged(starts, powers[d.session_id]),
            planned_kwh=(d.energy_needed_kwh - max(_ZERO, remaining[d.session_id])).quantize(_KW),
            unmet_kwh=max(_ZERO, remaining[d.session_id]).quantize(_KW),
        )
        for d in problem.demands
    )
    return SitePlan(
        site_id=problem.site_id,
        computed_at=problem.now,
        step=problem.step,
        limit_kw=problem.limit_kw,
        connectors=plans,
        peak_kw=max(totals, default=_ZERO),
        cost=None if cost is None else cost.quantize(Decimal("0.01")),
    )


def _merged(starts: list[datetime], powers: list[Decimal]) -> tuple[PowerStep, ...]:
    steps: list[PowerStep] = []
    for start, power in zip(starts, powers, strict=True):
        if not steps or steps[-1].limit_kw != power:
            steps.append(PowerStep(start, power))
    return tuple(steps)
