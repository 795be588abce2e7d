"""Fleet API responses. Decimals travel as JSON strings so no client ever sees a float's rounding."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from shared.domain.vehicle_state import VehicleState

ChargerState = Literal["charging", "occupied", "available", "faulted", "unavailable", "offline", "unknown"]


Confidence = Literal["high", "medium", "low"]


class ChargeCompleteView(BaseModel):
    """When the battery reaches its target (charging complete)."""

    at: datetime | None = Field(
        description="When the target is reached (UTC); once `done`, the moment charging completed. "
        "Null when it cannot be said: `missing` says what would let it be said"
    )
    done: bool = Field(description="Charging is complete: target SoC or energy reached, or the car stopped")
    confidence: Confidence
    basis: str = Field(description="What the estimate rests on, in words")
    missing: list[str] = Field(default=[], description="What is not known and lowers the confidence")
    remaining_kwh: Decimal | None = Field(default=None, description="Energy still to add to reach the target")


class DepartureView(BaseModel):
    """When the vehicle is expected to unplug (the session ends and the connector frees up)."""

    p10_at: datetime = Field(description="1 in 10 such vehicles leaves before this (UTC)")
    p50_at: datetime = Field(description="The middle estimate (UTC)")
    p90_at: datetime = Field(description="9 in 10 leave before this (UTC)")
    basis: str
    confidence: Confidence
    declared_departure_at: datetime | None = Field(
        default=None,
        description="The departure declared by the fleet's charging needs, the EV (2.0.1) or the vehicle's "
        "usual departure: an input of the estimate, weighed by how well declarations have predicted real "
        "departures, so the estimate may differ from it",
    )


class VehicleStatus(BaseModel):
    vehicle_id: str
    name: str
    state: VehicleState = Field(
        description="charging: drawing power; plugged_in: in a session, not drawing (waiting for power); "
        "ready: charged to its target SoC, or the car stopped drawing after charging; away: in no session"
    )
    session_id: str | None = None
    charge_point_id: str | None = None
    connector_id: int | None = None
    power_kw: Decimal | None = None
    energy_kwh: Decimal | None = Field(default=None, description="Energy delivered in this session so far")
    soc_percent: Decimal | None = None
    since: datetime | None = Field(default=None, description="Session start (UTC)")
    target_soc_percent: Decimal | None = Field(
        default=None, description="What the vehicle is charged to (its default target SoC)"
    )
    estimated_end_at: datetime | None = Field(
        default=None,
        description="When charging completes (UTC): `charge_complete.at` while it charges; absent when "
        "that cannot be said",
    )
    charge_complete: ChargeCompleteView | None = Field(
        default=None, description="When the battery reaches its target; absent when in no session"
    )
    departure: DepartureView | None = Field(
        default=None,
        description="When it is expected to unplug; absent when in no session or nothing is known to say",
    )


class SessionAtCharger(BaseModel):
    """An active session whose idTag names no vehicle (a driver's own card, a visitor)."""

    session_id: str
    charge_point_id: str
    connector_id: int
    driver_id: str | None = None
    state: VehicleState
    power_kw: Decimal | None = None
    energy_kwh: Decimal | None = None
    soc_percent: Decimal | None = None
    since: datetime
    charge_complete: ChargeCompleteView | None = None
    departure: DepartureView | None = None


class ConnectorView(BaseModel):
    connector_id: int
    status: str = Field(description="OCPP ChargePointStatus as last reported")
    error_code: str = Field(description="OCPP ChargePointErrorCode; NoError when healthy")
    since: datetime
    info: str | None = None
    vendor_error_code: str | None = None


class FaultView(BaseModel):
    """A connector's fault now: status Faulted, or an error code other than NoError (OCPP 1.6
    calls an error code with a working status a warning). 2.0.1 EVSEs report `Faulted`."""

    connector_id: int = Field(description="0 is the whole charger; 2.0.1: the EVSE id")
    status: str
    error_code: str
    vendor_error_code: str | None = None
    info: str | None = None
    since: datetime = Field(description="When the charger reported it (UTC)")


class ChargerView(BaseModel):
    charge_point_id: str
    site_id: str
    state: ChargerState
    ocpp_version: str
    max_power_kw: Decimal
    connectors: list[ConnectorView]
    last_heartbeat_at: datetime | None = None
    last_boot_at: datetime | None = None
    vendor: str | None = None
    model: str | None = None
    online: bool = Field(
        default=False,
        description="Heard from (any frame) within 2 × the heartbeat interval + 60 s; false if never heard from",
    )
    last_seen_at: datetime | None = Field(
        default=None, description="Its latest frame that Laddvakt noted (UTC)"
    )
    current_faults: list[FaultView] = []


class FaultHistoryEntry(BaseModel):
    """A run of one connector in a fault, error or unavailable state."""

    connector_id: int
    status: str
    error_code: str
    vendor_error_code: str | None = None
    info: str | None = None
    since: datetime
    until: datetime | None = Field(description="When the connector reported otherwise; null while it lasts")
    down: bool = Field(description="Faulted or Unavailable: the connector could not charge")


class OutageView(BaseModel):
    since: datetime = Field(description="The charger's last frame before the silence (UTC)")
    until: datetime | None = Field(description="Its first frame after it; null while it is offline")


class ChargerDetail(ChargerView):
    period_from: datetime = Field(description="Start of the period the history and uptime cover (UTC)")
    period_to: datetime = Field(description="End of the period (exclusive, UTC; never later than now)")
    uptime_percent: Decimal | None = Field(
        description="Share of the period the charger could charge, rounded down to 0.01. Down: "
        "offline, connector 0 Faulted/Unavailable, or every outlet Faulted/Unavailable. "
        "Null if the charger was never heard from."
    )
    downtime_seconds: int | None = Field(
        description="The part of the period it was down; null if never heard from"
    )
    fault_history: list[FaultHistoryEntry] = Field(description="Runs overlapping the period, oldest first")
    outages: list[OutageView] = Field(description="Offline spells overlapping the period, oldest first")


class VehicleCounts(BaseModel):
    charging: int = 0
    plugged_in: int = 0
    ready: int = 0
    away: int = 0


class StateCounts(BaseModel):
    vehicles: VehicleCounts = Field(description="Every vehicle of the fleet by state")
    chargers: dict[str, int] = Field(description="Chargers by state")
    active_sessions: int = Field(description="Sessions in progress, with or without a known vehicle")


class FleetStatus(BaseModel):
    fleet_id: str
    generated_at: datetime
    counts: StateCounts
    vehicles: list[VehicleStatus] = Field(
        description="Vehicles at a charger now (charging, plugged in or ready), by id; every vehicle, "
        "away ones too, with `include_away=true`"
    )
    other_sessions: list[SessionAtCharger] = Field(
        default_factory=list, description="Active sessions whose idTag names no vehicle"
    )
    chargers_needing_attention: list[ChargerView] = Field(
        description="Chargers that cannot charge now or never reported (faulted, offline, unavailable, "
        "unknown), by id; every charger is counted in `counts.chargers` and listed by `GET /chargers`"
    )


class ChargerList(BaseModel):
    fleet_id: str
    chargers: list[ChargerView]


class MeterPoint(BaseModel):
    at: datetime
    energy_kwh: Decimal | None = Field(default=None, description="Energy delivered since the start")
    power_kw: Decimal | None = None
    soc_percent: Decimal | None = None
    charging_state: str | None = Field(
        default=None, description="OCPP 2.0.1 chargingState from this moment on (Charging, SuspendedEV, …)"
    )


class SessionDetail(BaseModel):
    session_id: str
    transaction_id: str
    status: Literal["active", "closing", "held", "invoiced", "on_statement"]
    charge_point_id: str
    connector_id: int
    site_id: str
    vehicle_id: str | None
    driver_id: str | None
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: Decimal = Field(description="Delivered so far, or in total once ended")
    cost_so_far: Decimal | None = Field(
        default=None,
        description="VAT included, up to the latest reading (the whole session once ended), priced by the "
        "same function as the invoice; absent when it cannot be priced yet",
    )
    currency: str | None = None
    power_kw: Decimal | None
    soc_percent: Decimal | None
    stop_reason: str | None
    invoice_key: str | None = Field(
        description="Key of the invoice JSON in the invoice bucket, once invoiced"
    )
    hold_reason: str | None = Field(default=None, description="Why the session is held instead of invoiced")
    end_inferred: bool = Field(default=False, description="The end was inferred (no stop arrived in time)")
    end_inferred_reason: str | None = None
    correction_needed: bool = Field(
        default=False, description="A real stop arrived after an inferred end: the invoice will be corrected"
    )
    seq_gaps: list[int] = Field(
        default_factory=list,
        description="OCPP 2.0.1 TransactionEvent seqNos that never arrived (between the first and last seen)",
    )
    offline_events: bool = Field(
        default=False, description="OCPP 2.0.1: some events were queued while the station was offline"
    )
    correction_reason: str | None = Field(
        default=None,
        description="Why the invoice must be corrected (a late stop, or readings that arrived after billing)",
    )
    charge_complete: ChargeCompleteView | None = Field(
        default=None, description="While active: when the battery reaches its target"
    )
    departure: DepartureView | None = Field(
        default=None, description="While active: when the vehicle is expected to unplug"
    )
    meter_curve: list[MeterPoint]


class ConnectorAvailability(BaseModel):
    charge_point_id: str
    connector_id: int
    state: Literal["free", "occupied", "out_of_order"] = Field(
        description="free: nobody plugged in and it can charge; occupied: in use; out_of_order: faulted, "
        "unavailable or the charger is offline"
    )
    session_id: str | None = Field(default=None, description="The caller's fleet's session on it, if any")
    expected_free_at: datetime | None = Field(
        default=None,
        description="Occupied: when it is expected to free up (the departure estimate's P50, UTC); null "
        "when it cannot be said (a session outside the fleet, or nothing known)",
    )
    expected_free_from: datetime | None = Field(default=None, description="The departure estimate's P10")
    expected_free_by: datetime | None = Field(default=None, description="The departure estimate's P90")
    charge_complete_at: datetime | None = Field(
        default=None, description="When the car on it is expected to finish charging"
    )


class SiteAvailability(BaseModel):
    """For a driver waiting at a site: which connectors are free, and when the next one frees up."""

    site_id: str
    generated_at: datetime
    free_now: int = Field(description="Connectors free now")
    next_free_at: datetime | None = Field(
        description="Now when one is free; else the earliest expected free time (P50) of an occupied "
        "connector; null when none can be said"
    )
    next_free_from: datetime | None = Field(default=None, description="That connector's P10")
    next_free_by: datetime | None = Field(default=None, description="That connector's P90")
    connectors: list[ConnectorAvailability] = Field(description="By charger and connector id")


class InvoiceSummary(BaseModel):
    invoice_number: str = Field(description="The seller's gapless series number, e.g. LV-0000042")
    kind: Literal["invoice", "credit_note"]
    issue_date: date
    session_id: str
    currency: str
    net: Decimal = Field(description="Total without VAT")
    vat: Decimal
    gross: Decimal = Field(description="Total with VAT")
    formats: list[str] = Field(description="Forms of the document there are, e.g. json, pdf, xml")


class InvoicePage(BaseModel):
    fleet_id: str
    invoices: list[InvoiceSummary] = Field(description="Oldest issue date first")
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last page"
    )


class InvoiceDownload(InvoiceSummary):
    downloads: dict[str, str] = Field(description="A short-lived download link per format")
    expires_at: datetime = Field(description="When the links stop working (UTC)")


class Unauthorized(BaseModel):
    """What API Gateway's Cognito authorizer answers to a missing or invalid token."""

    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class ScheduleStep(BaseModel):
    starts_at: datetime = Field(description="From this time (UTC) until the next step or the plan's end")
    limit_kw: Decimal = Field(description="At most this power on the connector")


class ReservedStep(BaseModel):
    starts_at: datetime = Field(description="From this time (UTC) until the next step or the plan's end")
    reserved_kw: Decimal = Field(description="Capacity the plan leaves unused for vehicles expected later")


class ProfileView(BaseModel):
    status: Literal["pending", "accepted", "rejected", "not_sent"] = Field(
        description="What the charger made of the connector's latest SetChargingProfile: pending (sent, "
        "no answer yet), accepted (the charger follows the plan), rejected (Rejected, a CallError or no "
        "answer within 60 s: the connector counts at full power and the profile is retried with backoff), "
        "not_sent"
    )
    reason: str | None = Field(default=None, description="Why it was refused, as the charger said")
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    attempts: int = Field(description="Refusals in a row")
    next_retry_at: datetime | None = Field(default=None, description="When it is sent again (UTC)")


class ConnectorSchedule(BaseModel):
    session_id: str
    charge_point_id: str
    connector_id: int
    vehicle_id: str | None = None
    steps: list[ScheduleStep] = Field(description="Power limits over time, oldest first")
    planned_kwh: Decimal = Field(description="Energy the plan delivers by the departure")
    unmet_kwh: Decimal = Field(description="Energy still needed that the plan cannot deliver in time")
    energy_needed_kwh: Decimal
    energy_basis: str = Field(description="Where the energy need comes from (charging needs, SoC, default)")
    departure_at: datetime
    departure_basis: str = Field(
        description="Where the departure comes from (charging needs, usual departure, estimate P10, default)"
    )
    max_power_kw: Decimal = Field(description="The smaller of the connector's and the vehicle's limits")
    uncontrolled: bool = Field(description="Its charger refused the profile: counted at full power")
    profile: ProfileView


class SiteSchedule(BaseModel):
    site_id: str
    limit_kw: Decimal = Field(description="The site's grid limit")
    computed_at: datetime
    trigger: str = Field(description="What made Laddvakt plan the site again")
    step_minutes: int
    peak_kw: Decimal = Field(description="The plan's highest site load, uncontrolled connectors included")
    uncontrolled_kw: Decimal = Field(
        description="Load the plan cannot steer (refused profiles, other fleets' sessions), kept free"
    )
    cost: Decimal | None = Field(description="Energy cost of the plan excluding VAT; null without prices")
    currency: str | None = None
    reserved: list[ReservedStep] = Field(
        default_factory=list,
        description="Capacity held back for vehicles that usually arrive later, learnt from the site's stays "
        "of the last 56 days (weekdays and weekends apart); never in the hour the plan was made. Empty "
        "without such stays",
    )
    connectors: list[ConnectorSchedule]


class FleetSchedule(BaseModel):
    fleet_id: str
    sites: list[SiteSchedule] = Field(description="Sites with a grid limit and a plan, by site id")
