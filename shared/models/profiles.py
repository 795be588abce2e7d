"""What Laddvakt learned of each vehicle from its closed sessions, as stored: its last visits (when
it plugged in and left, for the departure estimate) and the (SoC, power) points of its last
sessions with SoC (for the charge-complete taper fit). One small registry item per vehicle,
written once per closed session by the billing workflow's RecordVehicleProfile step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.models.registry import ChargingNeeds

# Enough to learn a vehicle's habits and taper, small enough for one item read in a batch.
MAX_VISITS = 50
MAX_TAPER_SESSIONS = 20


class _Stored(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Visit(_Stored):
    session_id: str
    site_id: str
    driver_id: str | None = None
    plugged_in_at: AwareDatetime
    unplugged_at: AwareDatetime
    energy_kwh: Decimal


class TaperSession(_Stored):
    """One past session's readings as (SoC %, power as a share of its plateau) pairs."""

    session_id: str
    vehicle_class: str
    points: list[tuple[float, float]]


class VehicleProfile(_Stored):
    vehicle_id: str
    fleet_id: str
    visits: list[Visit] = []
    taper_sessions: list[TaperSession] = []
    # The fitted knee per vehicle class ("ac", "dc") and how many sessions each rests on.
    taper_knees: dict[str, float] = {}
    taper_fit_sessions: dict[str, int] = {}
    updated_at: AwareDatetime | None = None
    # Optimistic lock: a write succeeds only over the version it read.
    version: int = 0

    def knows(self, session_id: str) -> bool:
        return any(v.session_id == session_id for v in self.visits)


class ProfileRecorded(BaseModel):
    """What the RecordVehicleProfile step did: `changed` False when the session was in the
    profile already (a retry) or had no vehicle."""

    session_id: str
    vehicle_id: str | None
    changed: bool
    visits: int = 0
    taper_sessions: int = 0


@dataclass(frozen=True)
class EvChargingNeeds:
    """What an EV told its charger (2.0.1 NotifyEVChargingNeeds `chargingNeeds`), and when."""

    needs: dict[str, Any]
    at: datetime


@dataclass
class LiveContext:
    """What the estimates of active sessions read beside the sessions, in one batch: profiles and
    the fleet's charging needs by vehicle id, the EVs' own needs by (charger, EVSE)."""

    profiles: dict[str, VehicleProfile] = field(default_factory=dict)
    needs: dict[str, ChargingNeeds] = field(default_factory=dict)
    ev_needs: dict[tuple[str, int], EvChargingNeeds] = field(default_factory=dict)
