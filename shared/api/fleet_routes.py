"""The fleet now: `GET /fleet/status`, sessions and chargers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from shared.api.common import NOT_FOUND, READ_FLEET, READ_SESSIONS, SECURITY, caller, responses
from shared.api.services import Services
from shared.models.api import ChargerList, FleetStatus, SessionDetail


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    @router.get(
        "/fleet/status",
        summary="Vehicles and chargers of the caller's fleet, now",
        description="Counts of every vehicle by state (charging, plugged in but not charging, ready, "
        "away) and of the chargers by state; each vehicle at a charger with its power, energy this "
        "session, SoC and estimated end; sessions whose card names no vehicle; each charger with "
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
        "/chargers",
        summary="The caller's fleet's chargers with connector states",
        responses=responses(ChargerList, "The fleet's chargers"),
        security=SECURITY,
        tags=["chargers"],
    )
    def list_chargers() -> ChargerList:
        return services().fleet.chargers(caller(router, READ_FLEET).fleet_id)

    return router
