"""The sessions table: one item per charging session, keyed `session_id` = `{chargePointId}:{transactionId}`.

A meter frame is one conditional UpdateItem and no read: the key follows from the frame, and the
condition proves the session exists and belongs to the charger that sent it. GSIs:
`active_by_fleet` (sparse: only active sessions carry `active_fleet_id`) answers "what is charging
in my fleet now" without touching history; `by_fleet_started` lists a fleet's sessions by start.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import SessionNotFound, SessionStateConflict
from shared.domain.ports import StopFacts
from shared.models.sessions import MeterSample, Session, SessionStatus

ACTIVE_BY_FLEET_INDEX = "active_by_fleet"
BY_FLEET_STARTED_INDEX = "by_fleet_started"

_SAMPLE_KEYS = {"t": "timestamp", "e": "energy_wh", "p": "power_w", "s": "soc_percent"}


def _sample_item(sample: MeterSample) -> dict[str, Any]:
    # Short attribute names: a long session holds hundreds of samples in one item.
    item: dict[str, Any] = {"t": sample.timestamp.isoformat()}
    for short, name in _SAMPLE_KEYS.items():
        value = getattr(sample, name)
        if short != "t" and value is not None:
            item[short] = value
    return item


def _sample(item: dict[str, Any]) -> MeterSample:
    return MeterSample(**{name: item[short] for short, name in _SAMPLE_KEYS.items() if short in item})


def _latest_updates(samples: list[MeterSample]) -> dict[str, Any]:
    """The newest reading of each measurand in this batch: what the fleet view shows live."""
    latest: dict[str, Any] = {}
    for sample in sorted(samples, key=lambda s: s.timestamp):
        latest["latest_sample_at"] = sample.timestamp.isoformat()
        if sample.energy_wh is not None:
            latest["latest_register_wh"] = sample.energy_wh
        if sample.power_w is not None:
            latest["latest_power_w"] = sample.power_w
        if sample.soc_percent is not None:
            latest["latest_soc_percent"] = sample.soc_percent
    return latest


def session_to_item(session: Session) -> dict[str, Any]:
    item = session.model_dump(mode="python", exclude={"samples"}, exclude_none=True)
    for key, value in list(item.items()):
        if isinstance(value, datetime):
            item[key] = value.isoformat()
    item["status"] = session.status.value
    item["samples"] = [_sample_item(s) for s in session.samples]
    if session.status is SessionStatus.ACTIVE:
        item["active_fleet_id"] = session.fleet_id
    return item


def item_to_session(item: dict[str, Any]) -> Session:
    data = {k: v for k, v in item.items() if k not in {"active_fleet_id", "samples"}}
    data["samples"] = [_sample(s) for s in item.get("samples", [])]
    data["transaction_id"] = int(item["transaction_id"])
    data["connector_id"] = int(item["connector_id"])
    return Session.model_validate(data)


class SessionsTable:
    def __init__(self, table_name: str, *, table: Any = None) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)

    def start(self, session: Session) -> None:
        with aws_errors(f"start session {session.session_id}"):
            try:
                self._table.put_item(
                    Item=session_to_item(session), ConditionExpression="attribute_not_exists(session_id)"
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise SessionStateConflict(f"session {session.session_id} already exists") from exc
                raise

    def add_samples(self, session_id: str, charge_point_id: str, samples: list[MeterSample]) -> None:
        latest = _latest_updates(samples)
        names = {"#samples": "samples"}
        values: dict[str, Any] = {
            ":new": [_sample_item(s) for s in samples],
            ":empty": [],
            ":cp": charge_point_id,
        }
        sets = ["#samples = list_append(if_not_exists(#samples, :empty), :new)"]
        for index, (attribute, value) in enumerate(latest.items()):
            names[f"#l{index}"] = attribute
            values[f":l{index}"] = value
            sets.append(f"#l{index} = :l{index}")
        self._conditional_update(
            session_id,
            charge_point_id,
            "SET " + ", ".join(sets),
            names,
            values,
            "attribute_exists(session_id) AND charge_point_id = :cp",
        )

    def stop(self, session_id: str, charge_point_id: str, stop: StopFacts) -> None:
        ended_at = stop.ended_at.isoformat()
        values: dict[str, Any] = {
            ":cp": charge_point_id,
            ":ended": ended_at,
            ":stop": stop.meter_stop_wh,
            ":reason": stop.reason,
            ":tag": stop.id_tag,
            ":new": [_sample_item(s) for s in stop.samples],
            ":empty": [],
        }
        # A repeated identical stop (a retry after a lost reply) passes; a different stop for a
        # session that already ended is refused and kept for an operator.
        self._conditional_update(
            session_id,
            charge_point_id,
            "SET ended_at = :ended, meter_stop_wh = :stop, stop_reason = :reason, stop_id_tag = :tag, "
            "#samples = list_append(if_not_exists(#samples, :empty), :new)",
            {"#samples": "samples"},
            values,
            "attribute_exists(session_id) AND charge_point_id = :cp "
            "AND (attribute_not_exists(ended_at) OR ended_at = :ended)",
        )

    def _conditional_update(
        self,
        session_id: str,
        charge_point_id: str,
        expression: str,
        names: dict[str, str],
        values: dict[str, Any],
        condition: str,
    ) -> None:
        with aws_errors(f"update session {session_id}"):
            try:
                self._table.update_item(
                    Key={"session_id": session_id},
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                existing = self._table.get_item(Key={"session_id": session_id}).get("Item")
                if existing is None:
                    raise SessionNotFound(session_id) from exc
                if existing.get("charge_point_id") != charge_point_id:
                    raise SessionStateConflict(
                        f"session {session_id} belongs to charger {existing.get('charge_point_id')!r}, "
                        f"not {charge_point_id!r}"
                    ) from exc
                raise SessionStateConflict(
                    f"session {session_id} already ended at {existing.get('ended_at')}"
                ) from exc

    def get(self, session_id: str) -> Session:
        with aws_errors(f"read session {session_id}"):
            item = self._table.get_item(Key={"session_id": session_id}).get("Item")
        if item is None:
            raise SessionNotFound(session_id)
        return item_to_session(item)

    def mark_closing(self, session_id: str, energy_wh: Decimal) -> Session:
        """Fix the energy and leave the fleet's active set; repeating it is harmless."""
        with aws_errors(f"close session {session_id}"):
            try:
                result = self._table.update_item(
                    Key={"session_id": session_id},
                    UpdateExpression="SET #status = :closing, energy_wh = :energy REMOVE active_fleet_id",
                    ConditionExpression="attribute_exists(ended_at) AND #status IN (:active, :closing)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":closing": SessionStatus.CLOSING.value,
                        ":active": SessionStatus.ACTIVE.value,
                        ":energy": energy_wh,
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise SessionStateConflict(
                        f"session {session_id} cannot close: it has not ended or is already invoiced"
                    ) from exc
                raise
        return item_to_session(result["Attributes"])

    def mark_invoiced(self, session_id: str, invoice_key: str) -> Session:
        with aws_errors(f"mark session {session_id} invoiced"):
            try:
                result = self._table.update_item(
                    Key={"session_id": session_id},
                    UpdateExpression="SET #status = :invoiced, invoice_key = :key",
                    ConditionExpression="#status IN (:closing, :invoiced)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":invoiced": SessionStatus.INVOICED.value,
                        ":closing": SessionStatus.CLOSING.value,
                        ":key": invoice_key,
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise SessionStateConflict(f"session {session_id} is not closing") from exc
                raise
        return item_to_session(result["Attributes"])

    def active_for_fleet(self, fleet_id: str) -> list[Session]:
        return [
            item_to_session(i)
            for i in self._query(ACTIVE_BY_FLEET_INDEX, Key("active_fleet_id").eq(fleet_id))
        ]

    def for_fleet(self, fleet_id: str) -> list[Session]:
        return [item_to_session(i) for i in self._query(BY_FLEET_STARTED_INDEX, Key("fleet_id").eq(fleet_id))]

    def _query(self, index: str, condition: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition}
        while True:
            with aws_errors(f"query {index}"):
                page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
