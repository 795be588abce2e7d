"""When a plugged-in vehicle's battery reaches its target (charging complete), or the moment it did.

From the SoC the car sends, its battery size and target, the power it draws now and what the
connector and the car allow, with the constant-current/constant-voltage taper near full: above a
knee SoC the power falls in proportion to what is left to fill. The knee is fit per vehicle from
its own past sessions when there are enough, else a default for its class (AC or DC). Without SoC
it falls back to the energy still asked for, or to the power trend (a sustained fall against the
power the car drew before means the car is nearly done). What is missing is said, never guessed.

Pure: no AWS imports. Energy and power are floats inside (an estimate, not money), Decimals at the
edges.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Literal

from shared.domain.vehicle_state import CHARGING_POWER_THRESHOLD_W
from shared.models.sessions import MeterSample

Confidence = Literal["high", "medium", "low"]
VehicleClass = Literal["ac", "dc"]

# Above this a connector is DC: AC charging tops out at 22 kW (three phases, 32 A) in Europe.
DC_ABOVE_KW = Decimal(22)
# Energy the meter counts that never reaches the cells (on-board charger, cables, battery heat).
CHARGE_EFFICIENCY = 0.9
# Near 100% a car still draws a trickle: without a floor the taper would never reach full.
MIN_TAPER_FRACTION = 0.05
# How many of a vehicle's own sessions with points in the taper make a fit worth trusting.
MIN_FIT_SESSIONS = 3
# A session's points count for the fit only when it started low enough to show its plateau.
FIT_START_SOC_BELOW = 80.0
# Power under the done threshold for this long, after a taper, means the car stopped on its own.
DONE_AFTER = timedelta(minutes=10)
# A reading older than this says little about now: the estimate still stands, with less confidence.
STALE_AFTER = timedelta(minutes=30)
# The power trend needs a fall to under this share of the session's plateau, over these readings.
TREND_FALL_BELOW = 0.8
TREND_READINGS = 3


@dataclass(frozen=True)
class TaperModel:
    """Power as a share of the plateau: 1 up to `knee_soc_percent`, then falling linearly to
    MIN_TAPER_FRACTION at 100%. `sessions` is how many of the vehicle's own sessions it was fit
    from (0: the default for its class)."""

    knee_soc_percent: float
    vehicle_class: VehicleClass
    sessions: int = 0

    def fraction(self, soc_percent: float) -> float:
        if soc_percent <= self.knee_soc_percent:
            return 1.0
        return max(MIN_TAPER_FRACTION, (100.0 - soc_percent) / (100.0 - self.knee_soc_percent))

    @property
    def described(self) -> str:
        if self.sessions:
            return f"taper fit from {self.sessions} of its sessions (knee {self.knee_soc_percent:.0f}%)"
        return f"typical {self.vehicle_class.upper()} taper (knee {self.knee_soc_percent:.0f}%)"


# On AC the on-board charger, not the battery, limits power until close to full; on DC the
# battery takes its peak only to about two thirds.
DEFAULT_TAPER: dict[VehicleClass, TaperModel] = {
    "ac": TaperModel(92.0, "ac"),
    "dc": TaperModel(65.0, "dc"),
}


def vehicle_class(connector_kw: Decimal | None) -> VehicleClass:
    return "dc" if connector_kw is not None and connector_kw > DC_ABOVE_KW else "ac"


@dataclass(frozen=True)
class TaperPoint:
    """One reading of a past session: SoC, and power as a share of that session's plateau."""

    soc_percent: float
    power_fraction: float


def taper_points(samples: Sequence[MeterSample]) -> tuple[TaperPoint, ...]:
    """A past session's readings as taper points, or none when the session cannot show its taper
    (no SoC, or it started too full to have shown its plateau)."""
    readings = [
        (float(s.soc_percent), float(s.power_w))
        for s in sorted(samples, key=lambda s: s.timestamp)
        if s.soc_percent is not None and s.power_w is not None and s.power_w >= CHARGING_POWER_THRESHOLD_W
    ]
    if len(readings) < 3 or readings[0][0] >= FIT_START_SOC_BELOW:
        return ()
    # The plateau is what the session drew at its strongest; the median of the top three keeps
    # one spike from setting it.
    plateau = median(sorted(p for _, p in readings)[-3:])
    return tuple(TaperPoint(round(soc, 1), round(min(1.0, p / plateau), 3)) for soc, p in readings)


def fit_taper(sessions: Sequence[Sequence[TaperPoint]], cls: VehicleClass) -> TaperModel:
    """The knee that best explains the vehicle's own sessions (least squares over a grid of knees),
    or its class's default when fewer than MIN_FIT_SESSIONS sessions reached into a taper."""
    default = DEFAULT_TAPER[cls]
    useful = [points for points in sessions if any(p.soc_percent >= 50.0 for p in points)]
    if len(useful) < MIN_FIT_SESSIONS:
        return default
    points = [p for session in useful for p in session]
    best_knee, best_error = default.knee_soc_percent, math.inf
    for step in range(0, 97):
        knee = 50.0 + step * 0.5
        model = TaperModel(knee, cls)
        error = sum((model.fraction(p.soc_percent) - p.power_fraction) ** 2 for p in points)
        if error < best_error - 1e-12:
            best_knee, best_error = knee, error
    return TaperModel(best_knee, cls, sessions=len(useful))


@dataclass(frozen=True)
class ChargeCompleteQuery:
    """What is known of one active session now. `samples` are its readings when they were read
    (a session's own view); the fleet's status passes none and relies on the latest values."""

    now: datetime
    plugged_in_at: datetime
    energy_delivered_kwh: Decimal
    power_w: Decimal | None = None
    power_at: datetime | None = None
    soc_percent: Decimal | None = None
    soc_at: datetime | None = None
    # OCPP 2.0.1 chargingState, or the connector's status (1.6 and 2.0.1 both say SuspendedEV).
    charging_state: str | None = None
    charging_state_at: datetime | None = None
    connector_status: str | None = None
    connector_status_at: datetime | None = None
    battery_kwh: Decimal | None = None
    target_soc_percent: Decimal | None = None
    # Energy to add this session (charging needs), when the target is an amount, not a SoC.
    target_energy_kwh: Decimal | None = None
    # Where the target comes from, in words ("charging needs", "the vehicle's default").
    target_source: str = "the vehicle's default"
    connector_kw: Decimal | None = None
    vehicle_max_kw: Decimal | None = None
    taper: TaperModel | None = None
    samples: tuple[MeterSample, ...] = ()


@dataclass(frozen=True)
class ChargeCompleteEstimate:
    """`at`: when the battery reaches its target, or, when `done`, the moment charging completed.
    None when it cannot be said; `missing` then says what would let it be said."""

    at: datetime | None
    done: bool
    confidence: Confidence
    basis: str
    missing: tuple[str, ...] = ()
    remaining_kwh: Decimal | None = None


_CAR_DONE = "SuspendedEV"


def estimate_charge_complete(query: ChargeCompleteQuery) -> ChargeCompleteEstimate:
    done = _done(query)
    if done is not None:
        return done
    if query.power_w is None or query.power_w < CHARGING_POWER_THRESHOLD_W:
        return ChargeCompleteEstimate(
            None,
            False,
            "low",
            "not drawing power now (waiting for the car, the charger or the schedule)",
            ("charging power",),
        )
    missing = _missing(query)
    by_soc = _by_soc(query, missing)
    if by_soc is not None:
        return by_soc
    by_energy = _by_energy_need(query, missing)
    if by_energy is not None:
        return by_energy
    by_trend = _by_power_trend(query, missing)
    if by_trend is not None:
        return by_trend
    return ChargeCompleteEstimate(
        None,
        False,
        "low",
        f"charging at {_kw(query.power_w)} kW, but nothing says how much is still to go",
        missing,
    )


# --- done ----------------------------------------------------------------------------------------


def _done(query: ChargeCompleteQuery) -> ChargeCompleteEstimate | None:
    soc, target = query.soc_percent, query.target_soc_percent
    if soc is not None and target is not None and soc >= target:
        reached = next(
            (
                s.timestamp
                for s in sorted(query.samples, key=lambda s: s.timestamp)
                if s.soc_percent is not None and s.soc_percent >= target
            ),
            query.soc_at or query.now,
        )
        return ChargeCompleteEstimate(
            min(reached, query.now),
            True,
            "high",
            f"SoC {soc:f}% reached the target {target:f}% ({query.target_source})",
        )
    delivered = query.energy_delivered_kwh
    if query.target_energy_kwh is not None and delivered >= query.target_energy_kwh:
        return ChargeCompleteEstimate(
            min(query.power_at or query.now, query.now),
            True,
            "high",
            f"{delivered:f} kWh delivered of the {query.target_energy_kwh:f} kWh asked ({query.target_source})",
            remaining_kwh=Decimal(0),
        )
    if delivered > 0 and _CAR_DONE in (query.charging_state, query.connector_status):
        at = query.charging_state_at if query.charging_state == _CAR_DONE else query.connector_status_at
        return ChargeCompleteEstimate(
            min(at or query.now, query.now),
            True,
            "high",
            f"the car stopped drawing power by itself (SuspendedEV) after {delivered:f} kWh",
        )
    return _done_after_taper(query)


def _done_after_taper(query: ChargeCompleteQuery) -> ChargeCompleteEstimate | None:
    """Power near zero for DONE_AFTER, after it had been falling: the car finished on its own."""
    readings = _power_readings(query.samples)
    if len(readings) < TREND_READINGS + 1:
        return None
    threshold = float(CHARGING_POWER_THRESHOLD_W)
    low_since = None
    for at, power in reversed(readings):
        if power >= threshold:
            break
        low_since = at
    if low_since is None or query.now - low_since < DONE_AFTER:
        return None
    before = [p for at, p in readings if at < low_since]
    plateau = max(before, default=0.0)
    if plateau < threshold or not any(
        threshold <= p < TREND_FALL_BELOW * plateau for p in before[-TREND_READINGS:]
    ):
        # An abrupt stop from full power is the charger or a schedule pausing, not a full car.
        return None
    return ChargeCompleteEstimate(
        low_since,
        True,
        "medium",
        f"power tapered from {plateau / 1000:.1f} kW and has stayed near zero since then",
    )


# --- estimates -----------------------------------------------------------------------------------


def _missing(query: ChargeCompleteQuery) -> tuple[str, ...]:
    missing = []
    if query.soc_percent is None:
        missing.append("SoC (the car does not send it)")
    if query.battery_kwh is None:
        missing.append("battery capacity (the vehicle's battery_kwh)")
    if query.target_soc_percent is None and query.target_energy_kwh is None:
        missing.append("a target (a vehicle with a default target SoC, or charging needs)")
    return tuple(missing)


def _limit_kw(query: ChargeCompleteQuery) -> float | None:
    limits = [float(v) for v in (query.connector_kw, query.vehicle_max_kw) if v is not None]
    return min(limits) if limits else None


def _by_soc(query: ChargeCompleteQuery, missing: tuple[str, ...]) -> ChargeCompleteEstimate | None:
    soc, target, power = query.soc_percent, query.target_soc_percent, query.power_w
    if soc is None or target is None or power is None:
        return None
    capacity = query.battery_kwh
    if capacity is not None:
        capacity_note = f"{capacity:f} kWh"
    else:
        capacity = _capacity_from_samples(query.samples)
        if capacity is None:
            return None
        capacity_note = f"~{capacity:f} kWh measured this session"
    taper = query.taper or DEFAULT_TAPER[vehicle_class(query.connector_kw)]
    drawn_kw = float(power) / 1000
    # Above the knee the car already draws less than its plateau: undo the taper to find it.
    plateau_kw = drawn_kw / taper.fraction(float(soc))
    limit = _limit_kw(query)
    if limit is not None:
        plateau_kw = min(plateau_kw, max(limit, drawn_kw))
    hours = _hours_to(float(soc), float(target), float(capacity), plateau_kw, taper)
    since = query.soc_at or query.power_at or query.now
    at = max(query.now, since + timedelta(hours=hours))
    stale = query.now - since > STALE_AFTER
    own_fit = taper.sessions >= MIN_FIT_SESSIONS
    confidence: Confidence = "medium"
    if own_fit and query.battery_kwh is not None and not stale:
        confidence = "high"
    elif query.battery_kwh is None and stale:
        confidence = "low"
    if not own_fit:
        missing = (*missing, f"{MIN_FIT_SESSIONS} past sessions with SoC to fit this vehicle's own taper")
    remaining = (target - soc) / 100 * capacity
    notes = [
        f"SoC {soc:f}% of {capacity_note} to {target:f}% ({query.target_source})",
        f"at {drawn_kw:.1f} kW",
        taper.described,
    ]
    if stale:
        notes.append(f"last SoC reading {int((query.now - since) / timedelta(minutes=1))} min old")
    return ChargeCompleteEstimate(
        at, False, confidence, ", ".join(notes), missing, remaining.quantize(Decimal("0.1"))
    )


def _hours_to(soc: float, target: float, capacity_kwh: float, plateau_kw: float, taper: TaperModel) -> float:
    """Time to fill from `soc` to `target` at the plateau power shaped by the taper, in closed form
    (the status estimates every active session on each call): flat to the knee, then a power
    proportional to what is left to fill (a logarithm), then the trickle's floor."""
    knee = taper.knee_soc_percent
    floor_from = 100.0 - MIN_TAPER_FRACTION * (100.0 - knee)
    kwh_per_percent = capacity_kwh / 100
    power = plateau_kw * CHARGE_EFFICIENCY
    hours = 0.0
    flat_to = min(target, knee)
    if soc < flat_to:
        hours += (flat_to - soc) * kwh_per_percent / power
    falling_from, falling_to = max(soc, knee), min(target, floor_from)
    if falling_from < falling_to:
        hours += (
            kwh_per_percent * (100.0 - knee) / power * math.log((100.0 - falling_from) / (100.0 - falling_to))
        )
    trickle_from = max(soc, floor_from)
    if trickle_from < target:
        hours += (target - trickle_from) * kwh_per_percent / (power * MIN_TAPER_FRACTION)
    return hours


def _capacity_from_samples(samples: Sequence[MeterSample]) -> Decimal | None:
    """The battery size this session's own readings imply: energy in over SoC gained (at least 5
    points of SoC apart, so a rounding of the SoC does not dominate)."""
    readings = [
        (s.soc_percent, s.energy_wh)
        for s in sorted(samples, key=lambda s: s.timestamp)
        if s.soc_percent is not None and s.energy_wh is not None
    ]
    if len(readings) < 2:
        return None
    (soc0, wh0), (soc1, wh1) = readings[0], readings[-1]
    if soc1 - soc0 < 5 or wh1 <= wh0:
        return None
    kwh = (wh1 - wh0) / 1000 * Decimal(str(CHARGE_EFFICIENCY)) / (soc1 - soc0) * 100
    return kwh.quantize(Decimal(1))


def _by_energy_need(query: ChargeCompleteQuery, missing: tuple[str, ...]) -> ChargeCompleteEstimate | None:
    if query.target_energy_kwh is None or query.power_w is None:
        return None
    remaining = query.target_energy_kwh - query.energy_delivered_kwh
    drawn_kw = float(query.power_w) / 1000
    since = query.power_at or query.now
    at = max(query.now, since + timedelta(hours=float(remaining) / drawn_kw))
    return ChargeCompleteEstimate(
        at,
        False,
        "medium",
        f"{remaining:f} kWh still to add of {query.target_energy_kwh:f} kWh ({query.target_source}) "
        f"at {drawn_kw:.1f} kW",
        missing,
        remaining.quantize(Decimal("0.1")),
    )


def _power_readings(samples: Sequence[MeterSample]) -> list[tuple[datetime, float]]:
    return [
        (s.timestamp, float(s.power_w))
        for s in sorted(samples, key=lambda s: s.timestamp)
        if s.power_w is not None
    ]


def _by_power_trend(query: ChargeCompleteQuery, missing: tuple[str, ...]) -> ChargeCompleteEstimate | None:
    """A sustained fall against the power the car drew before (the charger still offering it):
    the constant-voltage phase, where power decays roughly exponentially. Its rate, fit to the
    latest readings, says when power reaches the done threshold."""
    readings = _power_readings(query.samples)
    if len(readings) < TREND_READINGS + 1:
        return None
    plateau = max(p for _, p in readings)
    tail = readings[-TREND_READINGS:]
    falling = all(later[1] < earlier[1] for earlier, later in itertools.pairwise(tail))
    threshold = float(CHARGING_POWER_THRESHOLD_W)
    if not falling or tail[-1][1] >= TREND_FALL_BELOW * plateau or tail[-1][1] < threshold:
        return None
    start = tail[0][0]
    xs = [(at - start).total_seconds() / 3600 for at, _ in tail]
    ys = [math.log(p) for _, p in tail]
    x_mean, y_mean = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - x_mean) ** 2 for x in xs)
    if spread <= 0:
        return None
    rate = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / spread
    if rate >= 0:
        return None
    done_power = max(threshold, MIN_TAPER_FRACTION * plateau)
    last_at, last_power = tail[-1]
    hours = max(0.0, math.log(done_power / last_power) / rate)
    at = max(query.now, last_at + timedelta(hours=hours))
    return ChargeCompleteEstimate(
        at,
        False,
        "low",
        f"power falling from {plateau / 1000:.1f} kW to {last_power / 1000:.1f} kW: the car is nearly done",
        missing,
    )


def _kw(power_w: Decimal) -> Decimal:
    return (power_w / 1000).quantize(Decimal("0.1"))
