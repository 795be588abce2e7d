"""OCPP 1.6 MeterValue entries into `MeterSample`s: energy register in Wh, power in W, SoC in %.

Units are normalised here (kWh → Wh, kW → W) so nothing downstream ever multiplies by 1000.
Values of a measurand we keep that cannot be read are reported, not guessed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.models.sessions import MeterSample

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"

_SCALE = {
    ENERGY: {"Wh": Decimal(1), "kWh": Decimal(1000)},
    POWER: {"W": Decimal(1), "kW": Decimal(1000)},
    SOC: {"Percent": Decimal(1)},
}
_DEFAULT_UNIT = {ENERGY: "Wh", POWER: "W", SOC: "Percent"}
# Per-phase values add up to the total; line-to-neutral and plain line labels both occur.
_PHASES = {"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"}


@dataclass(frozen=True)
class MeterReadings:
    samples: list[MeterSample]
    problems: list[str]


def parse_iso(timestamp: str) -> datetime:
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {timestamp!r} has no UTC offset")
    return parsed


def _unit_and_scale(sampled: dict[str, Any], measurand: str, version: str) -> tuple[str, Decimal]:
    if version == "2.0.1":
        # 2.0.1 puts the unit in unitOfMeasure, with a power-of-ten multiplier (kWh may also be
        # written as Wh with multiplier 3).
        unit_of_measure = sampled.get("unitOfMeasure", {})
        return unit_of_measure.get("unit", _DEFAULT_UNIT[measurand]), Decimal(10) ** int(
            unit_of_measure.get("multiplier", 0)
        )
    return sampled.get("unit", _DEFAULT_UNIT[measurand]), Decimal(1)


def read_meter_values(meter_values: list[dict[str, Any]], version: str = "1.6") -> MeterReadings:
    """Each `MeterValue` becomes one sample; signed or unparseable values become problems."""
    samples: list[MeterSample] = []
    problems: list[str] = []
    for entry in meter_values:
        try:
            at = parse_iso(entry["timestamp"])
        except (KeyError, ValueError) as exc:
            problems.append(f"meterValue timestamp unreadable: {exc}")
            continue
        totals: dict[str, Decimal] = {}
        phases: dict[str, Decimal] = defaultdict(Decimal)
        for sampled in entry.get("sampledValue", []):
            measurand = sampled.get("measurand", ENERGY)
            if measurand not in _SCALE or sampled.get("format") == "SignedData":
                continue
            unit, multiplier = _unit_and_scale(sampled, measurand, version)
            scale = _SCALE[measurand].get(unit)
            if scale is None:
                problems.append(f"{measurand} in unit {unit!r} is not understood")
                continue
            try:
                value = Decimal(str(sampled["value"])) * scale * multiplier
            except (InvalidOperation, KeyError):
                problems.append(f"{measurand} value {sampled.get('value')!r} is not a number")
                continue
            if not value.is_finite():
                problems.append(f"{measurand} value {sampled.get('value')!r} is not finite")
                continue
            phase = sampled.get("phase")
            if phase is None:
                totals[measurand] = value
            elif phase in _PHASES and measurand != SOC:
                phases[measurand] += value
        for measurand, summed in phases.items():
            totals.setdefault(measurand, summed)
        if totals:
            samples.append(
                MeterSample(
                    timestamp=at,
                    energy_wh=totals.get(ENERGY),
                    power_w=totals.get(POWER),
                    soc_percent=totals.get(SOC),
                )
            )
    return MeterReadings(samples, problems)


def merge_moments(samples: list[MeterSample]) -> list[MeterSample]:
    """One sample per moment, in time order: entries of one frame that share a timestamp (energy
    in one, power in another, a charging state in a third) are one reading of the meter."""
    merged: dict[datetime, dict[str, Any]] = {}
    for sample in samples:
        fields = merged.setdefault(sample.timestamp, {})
        fields.update(sample.model_dump(exclude_none=True))
    return [MeterSample(**merged[at]) for at in sorted(merged)]
