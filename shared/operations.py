"""What an operator does by hand: look at held sessions and decide their energy."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.sessions_table import SessionsTable
from shared.models.sessions import Session


def held_sessions(sessions: SessionsTable) -> list[Session]:
    return sorted(sessions.held(), key=lambda s: s.started_at)


def correct(
    sessions: SessionsTable,
    workflow: BillingWorkflow,
    session_id: str,
    *,
    reason: str,
    energy_wh: Decimal | None = None,
) -> Session:
    """Correct an invoiced session: its invoice is credited in full (a credit note and a credit
    CDR that refer to the originals), then it is priced and invoiced again, with the late real
    stop if one came after an inferred end, or at the operator's energy."""
    if not reason.strip():
        raise ValueError("a correction needs a reason: it is written on the credit note")
    if energy_wh is not None and energy_wh < 0:
        raise ValueError("energy cannot be negative")
    reopened = sessions.reopen_for_correction(session_id, reason, energy_wh)
    workflow.close_and_invoice(session_id, f"c{reopened.correction_attempt}")
    return reopened


def release(
    sessions: SessionsTable,
    workflow: BillingWorkflow,
    session_id: str,
    *,
    energy_wh: Decimal | None,
    reason: str,
    now: datetime | None = None,
) -> Session:
    """Bill a held session: at the energy Laddvakt measured (energy_wh None) or the operator's.

    The decision and its reason stay on the session; a new close-and-invoice run starts.
    """
    if not reason.strip():
        raise ValueError("a release needs a reason: it is kept with the session for finance")
    if energy_wh is not None and energy_wh < 0:
        raise ValueError("energy cannot be negative")
    released = sessions.release(session_id, energy_wh, reason)
    attempt = f"r{int((now or datetime.now(UTC)).timestamp())}"
    workflow.close_and_invoice(session_id, attempt)
    return released
