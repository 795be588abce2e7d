"""Smart charging between the depot plan and the chargers: what each plugged-in vehicle still
needs and by when, the OCPP SetChargingProfile payloads that carry a connector's plan, whether a
plan changed enough to send again, when delivered energy has drifted off the plan, and how long
to wait before retrying a charger that refused. Pure: no AWS imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.domain.departure import DepartureEstimate
from shared.domain.scheduling import PowerStep

# Without target energy, SoC or battery size: a typical depot top-up (a van's day of driving,
# ~150 km at 0.2 kWh/km). The inputs summary says so, so nobody mistakes it for a measurement.
DEFAULT_ENERGY_NEED_KWH = Decimal(30)
# Without any departure (declared, usual or estimated): plan a working shift ahead.
DEFAULT_HORIZON = timedelta(hours=8)
# The planner's time step: fine enough for time-of-use prices and short stays, coarse enough
# that a day is a few hundred steps.
PLAN_STEP = timedelta(minutes=15)
# Plan to finish this long before the departure the plan rests on: in the ACN replay a third of
# drivers left before the time they gave, and this margin raised the energy delivered by them
# (Caltech 30 kW: 92.1 % -> 94.3 % of requested) while the plan still cost less than EDF's
# (docs/eval/schedule.md).
DEPARTURE_MARGIN = timedelta(hours=1)
# Chargers keep a bounded number of periods per schedule (1.6 ChargingScheduleMaxPeriods is
# often 24); later periods are sent again at the next recompute.
MAX_PERIODS = 24
# AC charging is signalled in amperes per phase: a Swedish depot is 3 × 230 V, and below 6 A
# (IEC 61851) a car cannot charge at all, so such a limit is sent as 0 (never above the plan).
AC_MAX_KW = Decimal(22)
AC_PHASES = 3
AC_VOLTAGE = Decimal(230)
AC_MIN_AMPS = Decimal(6)
# Meter drift: replan when the energy delivered since the plan is this far below what the plan
# allowed, in kWh and as a share of it (both: a small plan is not replanned for 0.1 kWh).
DRIFT_KWH = Decimal(1)
DRIFT_SHARE = Decimal("0.2")
# A profile the charger has not answered in this time counts as refused.
ANSWER_TIMEOUT = timedelta(seconds=60)
# Retries of a refused profile: 1, 2, 4, 8, 16 minutes apart, then the connector stays uncontrolled.
MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(minutes=1)

RateUnit = Literal["W", "A"]


@dataclass(frozen=True)
class Basis:
    """A value the plan rests on and where it came from, in words a fleet manager reads."""

    value: Any
    basis: str


def energy_needed_kwh(
    *,
    delivered_kwh: Decimal,
    target_energy_kwh: Decimal | None,
    target_soc_percent: Decimal | None,
    soc_percent: Decimal | None,
    battery_kwh: Decimal | None,
) -> Basis:
    """Energy still to deliver: the charging needs' target energy less what this session already
    delivered; else (target SoC - SoC) × battery; else the default less what was delivered."""
    if target_energy_kwh is not None:
        return Basis(max(Decimal(0), target_energy_kwh - delivered_kwh), "charging needs' target energy")
    if target_soc_percent is not None and soc_percent is not None and battery_kwh is not None:
        need = (target_soc_percent - soc_percent) / 100 * battery_kwh
        return Basis(max(Decimal(0), need).quantize(Decimal("0.001")), "target SoC, SoC and battery size")
    missing = "SoC" if soc_percent is None else "battery size"
    return Basis(
        max(Decimal(0), DEFAULT_ENERGY_NEED_KWH - delivered_kwh),
        f"default {DEFAULT_ENERGY_NEED_KWH} kWh (no target energy; {missing} unknown)",
    )


def departure_at(
    *,
    now: datetime,
    declared_at: datetime | None,
    usual_departure: str | None,
    time_zone: str,
    estimate: DepartureEstimate | None,
) -> Basis:
    """When the vehicle must be done: the charging needs' departure, else its usual departure (the
    next such local time), else the estimate's P10, else the default horizon.

    P10 rather than P50: a plan that finishes by the early end of the estimate delivers what was
    asked in nine visits out of ten; finishing by the median would leave every second driver
    short, and a vehicle that stays longer only waits, charged."""
    if declared_at is not None and declared_at > now:
        return Basis(declared_at, "charging needs' departure")
    if usual_departure is not None:
        zone = ZoneInfo(time_zone)
        local = now.astimezone(zone)
        hour, minute = (int(part) for part in usual_departure.split(":"))
        at = datetime.combine(local.date(), time(hour, minute), zone)
        if at <= local:
            at = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), zone)
        return Basis(at, "the vehicle's usual departure")
    if estimate is not None and estimate.p10_at > now:
        return Basis(estimate.p10_at, f"estimated departure (P10; {estimate.basis})")
    return Basis(now + DEFAULT_HORIZON, f"default horizon of {DEFAULT_HORIZON / timedelta(hours=1):g} h")


def rate_unit(connector_power_kw: Decimal) -> RateUnit:
    """Amperes for AC connectors (up to 22 kW): many AC chargers accept only Current in
    ChargingScheduleAllowedChargingRateUnit, and a car's on-board charger is steered by current
    anyway. Watts for DC, whose chargers steer power and where phases mean nothing."""
    return "A" if connector_power_kw <= AC_MAX_KW else "W"


def _limit(limit_kw: Decimal, unit: RateUnit) -> Decimal:
    if unit == "W":
        return (limit_kw * 1000).quantize(Decimal(1), rounding=ROUND_FLOOR)
    amps = (limit_kw * 1000 / (AC_PHASES * AC_VOLTAGE)).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return amps if amps >= AC_MIN_AMPS else Decimal(0)


def _periods(steps: tuple[PowerStep, ...], start: datetime, unit: RateUnit) -> list[dict[str, Any]]:
    periods: list[dict[str, Any]] = []
    for step in upcoming(steps, start)[:MAX_PERIODS]:
        period: dict[str, Any] = {
            "startPeriod": int((step.starts_at - start).total_seconds()),
            "limit": _limit(step.limit_kw, unit),
        }
        if unit == "A":
            period["numberPhases"] = AC_PHASES
        periods.append(period)
    return periods


def upcoming(steps: tuple[PowerStep, ...], start: datetime) -> tuple[PowerStep, ...]:
    """The steps from `start` on, the first starting at `start` (the step in force then)."""
    current = [s for s in steps if s.starts_at <= start]
    later = [s for s in steps if s.starts_at > start]
    head = (PowerStep(start, current[-1].limit_kw),) if current else ()
    if not current and later:
        head = (PowerStep(start, Decimal(0)),)
    return head + tuple(later)


def ocpp16_set_charging_profile(
    *,
    connector_id: int,
    transaction_id: int,
    profile_id: int,
    steps: tuple[PowerStep, ...],
    start: datetime,
    unit: RateUnit,
) -> dict[str, Any]:
    """OCPP 1.6 SetChargingProfile.req: a TxProfile for this transaction, absolute from `start`.
    After the last period the last limit holds until the transaction ends (no duration)."""
    return {
        "connectorId": connector_id,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "transactionId": transaction_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": _iso(start),
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": _periods(steps, start, unit),
            },
        },
    }


def ocpp201_set_charging_profile(
    *,
    evse_id: int,
    transaction_id: str,
    profile_id: int,
    steps: tuple[PowerStep, ...],
    start: datetime,
    unit: RateUnit,
) -> dict[str, Any]:
    """OCPP 2.0.1 SetChargingProfileRequest: a TxProfile for this transaction on its EVSE."""
    return {
        "evseId": evse_id,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": transaction_id,
            "chargingSchedule": [
                {
                    "id": profile_id,
                    "startSchedule": _iso(start),
                    "chargingRateUnit": unit,
                    "chargingSchedulePeriod": _periods(steps, start, unit),
                }
            ],
        },
    }


def profile_id_for(session_id: str) -> int:
    """One profile id per session (a new profile replaces the session's previous one on the
    charger): a stable positive 31-bit number from the session id."""
    value = 0
    for char in session_id:
        value = (value * 31 + ord(char)) % 2_147_483_647
    return value or 1


def limits_changed(
    old: tuple[PowerStep, ...], new: tuple[PowerStep, ...], start: datetime, tolerance: timedelta = PLAN_STEP
) -> bool:
    """Whether the new steps limit the connector differently from `start` on. A recompute moves
    every boundary by the time that passed (the plan starts now, the default horizon moves with
    it): the same limits with boundaries less than `tolerance` apart are the same profile, so a
    charger's answer, which itself triggers a recompute, never makes Laddvakt send again."""
    before, after = _runs(upcoming(old, start)), _runs(upcoming(new, start))
    if [s.limit_kw for s in before] != [s.limit_kw for s in after]:
        return True
    return any(abs(a.starts_at - b.starts_at) >= tolerance for a, b in zip(before, after, strict=True))


def _runs(steps: tuple[PowerStep, ...]) -> list[PowerStep]:
    merged: list[PowerStep] = []
    for step in steps:
        if not merged or merged[-1].limit_kw != step.limit_kw:
            merged.append(step)
    return merged


def allowed_kwh(steps: tuple[PowerStep, ...], since: datetime, until: datetime) -> Decimal:
    """The most the plan let a connector draw between two times (kWh)."""
    total = Decimal(0)
    for i, step in enumerate(steps):
        end = steps[i + 1].starts_at if i + 1 < len(steps) else until
        lo, hi = max(step.starts_at, since), min(end, until)
        if hi > lo:
            total += step.limit_kw * Decimal((hi - lo) / timedelta(hours=1))
    return total


def drifted(allowed: Decimal, delivered: Decimal) -> bool:
    """Delivered energy is off the plan: the car took clearly less than the plan allowed (it
    tapers, or it is full), so the power it leaves unused can go to the others. More than
    allowed (a charger not obeying) drifts too."""
    gap = abs(allowed - delivered)
    return gap >= DRIFT_KWH and gap >= DRIFT_SHARE * max(allowed, delivered)


def retry_delay(attempt: int) -> timedelta | None:
    """How long after refused attempt `attempt` (1, 2, ...) to try again; None: give up."""
    if attempt >= MAX_ATTEMPTS:
        return None
    return FIRST_RETRY * (2 ** (attempt - 1))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
