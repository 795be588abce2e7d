"""What finance lists and fetches: one record per invoice or credit note, kept in the billing
table beside the document itself (which lives in the write-once invoice bucket)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

DocumentKind = Literal["invoice", "credit_note"]


class InvoiceRecord(BaseModel):
    """The stored index entry of one document (never the API response itself)."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    kind: DocumentKind = "invoice"
    fleet_id: str
    seller_id: str
    session_id: str
    issue_date: date
    currency: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    # The S3 keys of the document's forms, by format (json, pdf, xml).
    keys: dict[str, str]
