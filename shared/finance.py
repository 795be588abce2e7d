"""What a fleet's finance team reads: its invoices, listed by issue date, each fetched through a
short-lived download link (the documents themselves never pass through the API)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from shared import cursors
from shared.adapters.billing_table import INVOICE_PREFIX, BillingTable
from shared.adapters.invoice_bucket import InvoiceBucket
from shared.models.api import InvoiceDownload, InvoicePage, InvoiceSummary
from shared.models.invoices_index import InvoiceRecord
from shared.settings import FleetApiSettings

# Long enough to click, short enough that a forwarded link soon stops working.
DOWNLOAD_LINK_SECONDS = 300


def _now() -> datetime:
    return datetime.now(UTC)


class FinanceQueries:
    def __init__(
        self, billing: BillingTable, invoices: InvoiceBucket, clock: Callable[[], datetime] = _now
    ) -> None:
        self._billing = billing
        self._invoices = invoices
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> FinanceQueries:
        return cls(BillingTable(settings.billing_table), InvoiceBucket(settings.invoice_bucket))

    def invoices(
        self,
        fleet_id: str,
        *,
        issued_from: date | None = None,
        issued_to: date | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> InvoicePage:
        records, after = self._billing.invoices(
            fleet_id,
            issued_from=issued_from.isoformat() if issued_from else None,
            issued_to=issued_to.isoformat() if issued_to else None,
            limit=limit,
            after=_decode_cursor(cursor, fleet_id) if cursor else None,
        )
        return InvoicePage(
            fleet_id=fleet_id,
            invoices=[_summary(r) for r in records],
            next_cursor=_encode_cursor(after) if after else None,
        )

    def invoice(self, fleet_id: str, invoice_number: str) -> InvoiceDownload:
        record = self._billing.invoice(fleet_id, invoice_number)
        expires_at = self._clock() + timedelta(seconds=DOWNLOAD_LINK_SECONDS)
        return InvoiceDownload(
            **_summary(record).model_dump(),
            downloads={
                form: self._invoices.download_url(key, DOWNLOAD_LINK_SECONDS)
                for form, key in record.keys.items()
            },
            expires_at=expires_at,
        )


def _summary(record: InvoiceRecord) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_number=record.invoice_number,
        kind=record.kind,
        issue_date=record.issue_date,
        session_id=record.session_id,
        currency=record.currency,
        net=record.net,
        vat=record.vat,
        gross=record.gross,
        formats=sorted(record.keys),
    )


def _encode_cursor(key: dict[str, str]) -> str:
    return cursors.encode(key)


def _decode_cursor(cursor: str, fleet_id: str) -> dict[str, str]:
    """A cursor is the last key of the previous page; it must be one of this fleet's invoice keys."""
    return cursors.decode(
        cursor,
        {"pk", "sk"},
        lambda key: key["pk"] == f"FLEET#{fleet_id}" and key["sk"].startswith(INVOICE_PREFIX),
    )
