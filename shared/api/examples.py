"""Example answers for the OpenAPI document: what a fleet app sees, built from the response models
themselves, so an example can never drift from its schema (a contract test validates each one
against the committed document as well). One fleet, Nordvind Logistik, on a November morning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

from pydantic import BaseModel

from shared.models.analytics import Cost, EnergyReport, EnergyRow
from shared.models.api import (
    ChargeCompleteView,
    ChargerDetail,
    ChargerList,
    ChargerView,
    ConnectorAvailability,
    ConnectorSchedule,
    ConnectorView,
    DepartureView,
    FaultHistoryEntry,
    FaultView,
    FleetSchedule,
    FleetStatus,
    InvoicePage,
    InvoiceSummary,
    MeterPoint,
    OutageView,
    Problem,
    ProfileView,
    ScheduleStep,
    SessionAtCharger,
    SessionDetail,
    SiteAvailability,
    SiteSchedule,
    StateCounts,
    VehicleCounts,
    VehicleStatus,
)
from shared.models.fleet_lists import SessionPage, SessionSummary, VehicleDetail, VehiclePage, VehicleSummary

FLEET = "nordvind"
MORNING = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


def _at(hour: int, minute: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def example(model: BaseModel, summary: str) -> dict[str, Any]:
    """An OpenAPI `examples` map with one example, as JSON the API would send."""
    return {"nordvind": {"summary": summary, "value": model.model_dump(mode="json")}}


_FAULTED = ChargerView(
    charge_point_id="LV-STHLM-03", site_id="sthlm-depot", state="faulted", ocpp_version="1.6",
    max_power_kw=D("22"),
    connectors=[
        ConnectorView(connector_id=1, status="Faulted", error_code="GroundFailure", since=_at(5, 12),
                      vendor_error_code="E47"),
        ConnectorView(connector_id=2, status="Available", error_code="NoError", since=_at(3, 40)),
    ],
    last_heartbeat_at=_at(6, 28), last_boot_at=_at(1, 2, day=20), vendor="Laddvakt Sim", model="AC22",
    online=True, last_seen_at=_at(6, 28),
    current_faults=[FaultView(connector_id=1, status="Faulted", error_code="GroundFailure",
                              vendor_error_code="E47", since=_at(5, 12))],
)  # fmt: skip

_CHARGING = ChargerView(
    charge_point_id="LV-STHLM-01", site_id="sthlm-depot", state="charging", ocpp_version="1.6",
    max_power_kw=D("22"),
    connectors=[ConnectorView(connector_id=1, status="Charging", error_code="NoError", since=_at(5, 0))],
    last_heartbeat_at=_at(6, 27), last_boot_at=_at(1, 0, day=20), vendor="Laddvakt Sim", model="AC22",
    online=True, last_seen_at=_at(6, 29), current_faults=[],
)  # fmt: skip

_CHARGE_COMPLETE = ChargeCompleteView(
    at=_at(7, 41), done=False, confidence="high", remaining_kwh=D("48.4"),
    basis="SoC 58% of 220 kWh to 80% (the vehicle's default), at 21.8 kW, taper fit from 9 of its sessions "
    "(knee 90%)",
)  # fmt: skip
_DEPARTURE = DepartureView(
    p10_at=_at(7, 20), p50_at=_at(8, 5), p90_at=_at(9, 40), basis="the vehicle's past visits", confidence="low"
)  # fmt: skip
_DECLARED = DepartureView(
    p10_at=_at(7, 0), p50_at=_at(7, 0), p90_at=_at(7, 0), basis="declared departure", confidence="medium"
)  # fmt: skip

FLEET_STATUS = FleetStatus(
    fleet_id=FLEET,
    generated_at=MORNING,
    counts=StateCounts(
        vehicles=VehicleCounts(charging=1, plugged_in=1, ready=1, away=7),
        chargers={"charging": 2, "occupied": 1, "available": 3, "faulted": 1},
        active_sessions=4,
    ),
    vehicles=[
        VehicleStatus(
            vehicle_id="nor-v01", name="Volvo FL Electric", state="charging", session_id="LV-STHLM-01:1042",
            charge_point_id="LV-STHLM-01", connector_id=1, power_kw=D("21.800"), energy_kwh=D("31.420"),
            soc_percent=D("58"), since=_at(5, 0), target_soc_percent=D("80"), estimated_end_at=_at(7, 41),
            charge_complete=_CHARGE_COMPLETE, departure=_DEPARTURE,
        ),
        VehicleStatus(
            vehicle_id="nor-v02", name="Renault Master E-Tech", state="plugged_in", session_id="LV-STHLM-02:1043",
            charge_point_id="LV-STHLM-02", connector_id=1, power_kw=D("0.000"), energy_kwh=D("0.000"),
            soc_percent=D("35"), since=_at(6, 10), target_soc_percent=D("80"),
            charge_complete=ChargeCompleteView(
                at=None, done=False, confidence="low", missing=["charging power"],
                basis="not drawing power now (waiting for the car, the charger or the schedule)",
            ),
            departure=_DECLARED,
        ),
        VehicleStatus(
            vehicle_id="nor-v05", name="Tesla Model Y", state="ready", session_id="LV-UPPSALA-05:1039",
            charge_point_id="LV-UPPSALA-05", connector_id=1, power_kw=D("0.000"), energy_kwh=D("44.100"),
            soc_percent=D("80"), since=_at(21, 5, day=23), target_soc_percent=D("80"),
            charge_complete=ChargeCompleteView(
                at=_at(2, 14), done=True, confidence="high",
                basis="SoC 80% reached the target 80% (the vehicle's default)",
            ),
        ),
    ],
    other_sessions=[
        SessionAtCharger(
            session_id="LV-UPPSALA-06:1044", charge_point_id="LV-UPPSALA-06", connector_id=1, driver_id="nor-d07",
            state="charging", power_kw=D("7.400"), energy_kwh=D("3.050"), since=_at(6, 5),
            charge_complete=ChargeCompleteView(
                at=None, done=False, confidence="low",
                basis="charging at 7.4 kW, but nothing says how much is still to go",
                missing=["SoC (the car does not send it)", "battery capacity (the vehicle's battery_kwh)"],
            ),
        )
    ],
    chargers_needing_attention=[_FAULTED],
)  # fmt: skip

CHARGERS = ChargerList(fleet_id=FLEET, chargers=[_CHARGING, _FAULTED])

CHARGER_DETAIL = ChargerDetail(
    **_FAULTED.model_dump(),
    period_from=datetime(2026, 10, 31, 23, tzinfo=UTC),
    period_to=MORNING,
    uptime_percent=D("98.71"),
    downtime_seconds=31_140,
    fault_history=[
        FaultHistoryEntry(connector_id=1, status="Faulted", error_code="GroundFailure", vendor_error_code="E47",
                          since=_at(5, 12), until=None, down=False),
        FaultHistoryEntry(connector_id=0, status="Unavailable", error_code="NoError", since=_at(2, 0, day=12),
                          until=_at(9, 30, day=12), down=True),
    ],
    outages=[OutageView(since=_at(14, 2, day=18), until=_at(15, 1, day=18))],
)  # fmt: skip

_SUMMARY = SessionSummary(
    session_id="LV-STHLM-01:1042", status="active", vehicle_id="nor-v01", driver_id="nor-d01",
    charge_point_id="LV-STHLM-01", connector_id=1, site_id="sthlm-depot", started_at=_at(5, 0),
    ended_at=None, energy_kwh=D("31.420"), power_kw=D("21.800"), soc_percent=D("58"), end_inferred=False,
)  # fmt: skip

SESSIONS = SessionPage(
    fleet_id=FLEET,
    sessions=[
        _SUMMARY,
        SessionSummary(
            session_id="LV-STHLM-01:1031", status="invoiced", vehicle_id="nor-v03", driver_id="nor-d03",
            charge_point_id="LV-STHLM-01", connector_id=1, site_id="sthlm-depot", started_at=_at(17, 45, day=23),
            ended_at=_at(22, 10, day=23), energy_kwh=D("48.906"), stop_reason="EVDisconnected", end_inferred=False,
        ),
    ],
    next_cursor="eyJmbGVldF9pZCI6ICJub3JkdmluZCIsICJzZXNzaW9uX2lkIjogIkxWLVNUSExNLTAxOjEwMzEiLCAuLi59",
)  # fmt: skip

SESSION_DETAIL = SessionDetail(
    session_id="LV-STHLM-01:1042", transaction_id="1042", status="active", charge_point_id="LV-STHLM-01",
    connector_id=1, site_id="sthlm-depot", vehicle_id="nor-v01", driver_id="nor-d01", started_at=_at(5, 0),
    ended_at=None, energy_kwh=D("31.420"), cost_so_far=D("109.97"), currency="SEK", power_kw=D("21.800"),
    soc_percent=D("58"), stop_reason=None, invoice_key=None,
    charge_complete=_CHARGE_COMPLETE, departure=_DEPARTURE,
    meter_curve=[
        MeterPoint(at=_at(5, 15), energy_kwh=D("5.430"), power_kw=D("21.700"), soc_percent=D("34")),
        MeterPoint(at=_at(6, 25), energy_kwh=D("31.420"), power_kw=D("21.800"), soc_percent=D("58")),
    ],
)  # fmt: skip

SITE_AVAILABILITY = SiteAvailability(
    site_id="sthlm-depot", generated_at=MORNING, free_now=0, next_free_at=_at(7, 0), next_free_from=_at(7, 0),
    next_free_by=_at(7, 0),
    connectors=[
        ConnectorAvailability(charge_point_id="LV-STHLM-01", connector_id=1, state="occupied",
                              session_id="LV-STHLM-01:1042", expected_free_at=_at(8, 5),
                              expected_free_from=_at(7, 20), expected_free_by=_at(9, 40),
                              charge_complete_at=_at(7, 41)),
        ConnectorAvailability(charge_point_id="LV-STHLM-02", connector_id=1, state="occupied",
                              session_id="LV-STHLM-02:1043", expected_free_at=_at(7, 0),
                              expected_free_from=_at(7, 0), expected_free_by=_at(7, 0)),
        ConnectorAvailability(charge_point_id="LV-STHLM-03", connector_id=1, state="out_of_order"),
        ConnectorAvailability(charge_point_id="LV-STHLM-03", connector_id=2, state="occupied"),
    ],
)  # fmt: skip

_VEHICLE = VehicleSummary(
    vehicle_id="nor-v01", name="Volvo FL Electric", registration="ABC123", battery_kwh=D("265"),
    max_ac_kw=D("22"), max_dc_kw=D("150"), default_target_soc_percent=D("80"), usual_departure="07:30",
    state="charging", session_id="LV-STHLM-01:1042",
)  # fmt: skip

VEHICLES = VehiclePage(fleet_id=FLEET, vehicles=[_VEHICLE], next_cursor=None)
VEHICLE_DETAIL = VehicleDetail(**_VEHICLE.model_dump(), active_session=_SUMMARY)

INVOICES = InvoicePage(
    fleet_id=FLEET,
    invoices=[
        InvoiceSummary(
            invoice_number="LV-0000042", kind="invoice", issue_date=date(2026, 11, 23),
            session_id="LV-STHLM-01:1031", currency="SEK", net=D("136.94"), vat=D("34.24"), gross=D("171.18"),
            formats=["json", "pdf", "xml"],
        )
    ],
)  # fmt: skip

ENERGY = EnergyReport(
    fleet_id=FLEET, from_date=date(2026, 11, 1), to_date=date(2026, 11, 30), granularity="month", group_by="vehicle",
    rows=[
        EnergyRow(period="2026-11", period_start=date(2026, 11, 1), key="nor-v01", energy_kwh=D("1204.377"),
                  sessions=23, costs=[Cost(currency="SEK", net=D("3372.2556"), gross=D("4215.3195"))]),
    ],
)  # fmt: skip

NOT_FOUND = Problem(title="Not Found", status=404, detail="no vehicle 'nor-v99' in this fleet")
INVALID = Problem(
    title="Unprocessable Content", status=422, detail="query.limit: Input should be less than or equal to 100"
)


# The example a model's answers carry in the OpenAPI document.
SCHEDULE = FleetSchedule(
    fleet_id=FLEET,
    sites=[
        SiteSchedule(
            site_id="sthlm-depot",
            limit_kw=D("30"),
            computed_at=_at(17, 45),
            trigger="arrival of LV-STHLM-02:1043",
            step_minutes=15,
            peak_kw=D("30.000"),
            uncontrolled_kw=D("11"),
            cost=D("41.25"),
            currency="SEK",
            connectors=[
                ConnectorSchedule(
                    session_id="LV-STHLM-01:1041",
                    charge_point_id="LV-STHLM-01",
                    connector_id=1,
                    vehicle_id="van-07",
                    steps=[
                        ScheduleStep(starts_at=_at(17, 45), limit_kw=D("11.000")),
                        ScheduleStep(starts_at=_at(20, 0), limit_kw=D("0.000")),
                    ],
                    planned_kwh=D("24.750"),
                    unmet_kwh=D("0.000"),
                    energy_needed_kwh=D("24.750"),
                    energy_basis="target SoC, SoC and battery size",
                    departure_at=_at(6, 0, day=25),
                    departure_basis="charging needs' departure",
                    max_power_kw=D("11"),
                    uncontrolled=False,
                    profile=ProfileView(
                        status="accepted", sent_at=_at(17, 45), answered_at=_at(17, 45), attempts=0
                    ),
                ),
                ConnectorSchedule(
                    session_id="LV-STHLM-02:1043",
                    charge_point_id="LV-STHLM-02",
                    connector_id=1,
                    vehicle_id="van-12",
                    steps=[ScheduleStep(starts_at=_at(17, 45), limit_kw=D("8.000"))],
                    planned_kwh=D("30.000"),
                    unmet_kwh=D("0.000"),
                    energy_needed_kwh=D("30"),
                    energy_basis="default 30 kWh (no target energy; SoC unknown)",
                    departure_at=_at(7, 30, day=25),
                    departure_basis="the vehicle's usual departure",
                    max_power_kw=D("11"),
                    uncontrolled=True,
                    profile=ProfileView(
                        status="rejected",
                        reason="charger answered Rejected",
                        sent_at=_at(17, 45),
                        answered_at=_at(17, 45),
                        attempts=1,
                        next_retry_at=_at(17, 46),
                    ),
                ),
            ],
        )
    ],
)


BY_MODEL: dict[type, dict[str, Any]] = {
    type(model): example(model, summary)
    for model, summary in (
        (FLEET_STATUS, "Four cars at chargers, one charger with a ground fault"),
        (CHARGERS, "A charging charger and a faulted one"),
        (CHARGER_DETAIL, "November so far: a night unavailable, an hour offline, a fault now"),
        (SESSIONS, "A page of sessions, newest first"),
        (SESSION_DETAIL, "A session charging now, with its cost so far"),
        (SITE_AVAILABILITY, "Every connector taken: the next one frees up at 07:00"),
        (VEHICLES, "A page of vehicles with their state now"),
        (VEHICLE_DETAIL, "A vehicle charging now"),
        (INVOICES, "A page of invoices"),
        (ENERGY, "Energy and cost per vehicle for November"),
        (SCHEDULE, "A depot at its 30 kW limit: one charger follows its profile, one refused it"),
    )
}
