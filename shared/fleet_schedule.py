"""`GET /fleet/schedule`: the stored depot plans of a fleet's sites, as the fleet API shows them."""

from __future__ import annotations

from shared.adapters.site_schedules import SiteSchedules
from shared.models.api import (
    ConnectorSchedule,
    FleetSchedule,
    ProfileView,
    ReservedStep,
    ScheduleStep,
    SiteSchedule,
)
from shared.models.scheduling import StoredConnectorPlan, StoredSchedule


class ScheduleQueries:
    def __init__(self, schedules: SiteSchedules) -> None:
        self._schedules = schedules

    def fleet_schedule(self, fleet_id: str, site_id: str | None = None) -> FleetSchedule:
        stored = sorted(self._schedules.for_fleet(fleet_id), key=lambda s: s.site_id)
        return FleetSchedule(
            fleet_id=fleet_id,
            sites=[site_view(s) for s in stored if site_id is None or s.site_id == site_id],
        )


def site_view(schedule: StoredSchedule) -> SiteSchedule:
    return SiteSchedule(
        site_id=schedule.site_id,
        limit_kw=schedule.limit_kw,
        computed_at=schedule.computed_at,
        trigger=schedule.trigger,
        step_minutes=schedule.step_minutes,
        peak_kw=schedule.peak_kw,
        uncontrolled_kw=schedule.uncontrolled_kw,
        cost=schedule.cost,
        currency=schedule.currency,
        reserved=[ReservedStep(starts_at=s.starts_at, reserved_kw=s.limit_kw) for s in schedule.reserved],
        connectors=[_connector_view(c) for c in schedule.connectors],
    )


def _connector_view(plan: StoredConnectorPlan) -> ConnectorSchedule:
    profile = plan.profile
    return ConnectorSchedule(
        session_id=plan.session_id,
        charge_point_id=plan.charge_point_id,
        connector_id=plan.connector_id,
        vehicle_id=plan.inputs.vehicle_id,
        steps=[ScheduleStep(starts_at=s.starts_at, limit_kw=s.limit_kw) for s in plan.steps],
        planned_kwh=plan.planned_kwh,
        unmet_kwh=plan.unmet_kwh,
        energy_needed_kwh=plan.inputs.energy_needed_kwh,
        energy_basis=plan.inputs.energy_basis,
        departure_at=plan.inputs.departure_at,
        departure_basis=plan.inputs.departure_basis,
        max_power_kw=plan.inputs.max_power_kw,
        uncontrolled=plan.uncontrolled,
        profile=ProfileView(
            status=profile.status,
            reason=profile.reason,
            sent_at=profile.sent_at,
            answered_at=profile.answered_at,
            attempts=profile.attempts,
            next_retry_at=profile.next_retry_at,
        ),
    )
