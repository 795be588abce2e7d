"""The sessions table: each session is a small head item and one item per meter sample.

| session_id (partition)                | sk (sort)               | what                                   |
|---------------------------------------|-------------------------|----------------------------------------|
| `{chargePointId}:{transactionId}`     | `SESSION`               | who, where, when, meter start/stop, status, the latest power/register/SoC |
| `{chargePointId}:{transactionId}`     | `SAMPLE#{UTC time}`     | one meter reading: register (Wh), power (W), SoC (%) |

A MeterValues frame is one `TransactWriteItems` request and no read: it puts the sample items and
updates the head's latest values under a condition that proves the session exists and belongs to
the charger that sent the frame. Items stay small whatever the session's length, so a write costs
the same in the tenth hour as in the first, and no session nears DynamoDB's 400 KB item limit.
A sample older than the head's latest is still stored, but leaves the live values alone, so
frames arriving out of order cannot make the live view go back in time.

GSIs hold head items only: `active_by_fleet` (sparse: only active sessions carry
`active_fleet_id`) answers "what is charging in my fleet now" without touching history;
`by_fleet_started` lists a fleet's sessions by start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import LateStop, SessionNotFound, SessionStateConflict
from shared.domain.ports import StopFacts
from shared.models.registry import TokenGrant
from shared.models.sessions import MeterSample, Session, SessionStatus

ACTIVE_BY_FLEET_INDEX = "active_by_fleet"
BY_FLEET_STARTED_INDEX = "by_fleet_started"
HEAD = "SESSION"
START_MARKER = "START"
SAMPLE_PREFIX = "SAMPLE#"
_TRANSACTION_LIMIT = 100
_SAMPLE_KEYS = {"e": "energy_wh", "p": "power_w", "s": "soc_percent"}


def utc_text(at: datetime) -> str:
    """One fixed format for every stored time, so string order is time order."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def head_key(session_id: str) -> dict[str, str]:
    return {"session_id": session_id, "sk": HEAD}


def sample_item(session_id: str, sample: MeterSample) -> dict[str, Any]:
    # Short attribute names: a session holds hundreds of samples.
    item: dict[str, Any] = {"session_id": session_id, "sk": SAMPLE_PREFIX + utc_text(sample.timestamp)}
    for short, name in _SAMPLE_KEYS.items():
        value = getattr(sample, name)
        if value is not None:
            item[short] = value
    return item


def item_to_sample(item: dict[str, Any]) -> MeterSample:
    at = datetime.fromisoformat(item["sk"].removeprefix(SAMPLE_PREFIX))
    return MeterSample(
        timestamp=at, **{name: item[short] for short, name in _SAMPLE_KEYS.items() if short in item}
    )


def _latest(samples: list[MeterSample]) -> dict[str, Any]:
    """The newest reading of each measurand in this batch: what the fleet view shows live."""
    latest: dict[str, Any] = {}
    for sample in sorted(samples, key=lambda s: s.timestamp):
        latest["latest_sample_at"] = utc_text(sample.timestamp)
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
            item[key] = utc_text(value)
    item["sk"] = HEAD
    item["status"] = session.status.value
    if session.status is SessionStatus.ACTIVE:
        item["active_fleet_id"] = session.fleet_id
    return item


def item_to_session(item: dict[str, Any], samples: list[MeterSample] | None = None) -> Session:
    data = {k: v for k, v in item.items() if k not in {"active_fleet_id", "sk"}}
    data["transaction_id"] = str(item["transaction_id"])
    data["connector_id"] = int(item["connector_id"])
    data["samples"] = samples or []
    return Session.model_validate(data)


def create_like(client: Any, source: str, target: str) -> None:
    """A new, empty sessions table with the live one's keys and indexes (for a replay)."""
    with aws_errors(f"create {target} like {source}"):
        described = client.describe_table(TableName=source)["Table"]
        indexes = [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in described.get("GlobalSecondaryIndexes", [])
        ]
        request: dict[str, Any] = {
            "TableName": target,
            "KeySchema": described["KeySchema"],
            "AttributeDefinitions": described["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        client.create_table(**request)
        client.get_waiter("table_exists").wait(TableName=target)


class SessionsTable:
    def __init__(self, table_name: str, *, table: Any = None) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)
        self._name = self._table.name

    def start(self, session: Session, start_key: str) -> Session:
        """Record a new session once per start: a repeated start (the same `start_key`, e.g. a
        StartTransaction retried after a lost reply) returns the session recorded the first time.
        """
        marker = {
            "session_id": f"START#{start_key}",
            "sk": START_MARKER,
            "started_session_id": session.session_id,
        }
        items = [
            {"Put": {"TableName": self._name, "Item": session_to_item(session),
                     "ConditionExpression": "attribute_not_exists(session_id)"}},
            {"Put": {"TableName": self._name, "Item": marker,
                     "ConditionExpression": "attribute_not_exists(session_id)"}},
        ]  # fmt: skip
        with aws_errors(f"start session {session.session_id}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons[1:2] == ["ConditionalCheckFailed"]:
                    first = self._table.get_item(
                        Key={"session_id": marker["session_id"], "sk": START_MARKER}
                    )["Item"]
                    return self.get(first["started_session_id"], with_samples=False)
                raise SessionStateConflict(f"session {session.session_id} already exists") from exc
        return session

    def add_samples(self, session_id: str, charge_point_id: str, samples: list[MeterSample]) -> None:
        latest = _latest(samples)
        names = {f"#l{i}": attribute for i, attribute in enumerate(latest)}
        values: dict[str, Any] = {f":l{i}": value for i, value in enumerate(latest.values())}
        values[":cp"] = charge_point_id
        values[":newest"] = latest["latest_sample_at"]
        sets = [f"#l{i} = :l{i}" for i in range(len(latest))]
        registers = [s for s in sorted(samples, key=lambda s: s.timestamp) if s.energy_wh is not None]
        if registers:
            # A session that began without a register reading starts from its first one.
            sets.append("meter_start_wh = if_not_exists(meter_start_wh, :first_register)")
            values[":first_register"] = registers[0].energy_wh
        self._write_with_head(
            session_id,
            charge_point_id,
            samples,
            update="SET " + ", ".join(sets),
            names=names,
            values=values,
            condition=(
                "attribute_exists(session_id) AND charge_point_id = :cp AND "
                "(attribute_not_exists(latest_sample_at) OR latest_sample_at <= :newest)"
            ),
            newer_only=True,
        )

    def stop_inferred(self, session_id: str, ended_at: datetime, meter_stop_wh: Decimal, reason: str) -> bool:
        """Close a session no stop came for. False when a real stop won the race."""
        with aws_errors(f"infer the end of {session_id}"):
            try:
                self._table.update_item(
                    Key=head_key(session_id),
                    UpdateExpression=(
                        "SET ended_at = :ended, meter_stop_wh = :stop, end_inferred = :true, "
                        "end_inferred_reason = :reason, stop_reason = :why"
                    ),
                    ConditionExpression="attribute_not_exists(ended_at) AND #status = :active",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":ended": utc_text(ended_at),
                        ":stop": meter_stop_wh,
                        ":true": True,
                        ":reason": reason,
                        ":why": "Inferred",
                        ":active": SessionStatus.ACTIVE.value,
                    },
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def record_late_stop(self, session_id: str, stop: StopFacts) -> None:
        """A real stop after an inferred end: kept, and the invoice marked for correction."""
        with aws_errors(f"record late stop of {session_id}"):
            self._table.update_item(
                Key=head_key(session_id),
                UpdateExpression="SET correction_needed = :true, late_stop_at = :at, late_meter_stop_wh = :stop",
                ExpressionAttributeValues={
                    ":true": True,
                    ":at": utc_text(stop.ended_at),
                    ":stop": stop.meter_stop_wh,
                },
            )

    def stop(self, session_id: str, charge_point_id: str, stop: StopFacts) -> None:
        # A repeated identical stop (a retry after a lost reply) passes; a different stop for a
        # session that already ended is refused and kept for an operator.
        self._write_with_head(
            session_id,
            charge_point_id,
            stop.samples,
            update="SET ended_at = :ended, meter_stop_wh = :stop, stop_reason = :reason, stop_id_tag = :tag",
            names={},
            values={
                ":cp": charge_point_id,
                ":ended": utc_text(stop.ended_at),
                ":stop": stop.meter_stop_wh,
                ":reason": stop.reason,
                ":tag": stop.id_tag,
            },
            condition=(
                "attribute_exists(session_id) AND charge_point_id = :cp "
                "AND (attribute_not_exists(ended_at) OR ended_at = :ended)"
            ),
            newer_only=False,
        )

    def _write_with_head(
        self,
        session_id: str,
        charge_point_id: str,
        samples: list[MeterSample],
        *,
        update: str,
        names: dict[str, str],
        values: dict[str, Any],
        condition: str,
        newer_only: bool,
    ) -> None:
        """One request in the steady state: the head's conditional update and the samples together.

        The resource's own client takes plain Python values (it serializes them itself)."""
        puts = [sample_item(session_id, s) for s in samples]
        head_update: dict[str, Any] = {
            "TableName": self._name,
            "Key": head_key(session_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            head_update["ExpressionAttributeNames"] = names
        first, rest = puts[: _TRANSACTION_LIMIT - 1], puts[_TRANSACTION_LIMIT - 1 :]
        items = [{"Update": head_update}] + [{"Put": {"TableName": self._name, "Item": put}} for put in first]
        with aws_errors(f"update session {session_id}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException" or not _head_refused(exc):
                    raise
                self._explain_refusal(session_id, charge_point_id, newer_only)
                rest = puts  # the head is up to date already: store every sample by itself
            self._put_all(rest)

    def _explain_refusal(self, session_id: str, charge_point_id: str, newer_only: bool) -> None:
        head = self._table.get_item(Key=head_key(session_id)).get("Item")
        if head is None:
            raise SessionNotFound(session_id)
        if head.get("charge_point_id") != charge_point_id:
            raise SessionStateConflict(
                f"session {session_id} belongs to charger {head.get('charge_point_id')!r}, not {charge_point_id!r}"
            )
        if not newer_only:
            if head.get("end_inferred"):
                raise LateStop(session_id)
            raise SessionStateConflict(f"session {session_id} already ended at {head.get('ended_at')}")
        # Otherwise the samples are older than the live values: they are history, not news.

    def _put_all(self, puts: list[dict[str, Any]]) -> None:
        if not puts:
            return
        with self._table.batch_writer(overwrite_by_pkeys=["session_id", "sk"]) as batch:
            for put in puts:
                batch.put_item(Item=put)

    def identify(self, session_id: str, charge_point_id: str, grant: TokenGrant) -> None:
        """Whose session it is, once the driver authorizes after plugging in (2.0.1)."""
        update: dict[str, Any] = {
            ":cp": charge_point_id,
            ":tag": grant.id_tag,
            ":fleet": grant.fleet_id,
            ":driver": grant.driver_id,
            ":vehicle": grant.vehicle_id,
            ":active": SessionStatus.ACTIVE.value,
        }
        with aws_errors(f"identify session {session_id}"):
            try:
                self._table.update_item(
                    Key=head_key(session_id),
                    UpdateExpression=(
                        "SET id_tag = :tag, fleet_id = :fleet, driver_id = :driver, vehicle_id = :vehicle, "
                        "active_fleet_id = :fleet"
                    ),
                    ConditionExpression="charge_point_id = :cp AND #status = :active",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=update,
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise SessionNotFound(session_id) from exc
                raise

    def get(self, session_id: str, *, with_samples: bool = True) -> Session:
        with aws_errors(f"read session {session_id}"):
            item = self._table.get_item(Key=head_key(session_id)).get("Item")
        if item is None:
            raise SessionNotFound(session_id)
        return item_to_session(item, self.samples(session_id) if with_samples else None)

    def samples(self, session_id: str) -> list[MeterSample]:
        condition = Key("session_id").eq(session_id) & Key("sk").begins_with(SAMPLE_PREFIX)
        return [item_to_sample(i) for i in self._query(None, condition)]

    def mark_closing(self, session_id: str, energy_wh: Decimal) -> Session:
        """Fix the energy and leave the fleet's active set; repeating it is harmless."""
        with aws_errors(f"close session {session_id}"):
            try:
                result = self._table.update_item(
                    Key=head_key(session_id),
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

    def mark_held(self, session_id: str, reason: str, resets: list[str]) -> Session:
        """Out of the live view and not invoiced: an operator must look (the reason says why)."""
        with aws_errors(f"hold session {session_id}"):
            result = self._table.update_item(
                Key=head_key(session_id),
                UpdateExpression="SET #status = :held, hold_reason = :reason, register_resets = :resets REMOVE active_fleet_id",
                ConditionExpression="#status IN (:active, :closing, :held)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":held": SessionStatus.HELD.value,
                    ":active": SessionStatus.ACTIVE.value,
                    ":closing": SessionStatus.CLOSING.value,
                    ":reason": reason,
                    ":resets": resets,
                },
                ReturnValues="ALL_NEW",
            )
        return item_to_session(result["Attributes"])

    def release(self, session_id: str, energy_wh: Decimal | None, reason: str) -> Session:
        """An operator's decision on a held session: bill this energy (or the computed one)."""
        with aws_errors(f"release session {session_id}"):
            try:
                result = self._table.update_item(
                    Key=head_key(session_id),
                    UpdateExpression="SET #status = :closing, override_reason = :reason, energy_override_wh = :energy",
                    ConditionExpression="#status = :held",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":closing": SessionStatus.CLOSING.value,
                        ":held": SessionStatus.HELD.value,
                        ":reason": reason,
                        ":energy": energy_wh,
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise SessionStateConflict(f"session {session_id} is not held") from exc
                raise
        return item_to_session(result["Attributes"])

    def held(self) -> list[Session]:
        """Every held session (rare by design, so a filtered scan is fine for an operator)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "FilterExpression": "sk = :head AND #status = :held",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":head": HEAD, ":held": SessionStatus.HELD.value},
        }
        while True:
            with aws_errors("list held sessions"):
                page = self._table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return [item_to_session(i) for i in items]
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_invoiced(self, session_id: str, invoice_key: str) -> Session:
        with aws_errors(f"mark session {session_id} invoiced"):
            try:
                result = self._table.update_item(
                    Key=head_key(session_id),
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

    def _query(self, index: str | None, condition: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        if index is not None:
            kwargs["IndexName"] = index
        while True:
            with aws_errors(f"query {index or 'sessions'}"):
                page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _head_refused(exc: ClientError) -> bool:
    reasons = exc.response.get("CancellationReasons", [])
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
