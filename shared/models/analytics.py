"""Fleet analytics as the API answers it (from the daily rollups), and the billing workflow's
rollup step's result. Decimals travel as JSON strings; days are the sites' local days."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

Granularity = Literal["day", "week", "month"]
EnergyGroup = Literal["fleet", "vehicle", "driver"]
UtilisationGroup = Literal["charger", "site"]
ReportFormat = Literal["json", "csv"]


class _Report(BaseModel):
    fleet_id: str
    from_date: date = Field(description="First local day (inclusive)")
    to_date: date = Field(description="Last local day (inclusive)")


class Cost(BaseModel):
    currency: str = Field(description="ISO 4217")
    net: Decimal = Field(description="Without VAT, as priced in the sessions' CDRs")
    gross: Decimal = Field(description="With VAT")


class EnergyRow(BaseModel):
    period: str = Field(description="`2026-11-26`, ISO week `2026-W48` or month `2026-11`")
    period_start: date
    key: str | None = Field(
        description="The fleet, vehicle or driver id (by `group_by`); null: sessions with no known "
        "vehicle or driver"
    )
    energy_kwh: Decimal
    sessions: int = Field(description="Sessions that arrived in the period")
    costs: list[Cost] = Field(description="One per currency charged")


class EnergyReport(_Report):
    granularity: Granularity
    group_by: EnergyGroup
    rows: list[EnergyRow]


class UtilisationRow(BaseModel):
    key: str = Field(description="The charger or site id (by `group_by`)")
    site_id: str | None = Field(description="The charger's site (null when no longer registered)")
    connectors: int | None = Field(description="Connectors counted as available (null: not registered)")
    available_hours: Decimal | None = Field(
        description="Connector hours in the period up to now (the site's local days)"
    )
    plugged_hours: Decimal = Field(description="Connector hours with a vehicle plugged in")
    charging_hours: Decimal = Field(description="Connector hours delivering energy")
    idle_hours: Decimal = Field(description="Plugged in, not charging")
    occupied_share: Decimal | None = Field(description="plugged / available (0–1)")
    charging_share: Decimal | None = Field(description="charging / available (0–1)")
    idle_share: Decimal | None = Field(description="idle / plugged (0–1); null when never plugged in")


class UtilisationReport(_Report):
    group_by: UtilisationGroup
    rows: list[UtilisationRow]


class SiteLoadRow(BaseModel):
    site_id: str
    day: date = Field(description="The site's local day")
    energy_kwh: Decimal
    peak_kw: Decimal = Field(description="The day's busiest quarter hour: its energy / 0.25 h")
    peak_at: datetime | None = Field(description="Start of that quarter hour, in the site's local time")
    grid_limit_kw: Decimal | None = Field(description="The site's grid connection limit, when registered")
    share_of_limit: Decimal | None = Field(description="peak_kw / grid_limit_kw")


class SiteLoadReport(_Report):
    rows: list[SiteLoadRow]


class ArrivalsRow(BaseModel):
    weekday: int = Field(ge=1, le=7, description="ISO weekday: 1 Monday … 7 Sunday")
    weekday_name: str
    hour: int = Field(ge=0, le=23, description="Local hour at the site")
    arrivals: int = Field(description="Sessions that started in this hour")
    departures: int = Field(description="Sessions that ended in this hour")


class ArrivalsReport(_Report):
    rows: list[ArrivalsRow] = Field(description="Every weekday × hour (168 rows), Monday 00 first")


class RollupsRecorded(BaseModel):
    """What the rollup step did: how many local days the session spans, and how many day items
    it changed (0 when a retry found its numbers there already)."""

    session_id: str
    attempt: int
    days: int
    items_changed: int
