"""Depot schedules as stored: one item per site with the plan, what it rests on, and what each
charger answered to its profile; and one pending-command item per SetChargingProfile sent, so the
ingest path can match the charger's answer. The API's answer is `shared.models.api.FleetSchedule`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

ProfileStatus = Literal["pending", "accepted", "rejected", "not_sent"]


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True)


class StoredStep(_Stored):
    starts_at: AwareDatetime
    limit_kw: Decimal


class ProfileState(_Stored):
    """What the charger made of this connector's latest profile."""

    status: ProfileStatus = "not_sent"
    message_id: str | None = None
    sent_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    # Refused attempts in a row (a CallError, Rejected, or no answer in time).
    attempts: int = 0
    reason: str | None = None
    next_retry_at: AwareDatetime | None = None
    # The steps the charger accepted (or was last sent): what "changed" is measured against.
    sent_steps: tuple[StoredStep, ...] = ()


class ConnectorInput(_Stored):
    """What one connector's plan rests on, in numbers and words."""

    energy_needed_kwh: Decimal
    energy_basis: str
    departure_at: AwareDatetime
    departure_basis: str
    max_power_kw: Decimal
    vehicle_id: str | None = None


class StoredConnectorPlan(_Stored):
    session_id: str
    charge_point_id: str
    connector_id: int
    transaction_id: str
    ocpp_version: Literal["1.6", "2.0.1"]
    steps: tuple[StoredStep, ...]
    planned_kwh: Decimal
    unmet_kwh: Decimal
    # Energy the session had delivered when the plan was made: the drift rule's baseline.
    delivered_at_plan_kwh: Decimal
    inputs: ConnectorInput
    profile: ProfileState = ProfileState()
    # Counted at its full power outside the plan: its charger does not follow our profile.
    uncontrolled: bool = False


class StoredSchedule(_Stored):
    site_id: str
    fleet_id: str
    # Optimistic lock: each write requires the version it read, so two recomputes never fight.
    version: int
    computed_at: AwareDatetime
    trigger: str
    limit_kw: Decimal
    step_minutes: int
    peak_kw: Decimal
    cost: Decimal | None
    currency: str | None
    uncontrolled_kw: Decimal
    connectors: tuple[StoredConnectorPlan, ...]
    # Capacity the plan held back for vehicles that usually arrive later (the arrival reserve),
    # as steps up to the plan's end; none in plans stored before it.
    reserved: tuple[StoredStep, ...] = ()


class PendingCommand(_Stored):
    """A SetChargingProfile sent and not yet answered (kept a day after, then expired)."""

    charge_point_id: str
    message_id: str
    site_id: str
    session_id: str
    connector_id: int
    action: str = "SetChargingProfile"
    sent_at: datetime
    status: ProfileStatus = "pending"
    reason: str | None = None
    answered_at: datetime | None = None
