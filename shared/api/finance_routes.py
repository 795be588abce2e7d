"""Finance: the fleet's invoices and credit notes, and links to download them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from shared.api.common import BAD_CURSOR, NOT_FOUND, READ_INVOICES, SECURITY, caller, responses
from shared.api.services import Services
from shared.models.api import InvoiceDownload, InvoicePage


def routes(services: Callable[[], Services]) -> Router:
    router = Router()

    @router.get(
        "/invoices",
        summary="The caller's fleet's invoices and credit notes, by issue date (finance role)",
        description="Oldest first, a page at a time: pass `next_cursor` back as `cursor` for the next page.",
        responses=responses(InvoicePage, "A page of the fleet's invoices", r400=BAD_CURSOR),
        security=SECURITY,
        tags=["finance"],
    )
    def list_invoices(
        issued_from: Annotated[date | None, Query(description="First issue date (inclusive)")] = None,
        issued_to: Annotated[date | None, Query(description="Last issue date (inclusive)")] = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Invoices per page")] = 50,
        cursor: Annotated[
            str | None, Query(max_length=1000, description="`next_cursor` of the page before")
        ] = None,
    ) -> InvoicePage:
        return services().finance.invoices(
            caller(router, READ_INVOICES).fleet_id,
            issued_from=issued_from,
            issued_to=issued_to,
            limit=limit,
            cursor=cursor,
        )

    @router.get(
        "/invoices/<invoice_number>",
        summary="One invoice of the caller's fleet, with short-lived download links (finance role)",
        responses=responses(InvoiceDownload, "The invoice and a download link per form", r404=NOT_FOUND),
        security=SECURITY,
        tags=["finance"],
    )
    def get_invoice(
        invoice_number: Annotated[str, Path(description="e.g. LV-0000042", max_length=40)],
    ) -> InvoiceDownload:
        return services().finance.invoice(caller(router, READ_INVOICES).fleet_id, invoice_number)

    return router
