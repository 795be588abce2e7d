"""The fleet's vehicles: the list with each one's state now, one vehicle, and its sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from shared.api.common import BAD_CURSOR, NOT_FOUND, READ_FLEET, READ_SESSIONS, SECURITY, caller, responses
from shared.api.services import Services
from shared.api.session_routes import (
    PAGING,
    ChargerId,
    Cursor,
    DriverId,
    From,
    Limit,
    Status,
    To,
    session_filters,
)
from shared.models.fleet_lists import SessionPage, VehicleDetail, VehiclePage

VehicleId = Annotated[str, Path(description="The vehicle's id in the registry", max_length=64)]


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    @router.get(
        "/vehicles",
        summary="The caller's fleet's vehicles, each with its state now",
        description="By vehicle id, a page at a time: pass `next_cursor` back as `cursor` for the next page. "
        "State: charging, plugged_in, ready or away, with its active session's id.",
        responses=responses(VehiclePage, "A page of the fleet's vehicles", r400=BAD_CURSOR),
        security=SECURITY,
        tags=["vehicles"],
    )
    def list_vehicles(
        limit: Annotated[int, Query(ge=1, le=500, description="Vehicles per page")] = 100,
        cursor: Annotated[
            str | None, Query(max_length=1000, description="`next_cursor` of the page before")
        ] = None,
    ) -> VehiclePage:
        return services().lists.vehicles(caller(router, READ_FLEET).fleet_id, limit=limit, cursor=cursor)

    @router.get(
        "/vehicles/<vehicle_id>",
        summary="One vehicle of the caller's fleet, its state now and its active session",
        responses=responses(VehicleDetail, "The vehicle", r404=NOT_FOUND),
        security=SECURITY,
        tags=["vehicles"],
    )
    def get_vehicle(vehicle_id: VehicleId) -> VehicleDetail:
        return services().lists.vehicle(caller(router, READ_FLEET).fleet_id, vehicle_id)

    @router.get(
        "/vehicles/<vehicle_id>/sessions",
        summary="One vehicle's charging sessions, filtered by start, driver, charger, status",
        description=PAGING,
        responses=responses(SessionPage, "A page of the vehicle's sessions", r400=BAD_CURSOR, r404=NOT_FOUND),
        security=SECURITY,
        tags=["vehicles"],
    )
    def list_vehicle_sessions(
        vehicle_id: VehicleId,
        started_from: From = None,
        started_to: To = None,
        driver_id: DriverId = None,
        charge_point_id: ChargerId = None,
        status: Status = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SessionPage:
        filters = session_filters(
            started_from=started_from,
            started_to=started_to,
            driver_id=driver_id,
            charge_point_id=charge_point_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return services().lists.vehicle_sessions(caller(router, READ_SESSIONS).fleet_id, vehicle_id, filters)

    return router
