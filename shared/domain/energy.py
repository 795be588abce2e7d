"""How much energy a session delivered, from absolute register readings, and whether to trust it.

Chargers reboot, swap meters, start offline with a zero baseline, and mislabel units. The energy
is the sum of the register's increases between consecutive readings in time order; a register
that goes down has been reset, and counting continues from its new value (the energy between the
reset and the first new reading is unknown and is not guessed). Anything implausible is a flag:
a flagged session is held for an operator instead of being invoiced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from shared.models.sessions import MeterSample

# A meter may overshoot its rated power a little (rounding, measurement); beyond this it is wrong.
POWER_TOLERANCE = Decimal("1.10")
# A register this far below what the reported power delivered was probably written in kWh and
# labelled Wh.
UNIT_MISMATCH_FACTOR = Decimal(100)
# Readings closer than this say too little to judge a power from.
MIN_JUDGED_SECONDS = 60


@dataclass(frozen=True)
class Reading:
    at: datetime
    register_wh: Decimal


@dataclass
class EnergyVerdict:
    energy_wh: Decimal
    resets: list[datetime] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    baseline_ignored: bool = False

    @property
    def trustworthy(self) -> bool:
        return not self.flags


def readings_of(
    started_at: datetime,
    meter_start_wh: Decimal | None,
    samples: list[MeterSample],
    ended_at: datetime | None,
    meter_stop_wh: Decimal | None,
) -> list[Reading]:
    readings = [Reading(s.timestamp, s.energy_wh) for s in samples if s.energy_wh is not None]
    if meter_start_wh is not None:
        readings.append(Reading(started_at, meter_start_wh))
    if meter_stop_wh is not None and ended_at is not None:
        readings.append(Reading(ended_at, meter_stop_wh))
    # Stable order: at equal times the start reading stays first and the stop reading last.
    return sorted(readings, key=lambda r: r.at)


def session_energy(
    readings: list[Reading], max_power_kw: Decimal, samples: list[MeterSample] | None = None
) -> EnergyVerdict:
    verdict = EnergyVerdict(energy_wh=Decimal(0))
    if len(readings) < 2:
        return verdict
    start = 0
    # An offline start reports meterStart 0 while the register really stands far higher: the
    # first real reading is the baseline, not zero (CitrineOS billed a lifetime register this way).
    if (
        readings[0].register_wh == 0
        and len(readings) > 2
        and _too_fast(readings[0], readings[1], max_power_kw)
    ):
        verdict.baseline_ignored = True
        start = 1
    for previous, current in zip(readings[start:], readings[start + 1 :], strict=False):
        delta = current.register_wh - previous.register_wh
        if delta < 0:
            verdict.resets.append(current.at)
            continue
        if _too_fast(previous, current, max_power_kw):
            seconds = (current.at - previous.at).total_seconds()
            verdict.flags.append(
                f"{delta} Wh between {previous.at.isoformat()} and {current.at.isoformat()} is more than "
                f"{max_power_kw} kW can deliver in {seconds:.0f} s"
            )
        verdict.energy_wh += delta
    if samples:
        mismatch = _unit_mismatch(verdict.energy_wh, samples)
        if mismatch:
            verdict.flags.append(mismatch)
    return verdict


def delivered_by_moment(readings: list[Reading]) -> dict[datetime, Decimal]:
    """Energy delivered up to each reading, counted like `session_energy` (a register that goes
    down was reset, and counting goes on from its new value): the session's meter curve."""
    delivered: dict[datetime, Decimal] = {}
    total = Decimal(0)
    for index, reading in enumerate(readings):
        if index:
            total += max(Decimal(0), reading.register_wh - readings[index - 1].register_wh)
        delivered[reading.at] = total
    return delivered


def _too_fast(previous: Reading, current: Reading, max_power_kw: Decimal) -> bool:
    seconds = Decimal(str((current.at - previous.at).total_seconds()))
    delta = current.register_wh - previous.register_wh
    if delta <= 0:
        return False
    # Within a minute a reading's resolution dominates; judge such a step against a full minute.
    seconds = max(seconds, Decimal(MIN_JUDGED_SECONDS))
    possible_wh = max_power_kw * 1000 * seconds / 3600 * POWER_TOLERANCE
    return delta > possible_wh


def _unit_mismatch(energy_wh: Decimal, samples: list[MeterSample]) -> str | None:
    """Energy far below what the reported power delivered: likely kWh values labelled Wh."""
    powered = sorted((s for s in samples if s.power_w is not None), key=lambda s: s.timestamp)
    delivered_wh = Decimal(0)
    for previous, current in pairwise(powered):
        hours = Decimal(str((current.timestamp - previous.timestamp).total_seconds())) / 3600
        delivered_wh += (previous.power_w or Decimal(0)) * hours
    if delivered_wh >= 1000 and energy_wh * UNIT_MISMATCH_FACTOR < delivered_wh:
        return (
            f"the register rose {energy_wh} Wh while the reported power delivered about "
            f"{delivered_wh.quantize(Decimal(1))} Wh: are kWh values labelled Wh?"
        )
    return None


def kwh(wh: Decimal) -> Decimal:
    """Wh as kWh to the Wh (what an invoice and a fleet app show)."""
    return (wh / 1000).quantize(Decimal("0.001"))
