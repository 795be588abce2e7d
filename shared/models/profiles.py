"""What Laddvakt learned of each vehicle from its closed sessions, as stored: its last visits (when
it plugged in and left, for the departure estimate) and the (SoC, power) points of its last
sessions with SoC (for the charge-complete taper fit). One small registry item per vehicle,
written once per closed session by the billing workflow's RecordVehicleProfile step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.domain.arrival_reserve import PastStay
from shared.domain.departure import PastVisit, SiteHabits
from shared.models.registry import ChargingNeeds

# Enough to learn a vehicle's habits and taper, small enough for one item read in a batch.
MAX_VISITS = 50
MAX_TAPER_SESSIONS = 20
# A site's stays for the departure estimate's site history (`SiteHabits`): those of the last
# `SITE_HISTORY_DAYS`, at most this many (about 50 bytes each: the item stays near 100 KB).
MAX_SITE_STAYS = 2000


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


class Stay(NamedTuple):
    """One closed session's stay at a site: session id, plug-in time in Unix seconds, stay in
    seconds, and the energy it took (None when unknown: a stay recorded before the energy was kept).
    The registry adapter stores the first three as a JSON array, as the release before it did, and
    the energy in an item of its own beside them."""

    session_id: str
    plugged_in_s: int
    stay_s: int
    energy_kwh: Decimal | None = None

    @property
    def plugged_in_at(self) -> datetime:
        return datetime.fromtimestamp(self.plugged_in_s, UTC)

    @property
    def unplugged_at(self) -> datetime:
        return datetime.fromtimestamp(self.plugged_in_s + self.stay_s, UTC)


class SiteStays(_Stored):
    """A site's recent stays, for the departure estimates of every vehicle plugged in there and
    the depot planner's arrival reserve, oldest first. One registry item per site (`SITE#{id}` /
    `STAYS`), written once per closed session by RecordVehicleProfile."""

    site_id: str
    fleet_id: str
    stays: list[Stay] = []
    updated_at: AwareDatetime | None = None
    # Optimistic lock, as on the vehicle profile.
    version: int = 0

    def knows(self, session_id: str) -> bool:
        return any(stay.session_id == session_id for stay in self.stays)

    def past_stays(self) -> list[PastStay]:
        """The stays the arrival reserve learns from: those whose energy is known."""
        return [
            PastStay(s.plugged_in_at, s.unplugged_at, s.energy_kwh)
            for s in self.stays
            if s.energy_kwh is not None
        ]


class ProfileRecorded(BaseModel):
    """What the RecordVehicleProfile step did: `changed` False when the session was in the
    profile already (a retry) or had no vehicle."""

    session_id: str
    vehicle_id: str | None
    changed: bool
    visits: int = 0
    taper_sessions: int = 0
    # The session's stay went into its site's recent stays (False on a retry).
    site_stays: int = 0


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
    site_stays: dict[str, SiteStays] = field(default_factory=dict)
    _habits: dict[str, SiteHabits | None] = field(default_factory=dict)

    def site_habits(self, site_id: str, time_zone: str) -> SiteHabits | None:
        """The site's habits for the departure estimate, built once per site however many of its
        sessions are estimated."""
        if site_id not in self._habits:
            stays = self.site_stays.get(site_id)
            self._habits[site_id] = (
                None
                if stays is None or not stays.stays
                else SiteHabits.from_visits(
                    (PastVisit(s.plugged_in_at, s.unplugged_at) for s in stays.stays),
                    time_zone,
                )
            )
        return self._habits[site_id]
