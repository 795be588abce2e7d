"""Rebuilds sessions from the raw ledger: the archived frames, in the order they arrived, through
the same central system, into a sessions table of your choice.

A replay bills nothing, answers no charger and changes no registry state. Each OCPP 1.6
StartTransaction gets the transactionId Laddvakt chose the first time, read from the archived
reply, so the rebuilt sessions carry the same keys as the originals.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain.central import CentralSystem
from shared.domain.ocpp16 import CentralSystem16
from shared.domain.ocpp201 import CentralSystem201
from shared.domain.ports import ConnectorStatusReport


@dataclass(frozen=True, order=True)
class ArchivedFrame:
    received_at_ms: int
    direction: str
    charge_point_id: str
    payload: bytes

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ArchivedFrame:
        return cls(
            received_at_ms=int(record["receivedAt"]),
            direction=str(record.get("direction", "in")),
            charge_point_id=str(record["chargePointId"]),
            payload=base64.b64decode(record["payload"]),
        )


def ledger_prefixes(first: date, last: date, charge_point_id: str | None) -> Iterator[str]:
    day = first
    while day <= last:
        charger = f"charger={charge_point_id}/" if charge_point_id else ""
        yield f"frames/date={day.isoformat()}/{charger}"
        day += timedelta(days=1)


def assigned_transaction_ids(frames: Iterable[ArchivedFrame]) -> dict[tuple[str, str], int]:
    """(charger, message id) of each StartTransaction → the transactionId Laddvakt replied with."""
    assigned = {}
    for frame in frames:
        if frame.direction != "out":
            continue
        try:
            message = json.loads(frame.payload)
        except ValueError:
            continue
        is_result = (
            isinstance(message, list)
            and len(message) == 3
            and message[0] == 3
            and isinstance(message[2], dict)
        )
        if is_result and isinstance(message[2].get("transactionId"), int):
            assigned[(frame.charge_point_id, message[1])] = message[2]["transactionId"]
    return assigned


class ReplayRegistry:
    """The live registry for look-ups; no writes; transaction ids from the archive."""

    def __init__(self, live: RegistryTable) -> None:
        self._live = live
        self._next: list[int] = []

    def expect_transaction_id(self, transaction_id: int) -> None:
        self._next.append(transaction_id)

    def next_transaction_id(self) -> int:
        if not self._next:
            raise LookupError(
                "the archive has no reply for this StartTransaction: its transactionId is unknown"
            )
        return self._next.pop(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._live, name)

    def record_boot(self, *args: Any) -> None:
        pass  # a replay rebuilds sessions; the registry's live state and health history stay as they are

    def record_heartbeat(self, *args: Any) -> None:
        pass

    def record_seen(self, *args: Any) -> None:
        pass

    def record_outage(self, *args: Any) -> None:
        pass

    def record_connector_status(self, report: ConnectorStatusReport, fleet_id: str) -> None:
        pass

    def record_charging_needs(self, *args: Any) -> None:
        pass


@dataclass
class _NoBilling:
    closed: list[str] = field(default_factory=list)

    def close_and_invoice(self, session_id: str, attempt: str = "") -> None:
        self.closed.append(session_id)


@dataclass
class ReplayReport:
    frames: int = 0
    sessions_closed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def replay(frames: list[ArchivedFrame], registry: RegistryTable, target: SessionsTable) -> ReplayReport:
    ordered = sorted(frames)
    ids = assigned_transaction_ids(ordered)
    replay_registry = ReplayRegistry(registry)
    billing = _NoBilling()
    ports = (replay_registry, target, billing)
    central = CentralSystem(
        replay_registry,  # type: ignore[arg-type]
        {"1.6": CentralSystem16(*ports), "2.0.1": CentralSystem201(*ports)},  # type: ignore[arg-type]
    )
    report = ReplayReport()
    for frame in ordered:
        if frame.direction != "in":
            continue
        message_id = _start_transaction_id(frame)
        if message_id is not None and (frame.charge_point_id, message_id) in ids:
            replay_registry.expect_transaction_id(ids[(frame.charge_point_id, message_id)])
        try:
            outcome = central.handle(frame.charge_point_id, frame.payload)
        except LookupError as exc:
            report.problems.append(f"{frame.charge_point_id} at {frame.received_at_ms}: {exc}")
            continue
        report.frames += 1
        if outcome.problem:
            report.problems.append(
                f"{frame.charge_point_id} at {datetime.fromtimestamp(frame.received_at_ms / 1000, tz=UTC).isoformat()}: {outcome.problem}"
            )
    report.sessions_closed = billing.closed
    return report


def _start_transaction_id(frame: ArchivedFrame) -> str | None:
    try:
        message = json.loads(frame.payload)
    except ValueError:
        return None
    if (
        isinstance(message, list)
        and len(message) == 4
        and message[0] == 2
        and message[2] == "StartTransaction"
    ):
        return str(message[1])
    return None
