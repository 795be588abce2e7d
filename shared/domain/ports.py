"""What the domain needs from the outside world, as protocols.

Adapters in `shared.adapters` implement these against DynamoDB, S3, Step Functions and IoT Core;
tests hand in plain in-memory fakes. The domain never knows which it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from shared.domain.charger_health import Outage
from shared.models.ocpi import Tariff
from shared.models.registry import ChargerPlacement, Fleet, Operator, Site, TokenGrant
from shared.models.sessions import MeterSample, Session


@dataclass(frozen=True)
class ConnectorStatusReport:
    charge_point_id: str
    connector_id: int
    status: str
    error_code: str
    at: datetime
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True)
class StopFacts:
    ended_at: datetime
    # None when the stop carried no register reading (2.0.1): billing then uses the samples.
    meter_stop_wh: Decimal | None
    reason: str | None
    id_tag: str | None
    samples: list[MeterSample]


@dataclass(frozen=True)
class EventFacts:
    """What a 2.0.1 TransactionEvent tells about its transaction besides meter values. Every one
    of these merges the same whatever order the events arrive in."""

    seq_no: int
    offline: bool = False


@dataclass(frozen=True)
class RejectedFrame:
    """A frame kept for an operator, with why."""

    charge_point_id: str
    received_at: datetime
    reason: str
    payload_base64: str
    topic: str
    action: str | None = None


class RegistryPort(Protocol):
    def placement(self, charge_point_id: str) -> ChargerPlacement | None: ...

    def token(self, id_tag: str) -> TokenGrant: ...

    def tariff_versions(self, tariff_id: str) -> list[Tariff]: ...

    def site(self, site_id: str) -> Site: ...

    def operator(self) -> Operator: ...

    def fleet(self, fleet_id: str) -> Fleet: ...

    def next_transaction_id(self) -> int: ...

    # Boots, heartbeats and `record_seen` move the charger's last-seen time forward to `at`, in
    # the same write, and return the one they replaced: a long gap before it is an outage.
    def record_boot(
        self, charge_point_id: str, fleet_id: str, details: dict[str, Any], at: datetime
    ) -> datetime | None: ...

    def record_heartbeat(self, charge_point_id: str, fleet_id: str, at: datetime) -> datetime | None: ...

    def record_seen(self, charge_point_id: str, fleet_id: str, at: datetime) -> datetime | None: ...

    def record_outage(self, charge_point_id: str, outage: Outage) -> None: ...

    # Keeps the connector's state now and, when the status or error code changed (or the report
    # is older than the state now), appends it to the charger's status history.
    def record_connector_status(self, report: ConnectorStatusReport, fleet_id: str) -> None: ...

    def record_charging_needs(
        self, charge_point_id: str, evse_id: int, needs: dict[str, Any], at: datetime
    ) -> None: ...


class SessionsPort(Protocol):
    def start(self, session: Session, start_key: str) -> Session: ...

    def add_samples(
        self,
        session_id: str,
        charge_point_id: str,
        samples: list[MeterSample],
        event: EventFacts | None = None,
    ) -> None: ...

    def stop(
        self, session_id: str, charge_point_id: str, stop: StopFacts, event: EventFacts | None = None
    ) -> None: ...

    def get(self, session_id: str, *, with_samples: bool = True) -> Session: ...

    def identify(self, session_id: str, charge_point_id: str, grant: TokenGrant) -> None: ...

    def record_late_stop(self, session_id: str, stop: StopFacts) -> None: ...

    def record_correction(self, session_id: str, reason: str) -> None: ...

    def park(self, session_id: str, charge_point_id: str, seq_no: int, payload: dict[str, Any]) -> None: ...

    def parked(self, session_id: str) -> list[dict[str, Any]]: ...

    def unpark(self, session_id: str, seq_no: int) -> None: ...


class BillingWorkflowPort(Protocol):
    def close_and_invoice(self, session_id: str) -> None: ...


class ChargerLinkPort(Protocol):
    def send(self, charge_point_id: str, frame: str) -> None: ...


class CommandsPort(Protocol):
    """Commands Laddvakt sent and waits on: a charger's CallResult/CallError settles one."""

    def answer(
        self, charge_point_id: str, message_id: str, status: str, reason: str | None, at: datetime
    ) -> Any: ...


class QuarantinePort(Protocol):
    def keep(self, frame: RejectedFrame) -> None: ...
