"""The fleet's vehicles and sessions as lists: the filters a fleet app sends, and the pages it gets.

A filter's `from`/`to` is a date (a whole day in the fleet's sites' time zone) or a date-time (an
offset-less one read in that zone too); both ends are inclusive. Decimals travel as JSON strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.domain.vehicle_state import VehicleState
from shared.models.registry import ChargePointId, Identifier
from shared.models.registry_api import ChargingNeedsView

SessionStatusName = Literal["active", "closing", "held", "invoiced", "on_statement"]
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Far enough either way for any charging session, near enough that a day's bounds never overflow.
_YEARS = range(1970, 9000)


def _day_or_moment(value: Any) -> Any:
    """`2026-10-01` is a day; anything longer must be an ISO 8601 date-time."""
    if not isinstance(value, str):
        return value
    parsed = date.fromisoformat(value) if _DAY.match(value) else datetime.fromisoformat(value)
    if parsed.year not in _YEARS:
        raise ValueError(f"{value!r}: the year must be between {_YEARS.start} and {_YEARS.stop - 1}")
    return parsed


DayOrMoment = Annotated[datetime | date | None, BeforeValidator(_day_or_moment)]


class SessionFilters(BaseModel):
    """Which of the fleet's sessions a fleet app asks for (the query of `GET /sessions` and of
    `GET /vehicles/{vehicle_id}/sessions`), each value already valid on its own."""

    model_config = ConfigDict(frozen=True)

    started_from: DayOrMoment = None
    started_to: DayOrMoment = None
    vehicle_id: Identifier | None = None
    driver_id: Identifier | None = None
    charge_point_id: ChargePointId | None = None
    status: SessionStatusName | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str | None, Field(max_length=1000)] = None

    @model_validator(mode="after")
    def _in_order(self) -> SessionFilters:
        start, end = self.started_from, self.started_to
        if start is None or end is None:
            return self
        # A day stands for its first moment as `from` and its last as `to`.
        first = start if isinstance(start, datetime) else datetime.combine(start, time.min)
        last = end if isinstance(end, datetime) else datetime.combine(end, time.max)
        # Both with an offset or both without (read in one zone) compare here; otherwise the
        # range is ordered once read in the fleet's zone, and an inverted one is simply empty.
        if (first.tzinfo is None) == (last.tzinfo is None) and first > last:
            raise ValueError("`from` is after `to`")
        return self


class SessionSummary(BaseModel):
    session_id: str
    status: SessionStatusName
    vehicle_id: str | None
    driver_id: str | None
    charge_point_id: str
    connector_id: int
    site_id: str
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: Decimal = Field(description="Delivered so far, or in total once ended")
    power_kw: Decimal | None = Field(default=None, description="The latest power, while the session lasts")
    soc_percent: Decimal | None = None
    stop_reason: str | None = None
    end_inferred: bool = Field(default=False, description="The end was inferred (no stop arrived in time)")


class SessionPage(BaseModel):
    fleet_id: str
    sessions: list[SessionSummary] = Field(description="Newest start first")
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` (with the same filters) for the next page; absent at the end",
    )


class VehicleSummary(BaseModel):
    vehicle_id: str
    name: str
    registration: str
    battery_kwh: Decimal | None = None
    max_ac_kw: Decimal | None = None
    max_dc_kw: Decimal | None = None
    default_target_soc_percent: Decimal
    usual_departure: str | None = Field(default=None, description="Local time at its site, e.g. 07:30")
    state: VehicleState = Field(
        description="charging: drawing power; plugged_in: in a session, not drawing (waiting for power); "
        "ready: charged to its target SoC, or the car stopped drawing after charging; away: in no session"
    )
    session_id: str | None = Field(default=None, description="Its active session, if any")


class VehiclePage(BaseModel):
    fleet_id: str
    vehicles: list[VehicleSummary] = Field(description="By vehicle id")
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent at the end"
    )


class VehicleDetail(VehicleSummary):
    active_session: SessionSummary | None = Field(
        default=None, description="The session it is in now, if any"
    )
    charging_needs: ChargingNeedsView | None = Field(
        default=None,
        description="Its next departure and target, when the fleet set them (its target SoC counts for `ready`)",
    )
