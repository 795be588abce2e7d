"""The fleet now: `GET /fleet/status`, sessions and chargers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from shared.api.common import (
    NOT_FOUND,
    PLAN_CHARGING,
    READ_FLEET,
    READ_SESSIONS,
    SECURITY,
    caller,
    responses,
)
from shared.api.services import Services
from shared.charger_health import BadPeriod
from shared.models.api import (
    ChargerDetail,
    ChargerList,
    FleetSchedule,
    FleetStatus,
    SessionDetail,
    SiteAvailability,
)

_PERIOD_BOUND = (
    "A date (YYYY-MM-DD, the site's local day; `to` includes that whole day) or a date-time with "
    "its offset (2026-11-01T06:00:00Z)"
)


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    @router.get(
        "/fleet/status",
        summary="Vehicles and chargers of the caller's fleet, now",
        description="Counts of every vehicle by state (charging, plugged in but not charging, ready, "
        "away) and of the chargers by state; each vehicle at a charger with its power, energy this "
        "session, SoC, when charging completes (`charge_complete`) and when it is expected to "
        "unplug (`departure`, P10-P50-P90); sessions whose card names no vehicle; each charger with "
        "its connectors. Read from what is active now, so it costs the same in a fleet of 50 or "
        "5,000 vehicles; `include_away=true` lists the away vehicles too.",
        responses=responses(FleetStatus, "The fleet now"),
        security=SECURITY,
        tags=["fleet"],
    )
    def fleet_status(
        include_away: Annotated[
            bool, Query(description="List away vehicles too (large fleets: a long list)")
        ] = False,
    ) -> FleetStatus:
        return services().fleet.status(caller(router, READ_FLEET).fleet_id, include_away=include_away)

    @router.get(
        "/fleet/schedule",
        summary="The depot charging plan of each of the caller's sites with a grid limit",
        description="Per site: its grid limit and the plan Laddvakt keeps under it, per connector the "
        "power limits over time, the energy planned and what cannot be delivered by the departure, "
        "what the plan rests on (energy need and departure, with where each comes from), and what "
        "the charger answered to its SetChargingProfile. A site is planned again on every arrival, "
        "departure, change of charging needs, charger answer and meter drift. Fleet managers and admins.",
        responses=responses(FleetSchedule, "The fleet's depot plans"),
        security=SECURITY,
        tags=["fleet"],
    )
    def fleet_schedule(
        site_id: Annotated[str | None, Query(description="Only this site", max_length=64)] = None,
    ) -> FleetSchedule:
        return services().schedule.fleet_schedule(caller(router, PLAN_CHARGING).fleet_id, site_id)

    @router.get(
        "/sessions/<session_id>",
        summary="One charging session of the caller's fleet",
        responses=responses(
            SessionDetail, "The session, with its meter curve and cost so far", r404=NOT_FOUND
        ),
        security=SECURITY,
        tags=["sessions"],
    )
    def get_session(
        session_id: Annotated[str, Path(description="`{chargePointId}:{transactionId}`", max_length=100)],
    ) -> SessionDetail:
        return services().fleet.session(caller(router, READ_SESSIONS).fleet_id, session_id)

    @router.get(
        "/sites/<site_id>/availability",
        summary="For a driver waiting at one of the fleet's sites: free connectors and the next free at",
        description="Each connector of the site's chargers: free now, occupied (with when it is expected "
        "to free up: the departure estimate of the session on it, P50 with P10-P90) or out of order; "
        "and the site's earliest `next_free_at` (now when one is free).",
        responses=responses(
            SiteAvailability, "The site's connectors now and when the next one frees up", r404=NOT_FOUND
        ),
        security=SECURITY,
        tags=["fleet"],
    )
    def site_availability(
        site_id: Annotated[str, Path(description="The site's id in the registry", max_length=64)],
    ) -> SiteAvailability:
        return services().fleet.availability(caller(router, READ_FLEET).fleet_id, site_id)

    @router.get(
        "/chargers",
        summary="The caller's fleet's chargers with connector states",
        responses=responses(ChargerList, "The fleet's chargers"),
        security=SECURITY,
        tags=["chargers"],
    )
    def list_chargers() -> ChargerList:
        return services().fleet.chargers(caller(router, READ_FLEET).fleet_id)

    @router.get(
        "/chargers/<charge_point_id>",
        summary="One charger of the caller's fleet: connectors, online, faults, fault history and uptime",
        description="Uptime is the share of the period the charger could charge: it is down while "
        "offline (no frame for 2 × the heartbeat interval + 60 s), while connector 0 is Faulted or "
        "Unavailable, or while every outlet is; occupied, charging and suspended count as up. "
        "The period defaults to the last 30 days and may be at most 366 days.",
        responses=responses(ChargerDetail, "The charger's health over the period", r404=NOT_FOUND),
        security=SECURITY,
        tags=["chargers"],
    )
    def get_charger(
        charge_point_id: Annotated[str, Path(description="The charger's OCPP id", max_length=48)],
        period_from: Annotated[
            str | None,
            Query(alias="from", max_length=40, description=f"Start of the period. {_PERIOD_BOUND}"),
        ] = None,
        period_to: Annotated[
            str | None,
            Query(alias="to", max_length=40, description=f"End of the period (default now). {_PERIOD_BOUND}"),
        ] = None,
    ) -> ChargerDetail:
        fleet_id = caller(router, READ_FLEET).fleet_id
        try:
            return services().health.charger(fleet_id, charge_point_id, period_from, period_to)
        except BadPeriod as exc:
            raise RequestValidationError(
                [{"loc": ("query", exc.field), "msg": str(exc), "type": "value_error"}]
            ) from exc

    return router
