"""What billing writes beside the e-invoice: the facts of the charging session a document bills,
and the JSON file finance's systems read (the invoice, those facts and the sealed CDR together).

`InvoiceDocument` (shared.models.invoice) is the EN 16931 invoice itself; these add what a person
reading the invoice needs and the e-invoice has no field for: local times, the charger, the
prices per unit as EU AFIR asks them to be shown, and the CDR the lines were priced from.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.models.invoice import InvoiceDocument
from shared.models.ocpi import Cdr, json_text, load_json
from shared.models.registry import Address

INVOICE_FILE_FORMAT: Literal["laddvakt-invoice/1"] = "laddvakt-invoice/1"


class UnitPrice(BaseModel):
    """One price of the tariff the session was priced with, per unit, as shown to the driver."""

    model_config = ConfigDict(frozen=True)

    dimension: Literal["ENERGY", "TIME", "PARKING_TIME", "FLAT"]
    unit: Literal["kWh", "hour", "session"]
    excl_vat: Decimal
    incl_vat: Decimal
    vat_rate_percent: Decimal | None = Field(description="None: no VAT applies")


class SessionFacts(BaseModel):
    """The charging session an invoice line set bills, in the site's local time and in UTC."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    transaction_id: str
    charge_point_id: str
    connector_id: int
    fleet_id: str
    site_id: str
    site_name: str
    site_address: Address
    time_zone: str = Field(description="The site's IANA zone: local times are in it")
    started_at: AwareDatetime = Field(description="UTC")
    ended_at: AwareDatetime = Field(description="UTC")
    started_at_local: datetime
    ended_at_local: datetime
    energy_kwh: Decimal
    charging_hours: Decimal = Field(description="Time charging (OCPI TIME)")
    parking_hours: Decimal = Field(description="Time plugged in but not charging (OCPI PARKING_TIME)")
    id_tag: str
    driver_id: str | None = None
    vehicle_id: str | None = None
    tariff_id: str
    tariff_version: AwareDatetime | None = Field(default=None, description="The tariff's last_updated")
    unit_prices: list[UnitPrice]


def invoice_file_json(file: InvoiceFile) -> bytes:
    """The invoice file's bytes: amounts of the invoice as decimal strings (as the API writes them),
    the CDR in OCPI's own form (exact JSON numbers). The same file always gives the same bytes."""
    data: dict[str, Any] = {
        "format": file.format,
        "document": file.document.model_dump(mode="json", exclude_none=True),
        "session": file.session.model_dump(mode="json", exclude_none=True),
        "cdr": file.cdr.model_dump(mode="python", exclude_none=True),
    }
    return (json_text(data) + "\n").encode()


def read_invoice_file(data: bytes) -> InvoiceFile:
    return InvoiceFile.model_validate(load_json(data))


class StatementFacts(BaseModel):
    """A fleet's monthly statement: which month, how many sessions, and where their specification is."""

    model_config = ConfigDict(frozen=True)

    fleet_id: str
    month: str = Field(description="YYYY-MM: sessions that ended that month, in their site's time zone")
    sessions: int
    energy_kwh: Decimal
    specification_key: str = Field(description="The per-session CSV specification beside the statement")


class InvoiceFile(BaseModel):
    """The JSON form of an invoice or credit note in the invoice bucket: the machine form."""

    model_config = ConfigDict(frozen=True)

    format: Literal["laddvakt-invoice/1"] = INVOICE_FILE_FORMAT
    document: InvoiceDocument
    session: SessionFacts
    cdr: Cdr = Field(description="The sealed OCPI 2.2.1 CDR the lines were priced from")


class StatementFile(BaseModel):
    """The JSON form of a monthly statement: the invoice and what it sums up (each session's CDR
    is sealed on its own, and listed in the specification)."""

    model_config = ConfigDict(frozen=True)

    format: Literal["laddvakt-statement/1"] = "laddvakt-statement/1"
    document: InvoiceDocument
    statement: StatementFacts
