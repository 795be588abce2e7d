"""The fleet's sessions as a list: `GET /sessions` with filters, newest first, a page at a time.
(One session in full is `GET /sessions/{session_id}`, with the fleet's status routes.)

`GET /vehicles/{vehicle_id}/sessions` takes the same filters (`shared.api.vehicle_routes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from shared.api.common import BAD_CURSOR, READ_SESSIONS, SECURITY, caller, responses
from shared.api.services import Services
from shared.models.fleet_lists import DayOrMoment, SessionFilters, SessionPage, SessionStatusName
from shared.models.registry import ChargePointId, Identifier

PAGING = (
    "Newest start first, a page at a time: pass `next_cursor` back as `cursor`, with the same filters, "
    "for the next page. A page may hold fewer sessions than `limit` and still have a `next_cursor`. "
    "`from` and `to` are dates (a whole day) or ISO 8601 date-times, both inclusive; a date or a "
    "date-time without offset is read in the time zone of the fleet's sites (UTC if they are in several)."
)

# The query parameters both session lists take, documented once.
From = Annotated[DayOrMoment, Query(alias="from", description="Started at or after (date or date-time)")]
To = Annotated[DayOrMoment, Query(alias="to", description="Started at or before (date or date-time)")]
DriverId = Annotated[Identifier | None, Query(description="Only this driver's sessions")]
ChargerId = Annotated[ChargePointId | None, Query(description="Only sessions at this charger")]
Status = Annotated[SessionStatusName | None, Query(description="Only sessions in this status")]
Limit = Annotated[int, Query(ge=1, le=100, description="Sessions per page")]
Cursor = Annotated[str | None, Query(max_length=1000, description="`next_cursor` of the page before")]


def session_filters(**values: Any) -> SessionFilters:
    """The filters together; each value was checked on its own, this checks them as a range."""
    try:
        return SessionFilters(**values)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from exc


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    @router.get(
        "/sessions",
        summary="The caller's fleet's charging sessions, filtered by start, vehicle, driver, charger, status",
        description=PAGING,
        responses=responses(SessionPage, "A page of the fleet's sessions", r400=BAD_CURSOR),
        security=SECURITY,
        tags=["sessions"],
    )
    def list_sessions(
        started_from: From = None,
        started_to: To = None,
        vehicle_id: Annotated[Identifier | None, Query(description="Only this vehicle's sessions")] = None,
        driver_id: DriverId = None,
        charge_point_id: ChargerId = None,
        status: Status = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SessionPage:
        filters = session_filters(
            started_from=started_from,
            started_to=started_to,
            vehicle_id=vehicle_id,
            driver_id=driver_id,
            charge_point_id=charge_point_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return services().lists.sessions(caller(router, READ_SESSIONS).fleet_id, filters)

    return router
