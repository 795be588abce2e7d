"""Charging sessions as stored, and the messages the close-and-invoice workflow passes along.

Energy is kept in Wh as `Decimal` (registers are integers in Wh for OCPP 1.6, but kWh-labelled
values with decimals arrive too); times are timezone-aware UTC.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.models.billing_documents import SessionFacts


class SessionStatus(StrEnum):
    ACTIVE = "active"
    CLOSING = "closing"
    # Its energy could not be trusted: waiting for an operator (`laddvakt sessions release`).
    HELD = "held"
    INVOICED = "invoiced"
    # Priced and sealed; billed with its fleet's monthly statement.
    ON_STATEMENT = "on_statement"


def session_id_for(charge_point_id: str, transaction_id: int | str) -> str:
    """Sessions are keyed by charger and transaction, so meter values need no look-up first.

    OCPP 1.6 transaction ids are integers Laddvakt assigns; 2.0.1 ids are strings the charger
    chooses. Both are stored as text."""
    return f"{charge_point_id}:{transaction_id}"


class MeterSample(BaseModel):
    """One moment of a session's meter: the register (Wh), power (W) and state of charge."""

    model_config = ConfigDict(frozen=True)

    timestamp: AwareDatetime
    energy_wh: Decimal | None = None
    power_w: Decimal | None = None
    soc_percent: Decimal | None = None
    # OCPP 2.0.1 chargingState from this moment on (Charging, EVConnected, SuspendedEV,
    # SuspendedEVSE, Idle): what tells charging time from parking time.
    charging_state: str | None = None
    # OCPP 2.0.1 timeSpentCharging: the station's own count of seconds charged so far.
    time_spent_charging_s: int | None = None


class Session(BaseModel):
    """The stored record of one charging session (one item in the sessions table)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    transaction_id: str
    charge_point_id: str
    connector_id: int
    id_tag: str
    fleet_id: str
    site_id: str
    driver_id: str | None = None
    vehicle_id: str | None = None
    ocpp_version: str = "1.6"
    status: SessionStatus = SessionStatus.ACTIVE
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    # None until the first register reading (a 2.0.1 transaction may start before one); stored
    # items leave a None out, so it defaults to None when read back.
    meter_start_wh: Decimal | None = None
    meter_stop_wh: Decimal | None = None
    energy_wh: Decimal | None = None
    latest_register_wh: Decimal | None = None
    latest_power_w: Decimal | None = None
    latest_soc_percent: Decimal | None = None
    latest_sample_at: AwareDatetime | None = None
    latest_charging_state: str | None = None
    # When each live value was read: frames may arrive in any order, the newest reading wins.
    latest_register_at: AwareDatetime | None = None
    latest_power_at: AwareDatetime | None = None
    latest_soc_at: AwareDatetime | None = None
    latest_charging_state_at: AwareDatetime | None = None
    # The earliest register reading of a session that started without one (2.0.1): the live
    # view's baseline. Billing never uses it; it reads every sample.
    first_register_wh: Decimal | None = None
    first_register_at: AwareDatetime | None = None
    # 2.0.1: every TransactionEvent seqNo seen, so lost events show as gaps.
    seq_nos: set[int] = Field(default_factory=set)
    # 2.0.1: some events were queued while the station was offline and sent later.
    offline_events: bool = False
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    samples: list[MeterSample] = Field(default_factory=list)
    invoice_key: str | None = None
    hold_reason: str | None = None
    # An operator's decision on a held session's energy, with why (kept on the session).
    energy_override_wh: Decimal | None = None
    override_reason: str | None = None
    register_resets: list[str] = Field(default_factory=list)
    # Closed by the reaper from the best evidence (no stop ever came, or not yet).
    end_inferred: bool = False
    end_inferred_reason: str | None = None
    # A real stop that arrived after an inferred end: the invoice needs a correction.
    correction_needed: bool = False
    correction_reason: str | None = None
    late_stop_at: AwareDatetime | None = None
    late_meter_stop_wh: Decimal | None = None
    # A correction of an invoiced session: the how-manieth, and the invoice it credits.
    correction_attempt: int = 0
    credit_invoice_key: str | None = None
    # A monthly fleet's session: the month whose statement bills it.
    statement_month: str | None = None

    @property
    def energy_so_far_wh(self) -> Decimal:
        """Energy delivered up to the latest reading (the final energy once stopped)."""
        if self.energy_wh is not None:
            return self.energy_wh
        latest = self.meter_stop_wh if self.meter_stop_wh is not None else self.latest_register_wh
        baseline = self.meter_start_wh if self.meter_start_wh is not None else self.first_register_wh
        if latest is None or baseline is None:
            return Decimal(0)
        return max(Decimal(0), latest - baseline)

    @property
    def seq_gaps(self) -> list[int]:
        """2.0.1 seqNos missing between the first and the last event seen: events that never came."""
        if not self.seq_nos:
            return []
        return [n for n in range(min(self.seq_nos), max(self.seq_nos)) if n not in self.seq_nos]


# --- The close-and-invoice workflow: each step's output is the next step's whole input. ---


class CloseRequest(BaseModel):
    """The execution input that StopTransaction hands to Step Functions."""

    session_id: str


class ClosedSession(BaseModel):
    """Facts of a finished session, fixed by the first step so later steps agree on them."""

    session_id: str
    transaction_id: str
    charge_point_id: str
    connector_id: int
    id_tag: str
    fleet_id: str
    site_id: str
    driver_id: str | None = None
    vehicle_id: str | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime
    meter_start_wh: Decimal
    meter_stop_wh: Decimal
    energy_wh: Decimal
    stop_reason: str | None = None
    # Set when the energy is not trusted: the workflow stops here and the session waits, held.
    held_reason: str | None = None
    # A correction (0: the first invoice): the invoice it credits first, and why.
    attempt: int = 0
    credit_invoice_key: str | None = None
    correction_reason: str | None = None


class PricedSession(BaseModel):
    """A closed session with its sealed CDR (the tariff version, the charging periods and every
    total) and the facts its invoice shows. The invoice's lines are priced again from the CDR by
    the same function, so the invoice can never say anything the CDR does not."""

    session: ClosedSession
    facts: SessionFacts
    # The OCPI 2.2.1 CDR as its exact JSON text (numbers stay numbers through Step Functions).
    cdr_json: str


class InvoiceRef(BaseModel):
    """Where the invoice landed: what the last step needs to mark the session invoiced."""

    session_id: str
    invoice_id: str
    bucket: str
    key: str = Field(description="The JSON form's key")
    keys: dict[str, str] = Field(default_factory=dict, description="Every form's key, by format")
    gross: Decimal
    currency: str
    # Set for a monthly fleet's session: it waits for this month's statement.
    statement_month: str | None = None


class SessionInvoiced(BaseModel):
    session_id: str
    invoice_id: str
    key: str
    status: SessionStatus


# --- The monthly statement workflow ---


class StatementRequest(BaseModel):
    """A fleet's month to bill: the statement workflow's input."""

    fleet_id: str
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class StatementDay(StatementRequest):
    """One day of it: what one iteration of the workflow's Map sums."""

    day: int = Field(ge=1, le=31)


class StatementDaySum(BaseModel):
    day: int
    sessions: int
