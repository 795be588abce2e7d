"""Sessions that never end: closed from the best evidence, with the end marked as inferred.

A session is closed when its charger has said nothing about it for the silence timeout (at its
last reading), or when its connector has since reported Available (at that status change). The
real stop, should it come later, is kept as a needed correction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.models.sessions import Session
from shared.settings import ReaperSettings

# Connector states that mean the car is gone (1.6 and 2.0.1 words).
_FREE = {"Available"}


@dataclass
class ReapReport:
    checked: int = 0
    closed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reaper:
    registry: RegistryTable
    sessions: SessionsTable
    workflow: BillingWorkflow
    silence: timedelta
    clock: Callable[[], datetime] = _now

    @classmethod
    def from_settings(cls, settings: ReaperSettings) -> Reaper:
        return cls(
            RegistryTable(settings.registry_table),
            SessionsTable(settings.sessions_table),
            BillingWorkflow(settings.billing_state_machine_arn),
            timedelta(minutes=settings.silence_timeout_minutes),
        )

    def run(self) -> ReapReport:
        report = ReapReport()
        now = self.clock()
        for fleet_id in self.registry.fleet_ids():
            free_since = self._free_connectors(fleet_id)
            for session in self.sessions.active_for_fleet(fleet_id):
                report.checked += 1
                verdict = self._verdict(session, now, free_since)
                if verdict is None:
                    continue
                reason, ended_at = verdict
                meter_stop = (
                    session.latest_register_wh
                    if session.latest_register_wh is not None
                    else session.meter_start_wh
                )
                if meter_stop is None:
                    continue  # nothing to bill from; it stays active and visible
                if self.sessions.stop_inferred(session.session_id, ended_at, meter_stop, reason):
                    self.workflow.close_and_invoice(session.session_id)
                    report.closed.append(session.session_id)
                    report.reasons[session.session_id] = reason
        return report

    def _free_connectors(self, fleet_id: str) -> dict[tuple[str, int], datetime]:
        inventory = self.registry.fleet_chargers(fleet_id)
        return {
            (c.charge_point_id, c.connector_id): datetime.fromisoformat(c.at)
            for c in inventory.connectors
            if c.status in _FREE
        }

    def _verdict(
        self, session: Session, now: datetime, free_since: dict[tuple[str, int], datetime]
    ) -> tuple[str, datetime] | None:
        last_heard = session.latest_sample_at or session.started_at
        freed = free_since.get((session.charge_point_id, session.connector_id))
        if freed is not None and freed > last_heard:
            return f"connector reported Available at {freed.isoformat()} without a stop", freed
        if now - last_heard > self.silence:
            return f"no frame for this session since {last_heard.isoformat()}", last_heard
        return None
