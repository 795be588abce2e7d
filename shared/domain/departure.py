"""When a plugged-in vehicle will unplug: a P10-P50-P90 estimate from what is known now (plug-in
time in the site's zone, the declared departure, the requested energy, the vehicle's own past
visits), updated by the time already plugged in. Pure: no AWS imports, no heavy dependencies.

The estimate is three quantile models of the time still to stay, trained offline on real ACN-Data
sessions (`laddvakt eval departure`, docs/eval/departure.md) and shipped as plain JSON trees
(`departure_model.json`) that this module walks in pure Python. The vehicle's own past visits are
not in ACN-Data (no user ids): they are blended in afterwards, quantile by quantile, with a weight
that grows with the number of visits (see `HISTORY_PRIOR_VISITS`).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from statistics import quantiles
from typing import Any, Literal
from zoneinfo import ZoneInfo

Confidence = Literal["high", "medium", "low"]
# Enough past visits of one vehicle to speak of its habits.
MIN_HISTORY = 5
# The blend's prior strength, in visits: with n past visits still longer than the time plugged in,
# the vehicle's own quantiles weigh n / (n + HISTORY_PRIOR_VISITS) against the model's. At 8 visits
# they count half; at 40, five sixths. Below MIN_BLEND_VISITS the own quantiles are too coarse.
HISTORY_PRIOR_VISITS = 8
MIN_BLEND_VISITS = 3
# The same blend with the site's own past stays around this hour of plug-in (same weekday/weekend
# kind, ±1 h), which adapt the model (trained at one site) to a site it never saw. The prior is
# larger: a site's sessions are many people's, less telling than one vehicle's own. 200 was chosen
# on the TUNE period (docs/eval/departure.md): Caltech→JPL MAE at plug-in 133 → 91 min.
SITE_PRIOR_VISITS = 200
# How far back a caller should take the site's sessions for `SiteHabits`: recent enough to follow a
# site whose habits change, long enough for every hour to have sessions (docs/eval/departure.md).
SITE_HISTORY_DAYS = 56

MODEL_PATH = Path(__file__).with_name("departure_model.json")
# The model's inputs, in the order of its trees' feature indices. Training builds its rows with
# `model_inputs` too, so serving and training cannot disagree on an encoding.
FEATURES = (
    "arrival_hour",  # local hour of plug-in with minutes as a fraction, 0-24
    "weekday",  # 0 Monday .. 6 Sunday, local
    "weekend",  # 1 on Saturday and Sunday
    "declared_minutes",  # declared departure, minutes after plug-in (NaN: none, or already passed)
    "declared_remaining_minutes",  # declared departure, minutes after now (NaN likewise)
    "requested_kwh",  # NaN: not given
    "elapsed_minutes",  # time already plugged in
    "hour_now",  # local hour of now, 0-24: people leave by the clock, not by the stay
)
QUANTILES = ("p10", "p50", "p90")
_MISSING_ZERO, _MISSING_NAN = 1, 2
_DEFAULT_LEFT = 4


@dataclass(frozen=True)
class PastVisit:
    """One earlier session of the same vehicle: when it plugged in and when it left (UTC)."""

    plugged_in_at: datetime
    unplugged_at: datetime


@dataclass(frozen=True)
class SiteHabits:
    """A site's past stays (minutes, sorted) by weekend or not and local hour of plug-in: built once
    per site from its finished sessions, then read by every estimate there."""

    stays: dict[tuple[bool, int], tuple[float, ...]]

    @classmethod
    def from_visits(cls, visits: Iterable[PastVisit], time_zone: str) -> SiteHabits:
        zone = ZoneInfo(time_zone)
        cells: dict[tuple[bool, int], list[float]] = defaultdict(list)
        for visit in visits:
            stay = (visit.unplugged_at - visit.plugged_in_at) / timedelta(minutes=1)
            if stay > 0:
                local = visit.plugged_in_at.astimezone(zone)
                cells[(local.weekday() >= 5, local.hour)].append(stay)
        return cls({cell: tuple(sorted(stays)) for cell, stays in cells.items()})

    def remaining(self, arrival_local: datetime, elapsed_minutes: float) -> list[float]:
        """Minutes still to stay in the past visits that plugged in within the same hour or the ones
        either side, on the same kind of day, and lasted longer than this one has so far."""
        weekend = arrival_local.weekday() >= 5
        out: list[float] = []
        for hour in (arrival_local.hour - 1, arrival_local.hour, arrival_local.hour + 1):
            stays = self.stays.get((weekend, hour % 24), ())
            out.extend(s - elapsed_minutes for s in stays[bisect_right(stays, elapsed_minutes) :])
        return sorted(out)


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
    # The site's past stays (`SiteHabits.from_visits`): the caller builds them once per site.
    site_habits: SiteHabits | None = None


@dataclass(frozen=True)
class DepartureEstimate:
    p10_at: datetime
    p50_at: datetime
    p90_at: datetime
    # What the estimate rests on, in words a fleet manager reads ("declared departure", ...).
    basis: str
    confidence: Confidence


def model_inputs(
    arrival_local: datetime,
    elapsed_minutes: float,
    declared_minutes: float | None,
    requested_kwh: float | None,
) -> list[float]:
    """One row of the model's inputs (`FEATURES`); None becomes NaN, which the trees route as trained.

    A declared departure no later than now says nothing about the future any more: it is dropped.
    """
    declared_ahead = declared_minutes is not None and declared_minutes > elapsed_minutes
    weekday = arrival_local.weekday()
    return [
        arrival_hour(arrival_local),
        float(weekday),
        1.0 if weekday >= 5 else 0.0,
        float(declared_minutes) if declared_ahead and declared_minutes is not None else math.nan,
        float(declared_minutes - elapsed_minutes)
        if declared_ahead and declared_minutes is not None
        else math.nan,
        float(requested_kwh) if requested_kwh is not None and requested_kwh > 0 else math.nan,
        float(elapsed_minutes),
        (arrival_hour(arrival_local) + elapsed_minutes / 60) % 24,
    ]


def arrival_hour(local: datetime) -> float:
    return local.hour + local.minute / 60


@dataclass(frozen=True)
class _Tree:
    """One regression tree in LightGBM's own layout: node i is (feature, threshold, missing type,
    default left, left child, right child), and a child index below zero is the leaf ~index."""

    nodes: tuple[tuple[int, float, int, bool, int, int], ...]
    leaf: tuple[float, ...]

    @classmethod
    def from_arrays(cls, t: dict[str, list[Any]]) -> _Tree:
        nodes = zip(t["f"], t["t"], t["d"], t["l"], t["r"], strict=True)
        return cls(
            tuple(
                (f, float(th), d & 3, bool(d & _DEFAULT_LEFT), left, right) for f, th, d, left, right in nodes
            ),
            tuple(float(v) for v in t["v"]),
        )

    def value(self, row: Sequence[float]) -> float:
        # LightGBM's NumericalDecision, walked as tight as pure Python allows (this is the hot loop).
        nodes = self.nodes
        node = 0 if nodes else -1
        while node >= 0:
            feature, threshold, missing, default_left, left, right = nodes[node]
            x = row[feature]
            if x != x:  # NaN: its own branch if the split learned one, else it counts as 0
                if missing == _MISSING_NAN:
                    node = left if default_left else right
                    continue
                x = 0.0
            if missing == _MISSING_ZERO and -1e-35 <= x <= 1e-35:
                node = left if default_left else right
            elif x <= threshold:
                node = left
            else:
                node = right
        return self.leaf[~node]


@dataclass(frozen=True)
class DepartureModel:
    """The exported quantile models: raw scores are log1p(minutes still to stay)."""

    trees: dict[str, tuple[_Tree, ...]]
    trained_sessions: int
    description: str

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> DepartureModel:
        if document.get("features") != list(FEATURES):
            raise ValueError("the departure model was trained on other features than this code builds")
        trees = {q: tuple(_Tree.from_arrays(t) for t in document["quantiles"][q]) for q in QUANTILES}
        return cls(trees, int(document["trained_sessions"]), str(document["description"]))

    def raw(self, quantile: str, row: Sequence[float]) -> float:
        """The sum of the trees, as LightGBM's `predict(raw_score=True)`."""
        return sum(tree.value(row) for tree in self.trees[quantile])

    def remaining_minutes(self, row: Sequence[float]) -> tuple[float, float, float]:
        """P10, P50, P90 of the minutes still to stay: ordered (sorted, as quantile models can cross)
        and never negative."""
        low, mid, high = sorted(max(0.0, math.expm1(self.raw(q, row))) for q in QUANTILES)
        return low, mid, high


@cache
def load_model(path: Path = MODEL_PATH) -> DepartureModel:
    return DepartureModel.from_document(json.loads(path.read_text()))


def estimate_departure(
    query: DepartureQuery, model: DepartureModel | None = None
) -> DepartureEstimate | None:
    """Always an estimate (the plug-in time alone is enough); None is kept in the contract for
    callers that predate the model."""
    model = model or load_model()
    now = max(query.now, query.plugged_in_at)
    elapsed = (now - query.plugged_in_at) / timedelta(minutes=1)
    local = query.plugged_in_at.astimezone(ZoneInfo(query.time_zone))
    rests_on = [f"plug-in at {local:%H:%M} on a {local:%A}"]
    gaps: list[str] = []

    declared_minutes: float | None = None
    if query.declared_departure_at is not None:
        if query.declared_departure_at > now:
            declared_minutes = (query.declared_departure_at - query.plugged_in_at) / timedelta(minutes=1)
            rests_on.append("the declared departure")
        else:
            gaps.append("the declared departure has already passed and is ignored")
    else:
        gaps.append("no declared departure")
    requested = float(query.requested_energy_kwh) if query.requested_energy_kwh is not None else None
    if requested is not None and requested > 0:
        rests_on.append("the requested energy")
    else:
        gaps.append("no requested energy")

    row = model_inputs(local, elapsed, declared_minutes, requested)
    remaining = model.remaining_minutes(row)
    site = query.site_habits.remaining(local, elapsed) if query.site_habits is not None else []
    if len(site) >= MIN_BLEND_VISITS:
        remaining, weight = blend(remaining, site, SITE_PRIOR_VISITS)
        rests_on.append(f"{len(site)} past sessions at this site around this hour (weight {weight:.0%})")
    else:
        gaps.append("no past sessions at this site around this hour")
    own = _own_remaining(query.history, elapsed)
    if own is not None:
        remaining, weight = blend(remaining, own, HISTORY_PRIOR_VISITS)
        rests_on.append(f"{len(own)} past visits of this vehicle (weight {weight:.0%})")
    else:
        gaps.append(
            "too few past visits of this vehicle" if query.history else "no past visits of this vehicle"
        )

    basis = f"model of {model.trained_sessions:,} real sessions from " + ", ".join(rests_on)
    if gaps:
        basis += "; " + "; ".join(gaps)
    p10, p50, p90 = (now + timedelta(minutes=m) for m in remaining)
    return DepartureEstimate(p10, p50, p90, basis, _confidence(declared_minutes is not None, own))


def _own_remaining(history: tuple[PastVisit, ...], elapsed: float) -> list[float] | None:
    """Minutes still to stay in each past visit that lasted longer than this one has so far."""
    stays = [(v.unplugged_at - v.plugged_in_at) / timedelta(minutes=1) for v in history]
    remaining = sorted(s - elapsed for s in stays if s > elapsed)
    return remaining if len(remaining) >= MIN_BLEND_VISITS else None


def blend(
    prior: tuple[float, float, float], observed: list[float], prior_visits: int
) -> tuple[tuple[float, float, float], float]:
    """Quantile by quantile, the weighted mean of the prior's P10/P50/P90 and the observed stays'
    (a mixture of quantile functions, which keeps them ordered); the observed weigh
    n / (n + prior_visits). Returns the blend and that weight."""
    weight = len(observed) / (len(observed) + prior_visits)
    low, mid, high = ((1 - weight) * p + weight * o for p, o in zip(prior, _quantiles(observed), strict=True))
    return (low, mid, high), weight


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    cuts = quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[4], cuts[8]


def _confidence(declared: bool, own: list[float] | None) -> Confidence:
    habits = own is not None and len(own) >= MIN_HISTORY
    if declared and habits:
        return "high"
    if declared or habits:
        return "medium"
    return "low"
