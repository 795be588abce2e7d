"""Events that cross a boundary into Laddvakt: what the IoT rule puts on the ingest queue."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json, field_validator

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
