"""Which live fleet events one change of a stored record means: a session head or a connector's
status before and after a write in, zero or more events out. Pure: the same pair always gives the
same events with the same ids, so a replayed change announces nothing new to a consumer that
keeps the ids it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.domain.vehicle_state import is_charging
from shared.models.events import (
    ChargerFaulted,
    ChargerRecovered,
    FleetEvent,
    SessionCharging,
    SessionEnded,
    SessionIdle,
    SessionStarted,
)
from shared.models.sessions import Session, SessionStatus

_KILO = Decimal(1000)
_HEALTHY = "NoError"


@dataclass(frozen=True)
class ConnectorReport:
    """What the registry keeps of one connector: its last reported status."""

    fleet_id: str
    charge_point_id: str
    connector_id: int
    status: str
    error_code: str
    at: datetime
    info: str | None = None


def _kw(value_w: Decimal) -> Decimal:
    return (value_w / _KILO).quantize(Decimal("0.001"))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def _ended(session: Session) -> bool:
    # A stop sets ended_at while the head is still active; the billing workflow then moves it on.
    return session.ended_at is not None or session.status is not SessionStatus.ACTIVE


def _who(session: Session) -> dict[str, Any]:
    return {
        "fleet_id": session.fleet_id,
        "session_id": session.session_id,
        "charge_point_id": session.charge_point_id,
        "connector_id": session.connector_id,
        "site_id": session.site_id,
        "vehicle_id": session.vehicle_id,
        "driver_id": session.driver_id,
        "started_at": session.started_at,
    }


def session_events(before: Session | None, after: Session | None) -> list[FleetEvent]:
    """Started when a head appears; Ended when it first stops being live (a stop, an inferred end,
    or leaving `active`); Idle and Charging when the live power crosses the charging threshold
    while the session is live. A change that crosses nothing (another meter sample above the
    threshold, an identical image) means no event."""
    if after is None:
        return []  # a head is never deleted; a removal announces nothing
    events: list[FleetEvent] = []
    if before is None:
        events.append(
            SessionStarted(
                event_id=f"{after.session_id}/started", occurred_at=after.started_at, **_who(after)
            )
        )
    if _ended(after):
        if before is None or not _ended(before):
            ended_at = after.ended_at or after.latest_sample_at or after.started_at
            events.append(
                SessionEnded(
                    event_id=f"{after.session_id}/ended",
                    occurred_at=ended_at,
                    ended_at=ended_at,
                    energy_kwh=_kw(after.energy_so_far_wh),
                    stop_reason=after.stop_reason,
                    end_inferred=after.end_inferred,
                    **_who(after),
                )
            )
        return events
    if before is None or before.latest_power_w is None or after.latest_power_w is None:
        return events
    was, now = is_charging(before.latest_power_w), is_charging(after.latest_power_w)
    if was == now:
        return events
    kind = SessionCharging if now else SessionIdle
    at = after.latest_power_at or after.latest_sample_at or after.started_at
    events.append(
        kind(
            event_id=f"{after.session_id}/{'charging' if now else 'idle'}/{_stamp(at)}",
            occurred_at=at,
            power_kw=_kw(after.latest_power_w),
            energy_kwh=_kw(after.energy_so_far_wh),
            soc_percent=after.latest_soc_percent,
            **_who(after),
        )
    )
    return events


def fault(report: ConnectorReport | None) -> str | None:
    """The connector's fault (its error code, or Faulted when the status says so), None when healthy."""
    if report is None:
        return None
    if report.error_code and report.error_code != _HEALTHY:
        return report.error_code
    return "Faulted" if report.status == "Faulted" else None


def connector_events(before: ConnectorReport | None, after: ConnectorReport | None) -> list[FleetEvent]:
    """Faulted when a connector's fault appears or changes to another code; Recovered when it
    reports healthy again. A status change that keeps its health (Available to Charging) is no event."""
    if after is None:
        return []
    was, now = fault(before), fault(after)
    if was == now:
        return []
    kind = ChargerFaulted if now is not None else ChargerRecovered
    name = "faulted" if now is not None else "recovered"
    return [
        kind(
            fleet_id=after.fleet_id,
            event_id=f"{after.charge_point_id}/{after.connector_id}/{name}/{_stamp(after.at)}",
            occurred_at=after.at,
            charge_point_id=after.charge_point_id,
            connector_id=after.connector_id,
            status=after.status,
            error_code=after.error_code or _HEALTHY,
            info=after.info,
        )
    ]
