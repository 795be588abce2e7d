"""Analytics: energy and cost, utilisation, site load and arrivals, from the daily rollups; every
table as JSON or, with `?format=csv`, as CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, NoReturn

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from shared.adapters.analytics_table import TooManyRollups
from shared.analytics import to_csv
from shared.api.common import PROBLEMS, READ_ANALYTICS, SECURITY, caller, json_content
from shared.api.services import Services
from shared.models.analytics import (
    ArrivalsReport,
    EnergyGroup,
    EnergyReport,
    Granularity,
    ReportFormat,
    SiteLoadReport,
    UtilisationGroup,
    UtilisationReport,
)

# A year and a bit: enough to compare a month with the same month last year, and a bound on how
# many rollup items one request reads.
MAX_DAYS = 400
# The days a report may name (local clocks and calendars beyond these are not worth guessing).
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
CSV = "text/csv"

First = Annotated[
    date, Query(alias="from", description="First local day (inclusive), e.g. 2026-11-01; from 2000-01-01")
]
Last = Annotated[
    date,
    Query(
        alias="to",
        description=f"Last local day (inclusive), until 2099-12-31; the period spans at most {MAX_DAYS} days",
    ),
]
Format = Annotated[
    ReportFormat,
    Query(alias="format", description="`json` (default) or `csv`: the same rows with a header row"),
]


def _responses(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """The report as JSON or CSV, and the problems every route may answer."""
    ok: OpenAPIResponse = {
        "description": description,
        "content": {
            "application/json": json_content(model),
            CSV: {"schema": {"type": "string", "description": "One row per table row, after a header row"}},
        },
    }
    return {200: ok, **PROBLEMS}


def _range(first: date, last: date) -> None:
    for parameter, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            _invalid(parameter, f"must be a day from {EARLIEST} to {LATEST}")
    if last < first:
        _invalid("to", "must not be before `from`")
    if (last - first).days + 1 > MAX_DAYS:
        _invalid("to", f"the period may span at most {MAX_DAYS} days")


def _invalid(parameter: str, message: str) -> NoReturn:
    errors: list[Any] = [{"loc": ("query", parameter), "msg": message, "type": "value_error"}]
    raise RequestValidationError(errors)


def _answer(build: Callable[[], BaseModel], form: ReportFormat) -> Response[str]:
    try:
        report = build()
    except TooManyRollups as exc:
        _invalid("from", f"{exc}: ask for a shorter period, or months instead of days")
    if form == "csv":
        return Response(status_code=200, content_type=CSV, body=to_csv(report))
    return Response(status_code=200, content_type="application/json", body=report.model_dump_json())


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    @router.get(
        "/analytics/energy",
        summary="Energy and cost per day, ISO week or month, for the fleet or per vehicle or driver",
        description="From the daily rollups of invoiced sessions. A session crossing midnight counts "
        "on each local day of its site by its meter readings; it counts as a session on the day it "
        "arrived. A week or month at the edge of the period holds only the period's days.",
        responses=_responses(EnergyReport, "The energy and cost table"),
        security=SECURITY,
        tags=["analytics"],
    )
    def energy(
        first: First,
        last: Last,
        granularity: Annotated[Granularity, Query(description="Row per day, ISO week or month")] = "day",
        group_by: Annotated[EnergyGroup, Query(description="Row per fleet, vehicle or driver")] = "fleet",
        form: Format = "json",
    ) -> Response[str]:
        fleet_id = caller(router, READ_ANALYTICS).fleet_id
        _range(first, last)
        return _answer(
            lambda: services().analytics.energy(fleet_id, first, last, granularity, group_by), form
        )

    @router.get(
        "/analytics/utilisation",
        summary="Share of time each charger or site was occupied, charging, and plugged in but idle",
        description="Connector hours: occupied and charging shares of the hours available so far in "
        "the period; the idle share is plugged in, not charging, of the hours plugged in.",
        responses=_responses(UtilisationReport, "The utilisation table"),
        security=SECURITY,
        tags=["analytics"],
    )
    def utilisation(
        first: First,
        last: Last,
        group_by: Annotated[UtilisationGroup, Query(description="Row per charger or per site")] = "charger",
        form: Format = "json",
    ) -> Response[str]:
        fleet_id = caller(router, READ_ANALYTICS).fleet_id
        _range(first, last)
        return _answer(lambda: services().analytics.utilisation(fleet_id, first, last, group_by), form)

    @router.get(
        "/analytics/site-load",
        summary="Each site's peak load per day against its grid connection limit",
        description="The peak is the day's busiest quarter hour of energy delivered at the site.",
        responses=_responses(SiteLoadReport, "The site load table"),
        security=SECURITY,
        tags=["analytics"],
    )
    def site_load(first: First, last: Last, form: Format = "json") -> Response[str]:
        fleet_id = caller(router, READ_ANALYTICS).fleet_id
        _range(first, last)
        return _answer(lambda: services().analytics.site_load(fleet_id, first, last), form)

    @router.get(
        "/analytics/arrivals",
        summary="Arrivals and departures by weekday and local hour",
        description="Sessions that started (arrivals) and ended (departures) in each hour of each "
        "weekday of the period, in each site's local time.",
        responses=_responses(ArrivalsReport, "The arrivals table"),
        security=SECURITY,
        tags=["analytics"],
    )
    def arrivals(first: First, last: Last, form: Format = "json") -> Response[str]:
        fleet_id = caller(router, READ_ANALYTICS).fleet_id
        _range(first, last)
        return _answer(lambda: services().analytics.arrivals(fleet_id, first, last), form)

    return router
