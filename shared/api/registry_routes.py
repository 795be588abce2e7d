"""The registry, managed by the fleet's admin: sites, chargers, vehicles, drivers and tokens; and a
vehicle's charging needs, set by its fleet manager.

A PUT creates or replaces (201 when created, 200 when replaced) and answers the stored view; a
DELETE answers 204. Ids come from the path and the fleet from the token, never from the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from shared.api.common import (
    BAD_CURSOR,
    MANAGE_REGISTRY,
    NOT_FOUND,
    PLAN_CHARGING,
    PROBLEMS,
    SECURITY,
    caller,
    ok,
    problem_response,
    responses,
)
from shared.api.services import Services
from shared.models.registry_api import (
    ChargerInput,
    ChargerRegistration,
    ChargingNeedsInput,
    ChargingNeedsView,
    DriverInput,
    DriverList,
    DriverRegistration,
    SiteInput,
    SiteList,
    SiteRegistration,
    TokenInput,
    TokenList,
    TokenRegistration,
    VehicleInput,
    VehicleRegistration,
)
from shared.registry_admin import Saved

View = TypeVar("View", bound=BaseModel)
ID_PATTERN = r"^[A-Za-z0-9._\-]+$"
TAGS = ["registry"]

IN_USE = problem_response("The id is another fleet's (ids are global); nothing was changed")
NO_ROUTE = problem_response("The path names no record (an id with `/` in it, or only dots)")
BAD_REFERENCE = problem_response(
    "A body value that is not valid, or a reference (site_id, vehicle_id, driver_id) that is not in the "
    "caller's fleet; the detail names each field"
)

SiteId = Annotated[str, Path(description="The site's id", min_length=1, max_length=64, pattern=ID_PATTERN)]
ChargePointId = Annotated[
    str,
    Path(
        description="The OCPP chargePointId (its MQTT topic level)",
        min_length=1,
        max_length=48,
        pattern=ID_PATTERN,
    ),
]
VehicleId = Annotated[
    str, Path(description="The vehicle's id", min_length=1, max_length=64, pattern=ID_PATTERN)
]
DriverId = Annotated[
    str, Path(description="The driver's id", min_length=1, max_length=64, pattern=ID_PATTERN)
]
IdTag = Annotated[
    str, Path(description="The RFID card's idTag, as chargers send it", min_length=1, max_length=36)
]
Limit = Annotated[int, Query(ge=1, le=500, description="Records per page")]
Cursor = Annotated[str | None, Query(max_length=1000, description="`next_cursor` of the page before")]


def _put_responses(model: type, what: str) -> dict[int, OpenAPIResponse]:
    return {
        **ok(model, f"{what} replaced"),
        201: ok(model, f"{what} created")[200],
        **PROBLEMS,
        404: NO_ROUTE,
        409: IN_USE,
        422: BAD_REFERENCE,
    }


def _delete_responses(what: str, **extra: OpenAPIResponse) -> dict[int, OpenAPIResponse]:
    return {
        # No content, said explicitly (Powertools would otherwise document the handler's return type).
        204: {"description": f"{what} deleted", "content": {}},
        **PROBLEMS,
        404: NOT_FOUND,
        **{int(k.lstrip("r")): v for k, v in extra.items()},
    }


def _saved(saved: Saved[View]) -> Response[str]:
    return Response(
        status_code=201 if saved.created else 200,
        content_type="application/json",
        body=saved.view.model_dump_json(),
    )


def _deleted() -> Response[str]:
    return Response(status_code=204, body="")


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    def admin() -> str:
        return caller(router, MANAGE_REGISTRY).fleet_id

    # --- sites ---------------------------------------------------------------------------------

    @router.get(
        "/sites",
        summary="The fleet's sites, by id (admin role)",
        responses=responses(SiteList, "A page of the fleet's sites", r400=BAD_CURSOR),
        security=SECURITY,
        tags=TAGS,
    )
    def list_sites(limit: Limit = 100, cursor: Cursor = None) -> SiteList:
        return services().registry.sites(admin(), limit=limit, cursor=cursor)

    @router.get(
        "/sites/<site_id>",
        summary="One site of the fleet (admin role)",
        responses=responses(SiteRegistration, "The site", r404=NOT_FOUND),
        security=SECURITY,
        tags=TAGS,
    )
    def get_site(site_id: SiteId) -> SiteRegistration:
        return services().registry.site(admin(), site_id)

    @router.put(
        "/sites/<site_id>",
        summary="Create or replace a site of the fleet (admin role)",
        description="Its price is the operator's: a new site has none (its sessions are held until the "
        "operator sets one), and a replace keeps whatever the operator set.",
        responses=_put_responses(SiteRegistration, "The site"),
        security=SECURITY,
        tags=TAGS,
    )
    def put_site(site_id: SiteId, body: Annotated[SiteInput, Body()]) -> Response[str]:
        return _saved(services().registry.put_site(admin(), site_id, body))

    @router.delete(
        "/sites/<site_id>",
        summary="Delete a site of the fleet that has no chargers (admin role)",
        responses=_delete_responses("The site", r409=problem_response("The site still has chargers (named)")),
        security=SECURITY,
        tags=TAGS,
    )
    def delete_site(site_id: SiteId) -> Response[str]:
        services().registry.delete_site(admin(), site_id)
        return _deleted()

    # --- chargers ------------------------------------------------------------------------------

    @router.put(
        "/chargers/<charge_point_id>",
        summary="Create or replace a charger at one of the fleet's sites (admin role)",
        description="A charger that is not registered has its BootNotification rejected. Its price "
        "(`tariff_id`) is the operator's and is kept on a replace.",
        responses=_put_responses(ChargerRegistration, "The charger"),
        security=SECURITY,
        tags=TAGS,
    )
    def put_charger(charge_point_id: ChargePointId, body: Annotated[ChargerInput, Body()]) -> Response[str]:
        return _saved(services().registry.put_charger(admin(), charge_point_id, body))

    @router.delete(
        "/chargers/<charge_point_id>",
        summary="Delete a charger of the fleet with no active session (admin role)",
        responses=_delete_responses(
            "The charger and its live state", r409=problem_response("A session is active on it (named)")
        ),
        security=SECURITY,
        tags=TAGS,
    )
    def delete_charger(charge_point_id: ChargePointId) -> Response[str]:
        services().registry.delete_charger(admin(), charge_point_id)
        return _deleted()

    # --- vehicles ------------------------------------------------------------------------------

    @router.put(
        "/vehicles/<vehicle_id>",
        summary="Create or replace a vehicle of the fleet (admin role)",
        responses=_put_responses(VehicleRegistration, "The vehicle"),
        security=SECURITY,
        tags=TAGS,
    )
    def put_vehicle(vehicle_id: VehicleId, body: Annotated[VehicleInput, Body()]) -> Response[str]:
        return _saved(services().registry.put_vehicle(admin(), vehicle_id, body))

    @router.delete(
        "/vehicles/<vehicle_id>",
        summary="Delete a vehicle of the fleet that no token names (admin role)",
        responses=_delete_responses(
            "The vehicle and its charging needs", r409=problem_response("Tokens still name it (named)")
        ),
        security=SECURITY,
        tags=TAGS,
    )
    def delete_vehicle(vehicle_id: VehicleId) -> Response[str]:
        services().registry.delete_vehicle(admin(), vehicle_id)
        return _deleted()

    @router.put(
        "/vehicles/<vehicle_id>/charging-needs",
        summary="Set when a vehicle leaves next and how charged (fleet_manager or admin role)",
        description="A target SoC or an energy to add, or neither for the vehicle's default target SoC. "
        "Replaces the needs set before.",
        responses={
            **ok(ChargingNeedsView, "The charging needs replaced"),
            201: ok(ChargingNeedsView, "The charging needs set")[200],
            **PROBLEMS,
            404: NOT_FOUND,
            422: problem_response("A body value that is not valid (both targets, a departure long past)"),
        },
        security=SECURITY,
        tags=TAGS,
    )
    def put_charging_needs(
        vehicle_id: VehicleId, body: Annotated[ChargingNeedsInput, Body()]
    ) -> Response[str]:
        fleet_id = caller(router, PLAN_CHARGING).fleet_id
        return _saved(services().registry.put_charging_needs(fleet_id, vehicle_id, body))

    @router.delete(
        "/vehicles/<vehicle_id>/charging-needs",
        summary="Forget a vehicle's charging needs (fleet_manager or admin role)",
        responses=_delete_responses("The charging needs"),
        security=SECURITY,
        tags=TAGS,
    )
    def delete_charging_needs(vehicle_id: VehicleId) -> Response[str]:
        services().registry.delete_charging_needs(caller(router, PLAN_CHARGING).fleet_id, vehicle_id)
        return _deleted()

    # --- drivers -------------------------------------------------------------------------------

    @router.get(
        "/drivers",
        summary="The fleet's drivers, by id (admin role)",
        responses=responses(DriverList, "A page of the fleet's drivers", r400=BAD_CURSOR),
        security=SECURITY,
        tags=TAGS,
    )
    def list_drivers(limit: Limit = 100, cursor: Cursor = None) -> DriverList:
        return services().registry.drivers(admin(), limit=limit, cursor=cursor)

    @router.get(
        "/drivers/<driver_id>",
        summary="One driver of the fleet (admin role)",
        responses=responses(DriverRegistration, "The driver", r404=NOT_FOUND),
        security=SECURITY,
        tags=TAGS,
    )
    def get_driver(driver_id: DriverId) -> DriverRegistration:
        return services().registry.driver(admin(), driver_id)

    @router.put(
        "/drivers/<driver_id>",
        summary="Create or replace a driver of the fleet (admin role)",
        responses=_put_responses(DriverRegistration, "The driver"),
        security=SECURITY,
        tags=TAGS,
    )
    def put_driver(driver_id: DriverId, body: Annotated[DriverInput, Body()]) -> Response[str]:
        return _saved(services().registry.put_driver(admin(), driver_id, body))

    @router.delete(
        "/drivers/<driver_id>",
        summary="Delete a driver of the fleet that no token names (admin role)",
        responses=_delete_responses(
            "The driver", r409=problem_response("Tokens still name the driver (named)")
        ),
        security=SECURITY,
        tags=TAGS,
    )
    def delete_driver(driver_id: DriverId) -> Response[str]:
        services().registry.delete_driver(admin(), driver_id)
        return _deleted()

    # --- tokens --------------------------------------------------------------------------------

    @router.get(
        "/tokens",
        summary="The fleet's RFID tokens, by idTag (admin role)",
        responses=responses(TokenList, "A page of the fleet's tokens", r400=BAD_CURSOR),
        security=SECURITY,
        tags=TAGS,
    )
    def list_tokens(limit: Limit = 100, cursor: Cursor = None) -> TokenList:
        return services().registry.tokens(admin(), limit=limit, cursor=cursor)

    @router.get(
        "/tokens/<id_tag>",
        summary="One RFID token of the fleet (admin role)",
        responses=responses(TokenRegistration, "The token", r404=NOT_FOUND),
        security=SECURITY,
        tags=TAGS,
    )
    def get_token(id_tag: IdTag) -> TokenRegistration:
        return services().registry.token(admin(), id_tag)

    @router.put(
        "/tokens/<id_tag>",
        summary="Create or replace an RFID token of the fleet (admin role)",
        description="Its vehicle and driver must be the fleet's. An idTag comes from the card, so one "
        "another fleet holds is refused (409).",
        responses=_put_responses(TokenRegistration, "The token"),
        security=SECURITY,
        tags=TAGS,
    )
    def put_token(id_tag: IdTag, body: Annotated[TokenInput, Body()]) -> Response[str]:
        return _saved(services().registry.put_token(admin(), id_tag, body))

    @router.delete(
        "/tokens/<id_tag>",
        summary="Delete an RFID token of the fleet (admin role)",
        responses=_delete_responses("The token"),
        security=SECURITY,
        tags=TAGS,
    )
    def delete_token(id_tag: IdTag) -> Response[str]:
        services().registry.delete_token(admin(), id_tag)
        return _deleted()

    return router
