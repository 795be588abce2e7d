"""Events that cross Laddvakt's boundary: what the IoT rule puts on the ingest queue (in), and the
live fleet events a fleet app receives on the EventBridge bus (out; docs/events.md).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Json, field_validator

from shared.topology import inbound_topic


class InboundFrame(BaseModel):
    """One MQTT message on `{chargePointId}/in`, as the rule `shared.topology.INGEST_RULE_SQL` shapes it."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    payload: str = Field(description="The MQTT payload, base64, exactly as the charger sent it")
    charge_point_id: str = Field(alias="chargePointId", min_length=1)
    received_at_ms: int = Field(alias="receivedAt", ge=0, description="Broker receive time, epoch ms")

    @field_validator("payload")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("payload is not base64") from exc
        return value

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.payload)

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.received_at_ms / 1000, tz=UTC)

    @property
    def topic(self) -> str:
        return inbound_topic(self.charge_point_id)


class InboundFrameRecord(SqsRecordModel):
    """An SQS record whose body is an `InboundFrame` (Powertools validates it per record)."""

    body: Json[InboundFrame]  # type: ignore[assignment]  # narrows SqsRecordModel.body (a str) by design


class FrameResult(BaseModel):
    charge_point_id: str
    action: str | None
    replied: bool
    problem: str | None


# --- Live fleet events (out) -------------------------------------------------------------------
# Each is the `detail` of one EventBridge event: `source` is topology.FLEET_EVENT_SOURCE, `detail-type`
# the class name. Every one carries `fleet_id`, so a fleet's rule matches its own events only,
# and an `event_id` that is the same each time the same fact is announced (delivery is at least
# once: a consumer drops an id it has seen).


class FleetEvent(BaseModel):
    # Every field is always sent (null when unknown), so the published schemas require them all.
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_serialization_defaults_required=True)

    # One sentence for the schema and docs/events.md.
    summary: ClassVar[str] = ""

    fleet_id: str = Field(description="The fleet the event belongs to: match on it in your rule")
    event_id: str = Field(
        description="Stable for one fact: the same id means the same event, delivered again"
    )
    occurred_at: AwareDatetime = Field(description="When it happened (UTC), by the charger's clock")

    @classmethod
    def detail_type(cls) -> str:
        return cls.__name__


class SessionEvent(FleetEvent):
    session_id: str
    charge_point_id: str
    connector_id: int
    site_id: str
    vehicle_id: str | None = Field(default=None, description="The vehicle its token belongs to, if any")
    driver_id: str | None = Field(default=None, description="The driver its token belongs to, if any")
    started_at: AwareDatetime


class SessionStarted(SessionEvent):
    summary: ClassVar[str] = "A vehicle started a charging session"


class SessionEnded(SessionEvent):
    summary: ClassVar[str] = "A charging session ended: the car left, or the charger stopped it"

    ended_at: AwareDatetime
    energy_kwh: Decimal = Field(description="Energy delivered in the session (kWh, a decimal string)")
    stop_reason: str | None = Field(default=None, description="OCPP stop reason, e.g. EVDisconnected")
    end_inferred: bool = Field(
        default=False, description="No stop came from the charger: Laddvakt closed it from the evidence"
    )


class _PowerEvent(SessionEvent):
    power_kw: Decimal = Field(description="Power at that moment (kW, a decimal string)")
    energy_kwh: Decimal = Field(description="Energy delivered so far in the session (kWh, a decimal string)")
    soc_percent: Decimal | None = Field(default=None, description="State of charge, when the car reports it")


class SessionIdle(_PowerEvent):
    summary: ClassVar[str] = (
        "A plugged-in vehicle stopped drawing power (below 0.1 kW): full, paused by the car, or waiting"
    )


class SessionCharging(_PowerEvent):
    summary: ClassVar[str] = "An idle plugged-in vehicle draws power again (0.1 kW or more)"


class ConnectorEvent(FleetEvent):
    charge_point_id: str
    connector_id: int = Field(description="OCPP connector (0: the whole charger, in OCPP 1.6)")
    status: str = Field(description="OCPP status as reported, e.g. Faulted, Available")
    error_code: str = Field(description="OCPP error code; NoError when healthy")
    info: str | None = None


class ChargerFaulted(ConnectorEvent):
    summary: ClassVar[str] = "A charger reports a fault on a connector (or a new fault code)"


class ChargerRecovered(ConnectorEvent):
    summary: ClassVar[str] = "A faulted connector reports healthy again"


FLEET_EVENTS: tuple[type[FleetEvent], ...] = (
    SessionStarted,
    SessionEnded,
    SessionIdle,
    SessionCharging,
    ChargerFaulted,
    ChargerRecovered,
)
