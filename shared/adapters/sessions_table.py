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
`by_fleet_started` lists a fleet's sessions by start; `by_vehicle_started` and
`by_charger_started` list one vehicle's or one charger's sessions by start. Their partition keys
(`fleet_vehicle`, `fleet_charger`) are `{fleet_id}#{id}`: a fleet's listing can only ever read its
own sessions, even of a charger that other fleets' drivers use too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import LateSamples, LateStop, SessionNotFound, SessionStateConflict
from shared.domain.meter import merge_moments
from shared.domain.ports import EventFacts, StopFacts
from shared.models.registry import TokenGrant
from shared.models.sessions import MeterSample, Session, SessionStatus

ACTIVE_BY_FLEET_INDEX = "active_by_fleet"
BY_FLEET_STARTED_INDEX = "by_fleet_started"
BY_VEHICLE_STARTED_INDEX = "by_vehicle_started"
BY_CHARGER_STARTED_INDEX = "by_charger_started"
FLEET_VEHICLE = "fleet_vehicle"
FLEET_CHARGER = "fleet_charger"
HEAD = "SESSION"
START_MARKER = "START"
SAMPLE_PREFIX = "SAMPLE#"
_TRANSACTION_LIMIT = 100
_SAMPLE_KEYS = {
    "e": "energy_wh",
    "p": "power_w",
    "s": "soc_percent",
    "c": "charging_state",
    "t": "time_spent_charging_s",
}
PARKED_PREFIX = "PARKED#"


def utc_text(at: datetime) -> str:
    """One fixed format for every stored time, so string order is time order."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def fleet_scoped(fleet_id: str, thing_id: str) -> str:
    """A listing index's partition key: ids never contain `#` (the registry's id patterns)."""
    return f"{fleet_id}#{thing_id}"


def head_key(session_id: str) -> dict[str, str]:
    return {"session_id": session_id, "sk": HEAD}


def sample_key(session_id: str, at: datetime) -> dict[str, str]:
    return {"session_id": session_id, "sk": SAMPLE_PREFIX + utc_text(at)}


def sample_update(table_name: str, session_id: str, sample: MeterSample) -> dict[str, Any]:
    """An update, not a put: two frames that both speak of one moment (a meter value and a
    charging-state change) merge into one sample whichever arrives first."""
    fields = {short: getattr(sample, name) for short, name in _SAMPLE_KEYS.items()}
    fields = {short: value for short, value in fields.items() if value is not None}
    update: dict[str, Any] = {"TableName": table_name, "Key": sample_key(session_id, sample.timestamp)}
    if fields:
        update["UpdateExpression"] = "SET " + ", ".join(f"#{short} = :{short}" for short in fields)
        update["ExpressionAttributeNames"] = {f"#{short}": short for short in fields}
        update["ExpressionAttributeValues"] = {f":{short}": value for short, value in fields.items()}
    return update


def item_to_sample(item: dict[str, Any]) -> MeterSample:
    at = datetime.fromisoformat(item["sk"].removeprefix(SAMPLE_PREFIX))
    return MeterSample(
        timestamp=at, **{name: item[short] for short, name in _SAMPLE_KEYS.items() if short in item}
    )


# Each live value with the moment it was read: the fleet view shows the newest reading of each
# measurand, whatever order the frames arrive in.
_LIVE = {
    "energy_wh": ("latest_register_wh", "latest_register_at"),
    "power_w": ("latest_power_w", "latest_power_at"),
    "soc_percent": ("latest_soc_percent", "latest_soc_at"),
    "charging_state": ("latest_charging_state", "latest_charging_state_at"),
}


def _live_values(samples: list[MeterSample]) -> list[_Extreme]:
    """The newest reading of each measurand in this batch, each kept only if newer than the head's."""
    newest: dict[str, _Extreme] = {}
    for sample in sorted(samples, key=lambda s: s.timestamp):
        at = utc_text(sample.timestamp)
        newest["sample"] = _Extreme({"latest_sample_at": at}, "latest_sample_at", "greatest")
        for field_name, (attribute, at_attribute) in _LIVE.items():
            value = getattr(sample, field_name)
            if value is not None:
                newest[field_name] = _Extreme({attribute: value, at_attribute: at}, at_attribute, "greatest")
    return list(newest.values())


def session_to_item(session: Session) -> dict[str, Any]:
    item = session.model_dump(mode="python", exclude={"samples"}, exclude_none=True)
    for key, value in list(item.items()):
        if isinstance(value, datetime):
            item[key] = utc_text(value)
    item["sk"] = HEAD
    item["status"] = session.status.value
    if not session.seq_nos:
        item.pop("seq_nos", None)  # DynamoDB has no empty sets
    if session.status is SessionStatus.ACTIVE:
        item["active_fleet_id"] = session.fleet_id
    item[FLEET_CHARGER] = fleet_scoped(session.fleet_id, session.charge_point_id)
    if session.vehicle_id:
        item[FLEET_VEHICLE] = fleet_scoped(session.fleet_id, session.vehicle_id)
    return item


_INDEX_ONLY = {"active_fleet_id", FLEET_VEHICLE, FLEET_CHARGER, "sk"}


def item_to_session(item: dict[str, Any], samples: list[MeterSample] | None = None) -> Session:
    data = {k: v for k, v in item.items() if k not in _INDEX_ONLY}
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

    def add_samples(
        self,
        session_id: str,
        charge_point_id: str,
        samples: list[MeterSample],
        event: EventFacts | None = None,
    ) -> None:
        samples = merge_moments(samples)
        merge = _MergeFacts.of(samples, event)
        if not samples:
            self._merge_only(session_id, charge_point_id, merge)
            return
        newest = utc_text(max(s.timestamp for s in samples))
        sets, values = merge.in_order()
        values |= {":cp": charge_point_id, ":newest": newest, ":active": SessionStatus.ACTIVE.value}
        self._write_with_head(
            session_id,
            charge_point_id,
            samples,
            update=_expression(sets, merge.adds),
            names={"#status": "status"},
            values=values,
            # Only an active session takes news in one request; anything else is looked at.
            condition=(
                "attribute_exists(session_id) AND charge_point_id = :cp AND #status = :active AND "
                "(attribute_not_exists(latest_sample_at) OR latest_sample_at <= :newest)"
            ),
            older=merge,
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

    def record_correction(self, session_id: str, reason: str) -> None:
        """The billed energy no longer matches the evidence: billing must credit and reissue."""
        with aws_errors(f"record a correction of {session_id}"):
            self._table.update_item(
                Key=head_key(session_id),
                UpdateExpression="SET correction_needed = :true, correction_reason = :reason",
                ExpressionAttributeValues={":true": True, ":reason": reason},
            )

    def stop(
        self, session_id: str, charge_point_id: str, stop: StopFacts, event: EventFacts | None = None
    ) -> None:
        # A repeated identical stop (a retry after a lost reply) passes; a different stop for a
        # session that already ended is refused and kept for an operator.
        samples = merge_moments(stop.samples)
        merge = _MergeFacts.of([], event)
        merged_sets, merged_values = merge.in_order()
        sets = ["ended_at = :ended", "stop_reason = :reason", "stop_id_tag = :tag", *merged_sets]
        values: dict[str, Any] = {
            ":cp": charge_point_id,
            ":ended": utc_text(stop.ended_at),
            ":reason": stop.reason,
            ":tag": stop.id_tag,
        } | merged_values
        if stop.meter_stop_wh is not None:
            sets.append("meter_stop_wh = :stop")
            values[":stop"] = stop.meter_stop_wh
        self._write_with_head(
            session_id,
            charge_point_id,
            samples,
            update=_expression(sets, merge.adds),
            names={},
            values=values,
            condition=(
                "attribute_exists(session_id) AND charge_point_id = :cp "
                "AND (attribute_not_exists(ended_at) OR ended_at = :ended)"
            ),
            older=None,
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
        older: _MergeFacts | None,
    ) -> None:
        """One request in the steady state: the head's conditional update and the samples together.

        `older` is what still merges into the head when the samples turn out to be older than
        its live values (they arrived out of order); None means such a write is a conflict.
        The resource's own client takes plain Python values (it serializes them itself)."""
        updates = [sample_update(self._name, session_id, s) for s in samples]
        head_update: dict[str, Any] = {
            "TableName": self._name,
            "Key": head_key(session_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            head_update["ExpressionAttributeNames"] = names
        first, rest = updates[: _TRANSACTION_LIMIT - 1], updates[_TRANSACTION_LIMIT - 1 :]
        items = [{"Update": head_update}] + [{"Update": u} for u in first]
        with aws_errors(f"update session {session_id}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException" or not _head_refused(exc):
                    raise
                try:
                    head = self._explain_refusal(session_id, charge_point_id, older is not None)
                except LateStop:
                    self._update_all(updates)  # the late stop's own readings: the correction's evidence
                    raise
                # Older samples are history, not news: they are stored and merge what merges.
                rest = updates
                if older is not None:
                    self._merge_only(session_id, charge_point_id, older)
                if head.get("status") != SessionStatus.ACTIVE.value:
                    self._update_all(rest)
                    raise LateSamples(session_id) from exc
            self._update_all(rest)

    def _update_all(self, updates: list[dict[str, Any]]) -> None:
        for update in updates:
            self._table.meta.client.update_item(**update)

    def _merge_only(self, session_id: str, charge_point_id: str, merge: _MergeFacts) -> None:
        """The facts that merge in any order, for events that bring no news to the live view."""
        with aws_errors(f"update session {session_id}"):
            try:
                if merge.sets or merge.adds:
                    self._table.update_item(
                        Key=head_key(session_id),
                        UpdateExpression=_expression(merge.sets, merge.adds),
                        ConditionExpression="attribute_exists(session_id) AND charge_point_id = :cp",
                        ExpressionAttributeValues=merge.values | {":cp": charge_point_id},
                    )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                self._explain_refusal(session_id, charge_point_id, newer_only=True)
            for extreme in merge.extremes:
                try:
                    self._table.update_item(**extreme.guarded_update(session_id, charge_point_id))
                except ClientError as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise  # else the head already holds a better value

    def _explain_refusal(self, session_id: str, charge_point_id: str, newer_only: bool) -> dict[str, Any]:
        """Why a conditional head write was refused: raises when it is an error, else returns the head."""
        head: dict[str, Any] | None = self._table.get_item(Key=head_key(session_id), ConsistentRead=True).get(
            "Item"
        )
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
        return head

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
        # The listing indexes' keys move with the session to its new fleet and vehicle; an index
        # key is never NULL, so a session without a vehicle leaves the vehicle index.
        sets = "SET id_tag = :tag, fleet_id = :fleet, driver_id = :driver, vehicle_id = :vehicle, "
        sets += f"active_fleet_id = :fleet, {FLEET_CHARGER} = :by_charger"
        update[":by_charger"] = fleet_scoped(str(grant.fleet_id), charge_point_id)
        if grant.vehicle_id:
            sets += f", {FLEET_VEHICLE} = :by_vehicle"
            update[":by_vehicle"] = fleet_scoped(str(grant.fleet_id), grant.vehicle_id)
        else:
            sets += f" REMOVE {FLEET_VEHICLE}"
        with aws_errors(f"identify session {session_id}"):
            try:
                self._table.update_item(
                    Key=head_key(session_id),
                    UpdateExpression=sets,
                    ConditionExpression="charge_point_id = :cp AND #status = :active",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=update,
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                self._explain_refusal(session_id, charge_point_id, newer_only=True)
                raise SessionStateConflict(
                    f"session {session_id} is no longer active: {grant.id_tag!r} cannot be given it"
                ) from exc

    # --- 2.0.1 events that arrive before their transaction's Started ---------------------------

    def park(self, session_id: str, charge_point_id: str, seq_no: int, payload: dict[str, Any]) -> None:
        """Keep an event for a transaction not yet started; `Started` applies it when it comes."""
        with aws_errors(f"park an event of {session_id}"):
            self._table.put_item(
                Item={
                    "session_id": session_id,
                    "sk": f"{PARKED_PREFIX}{seq_no:010d}",
                    "charge_point_id": charge_point_id,
                    "payload": json.dumps(payload, sort_keys=True),
                }
            )

    def parked(self, session_id: str) -> list[dict[str, Any]]:
        """The parked events of a session, in seqNo order."""
        condition = Key("session_id").eq(session_id) & Key("sk").begins_with(PARKED_PREFIX)
        return [json.loads(i["payload"]) for i in self._query(None, condition, consistent=True)]

    def unpark(self, session_id: str, seq_no: int) -> None:
        with aws_errors(f"unpark an event of {session_id}"):
            self._table.delete_item(Key={"session_id": session_id, "sk": f"{PARKED_PREFIX}{seq_no:010d}"})

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

    def reopen_for_correction(self, session_id: str, reason: str, energy_wh: Decimal | None) -> Session:
        """An invoiced session back to billing, to be credited and invoiced again: with a late
        real stop if one came, and an operator's energy if given. Refused unless invoiced."""
        session = self.get(session_id, with_samples=False)
        if session.status is not SessionStatus.INVOICED or session.invoice_key is None:
            raise SessionStateConflict(f"session {session_id} is {session.status.value}, not invoiced")
        sets = [
            "#status = :closing",
            "correction_attempt = :next",
            "credit_invoice_key = :invoice",
            "correction_reason = :reason",
            "correction_needed = :false",
        ]
        values: dict[str, Any] = {
            ":closing": SessionStatus.CLOSING.value,
            ":invoiced": SessionStatus.INVOICED.value,
            ":seen": session.correction_attempt,
            ":next": session.correction_attempt + 1,
            ":invoice": session.invoice_key,
            ":reason": reason,
            ":false": False,
        }
        if session.late_stop_at is not None and session.late_meter_stop_wh is not None:
            # The real stop replaces the inferred end.
            sets += ["ended_at = :late_at", "meter_stop_wh = :late_stop", "end_inferred = :false"]
            values |= {":late_at": utc_text(session.late_stop_at), ":late_stop": session.late_meter_stop_wh}
        if energy_wh is not None:
            sets += ["energy_override_wh = :energy", "override_reason = :reason"]
            values[":energy"] = energy_wh
        with aws_errors(f"reopen {session_id} for correction"):
            try:
                result = self._table.update_item(
                    Key=head_key(session_id),
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression=(
                        "#status = :invoiced AND "
                        "(attribute_not_exists(correction_attempt) OR correction_attempt = :seen)"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise SessionStateConflict(f"session {session_id} changed meanwhile; try again") from exc
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

    def mark_invoiced(self, session_id: str, invoice_key: str, statement_month: str | None = None) -> Session:
        """Invoiced (the key of its invoice), or for a monthly fleet on its month's statement (the
        key of its sealed CDR). Repeating it is harmless."""
        done = SessionStatus.ON_STATEMENT if statement_month else SessionStatus.INVOICED
        with aws_errors(f"mark session {session_id} {done.value}"):
            try:
                result = self._table.update_item(
                    Key=head_key(session_id),
                    UpdateExpression="SET #status = :done, invoice_key = :key"
                    + (", statement_month = :month" if statement_month else ""),
                    ConditionExpression="#status IN (:closing, :done)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":done": done.value,
                        ":closing": SessionStatus.CLOSING.value,
                        ":key": invoice_key,
                        **({":month": statement_month} if statement_month else {}),
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

    def add_listing_keys(self) -> int:
        """Give session heads written before the vehicle and charger indexes their keys (a one-off
        scan for an operator after deploying them); returns how many heads it changed. Repeating
        it is harmless, and a head whose fleet changed meanwhile is left to the write that did it."""
        kwargs: dict[str, Any] = {
            "FilterExpression": Attr("sk").eq(HEAD) & Attr("fleet_id").exists(),
            "ProjectionExpression": "session_id, fleet_id, vehicle_id, charge_point_id, #fc, #fv",
            "ExpressionAttributeNames": {"#fc": FLEET_CHARGER, "#fv": FLEET_VEHICLE},
        }
        changed = 0
        while True:
            with aws_errors("scan session heads"):
                page = self._table.scan(**kwargs)
            for head in page.get("Items", []):
                changed += self._add_listing_keys(head)
            if "LastEvaluatedKey" not in page:
                return changed
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _add_listing_keys(self, head: dict[str, Any]) -> int:
        fleet_id, vehicle_id, charger = head["fleet_id"], head.get("vehicle_id"), head.get("charge_point_id")
        if not fleet_id or not charger:
            return 0
        keys = {FLEET_CHARGER: fleet_scoped(fleet_id, charger)}
        if vehicle_id:
            keys[FLEET_VEHICLE] = fleet_scoped(fleet_id, vehicle_id)
        if all(head.get(name) == value for name, value in keys.items()):
            return 0
        with aws_errors(f"index session {head['session_id']}"):
            try:
                self._table.update_item(
                    Key=head_key(head["session_id"]),
                    UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in keys),
                    ConditionExpression="fleet_id = :fleet",
                    ExpressionAttributeValues={f":{name}": value for name, value in keys.items()}
                    | {":fleet": fleet_id},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return 0
        return 1

    def recent_for_vehicle(self, fleet_id: str, vehicle_id: str, count: int) -> list[Session]:
        """A vehicle's `count` newest sessions, newest first (one read)."""
        with aws_errors(f"read the recent sessions of {vehicle_id}"):
            page = self._table.query(
                IndexName=BY_VEHICLE_STARTED_INDEX,
                KeyConditionExpression=Key(FLEET_VEHICLE).eq(fleet_scoped(fleet_id, vehicle_id)),
                ScanIndexForward=False,
                Limit=count,
            )
        return [item_to_session(i) for i in page.get("Items", [])]

    def page(
        self, listing: SessionListing, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[Session], dict[str, str] | None]:
        """Up to `limit` of the listing's sessions, newest start first, and the key to go on from
        (None at the end). DynamoDB applies `Limit` before the filter, so a read may bring fewer
        matches than asked, or none: read on until `limit` or the end. The key returned is the
        last returned session's, so the next page starts right after it; only when the read
        budget runs out first is it the last key read (everything between was filtered out)."""
        index, partition, value = listing.index()
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": listing.key_condition(),
            "ScanIndexForward": False,
            # Unfiltered, a read of `limit` items is the page; filtered, read more at a time.
            "Limit": limit if listing.filter_expression() is None else max(limit, _FILTERED_READ),
        }
        if listing.filter_expression() is not None:
            kwargs["FilterExpression"] = listing.filter_expression()
        if after is not None:
            kwargs["ExclusiveStartKey"] = after
        found: list[dict[str, Any]] = []
        last_read: dict[str, str] | None = None
        for _ in range(_PAGE_READS):
            with aws_errors(f"list sessions of {value}"):
                page = self._table.query(**kwargs)
            items = page.get("Items", [])
            last_read = page.get("LastEvaluatedKey")
            for position, item in enumerate(items):
                found.append(item)
                if len(found) == limit:
                    more = position < len(items) - 1 or last_read is not None
                    key = {name: str(item[name]) for name in ("session_id", "sk", partition, "started_at")}
                    return [item_to_session(i) for i in found], key if more else None
            if last_read is None:
                break
            kwargs["ExclusiveStartKey"] = last_read
        return [item_to_session(i) for i in found], last_read

    def _query(self, index: str | None, condition: Any, *, consistent: bool = False) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        if consistent:
            kwargs["ConsistentRead"] = True
        if index is not None:
            kwargs["IndexName"] = index
        while True:
            with aws_errors(f"query {index or 'sessions'}"):
                page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# A filtered listing reads this many index items at a time, and at most this many times per page:
# a page stays well inside API Gateway's time limit however rare the matches are.
_FILTERED_READ = 200
_PAGE_READS = 10


@dataclass(frozen=True)
class SessionListing:
    """Which of a fleet's sessions to list: started within [`started_from`, `started_to`] (both
    inclusive, either open), of one vehicle, driver or charger, in some statuses. The most
    selective index answers; the other filters are a FilterExpression on it."""

    fleet_id: str
    started_from: datetime | None = None
    started_to: datetime | None = None
    vehicle_id: str | None = None
    driver_id: str | None = None
    charge_point_id: str | None = None
    statuses: frozenset[SessionStatus] = frozenset()

    def index(self) -> tuple[str, str, str]:
        """The index, its partition attribute, and the partition this listing reads."""
        if self.vehicle_id is not None:
            return BY_VEHICLE_STARTED_INDEX, FLEET_VEHICLE, fleet_scoped(self.fleet_id, self.vehicle_id)
        if self.charge_point_id is not None:
            return BY_CHARGER_STARTED_INDEX, FLEET_CHARGER, fleet_scoped(self.fleet_id, self.charge_point_id)
        return BY_FLEET_STARTED_INDEX, "fleet_id", self.fleet_id

    def bounds(self) -> tuple[str | None, str | None]:
        return (
            utc_text(self.started_from) if self.started_from else None,
            utc_text(self.started_to) if self.started_to else None,
        )

    def key_condition(self) -> Any:
        _, partition, value = self.index()
        condition = Key(partition).eq(value)
        low, high = self.bounds()
        if low is not None and high is not None:
            return condition & Key("started_at").between(low, high)
        if low is not None:
            return condition & Key("started_at").gte(low)
        if high is not None:
            return condition & Key("started_at").lte(high)
        return condition

    def filter_expression(self) -> Any:
        index, _, _ = self.index()
        conditions = []
        if self.charge_point_id is not None and index != BY_CHARGER_STARTED_INDEX:
            conditions.append(Attr("charge_point_id").eq(self.charge_point_id))
        if self.driver_id is not None:
            conditions.append(Attr("driver_id").eq(self.driver_id))
        if self.statuses:
            conditions.append(Attr("status").is_in(sorted(s.value for s in self.statuses)))
        if not conditions:
            return None
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = combined & condition
        return combined

    def owns(self, key: dict[str, str]) -> bool:
        """A key this listing can go on from: a session head in its partition and time range.
        Page keys come back from clients, so this is what keeps a crafted one in its fleet."""
        _, partition, value = self.index()
        low, high = self.bounds()
        started = key.get("started_at", "")
        return (
            set(key) == {"session_id", "sk", partition, "started_at"}
            and key[partition] == value
            and key["sk"] == HEAD
            and (low is None or started >= low)
            and (high is None or started <= high)
        )


@dataclass(frozen=True)
class _Extreme:
    """Attributes set together that keep the smallest (or largest) `guard` whatever the arrival order."""

    values: dict[str, Any]
    guard: str
    keep: Literal["least", "greatest"]

    def in_order(self) -> list[str]:
        # Arriving in time order, the first value is the least and the newest the greatest.
        if self.keep == "least":
            return [f"{name} = if_not_exists({name}, :x_{name})" for name in self.values]
        return [f"{name} = :x_{name}" for name in self.values]

    def placeholders(self) -> dict[str, Any]:
        return {f":x_{name}": value for name, value in self.values.items()}

    def guarded_update(self, session_id: str, charge_point_id: str) -> dict[str, Any]:
        better = "<" if self.keep == "greatest" else ">"
        return {
            "Key": head_key(session_id),
            "UpdateExpression": "SET " + ", ".join(f"{name} = :x_{name}" for name in self.values),
            "ConditionExpression": (
                f"charge_point_id = :cp AND (attribute_not_exists({self.guard}) OR "
                f"{self.guard} {better} :x_{self.guard})"
            ),
            "ExpressionAttributeValues": self.placeholders() | {":cp": charge_point_id},
        }


@dataclass(frozen=True)
class _MergeFacts:
    """The parts of a head update that give the same result in any order (sets of seqNos, flags,
    extremes), so they still apply when an event's samples arrive late."""

    adds: list[str]
    sets: list[str]
    values: dict[str, Any]
    extremes: list[_Extreme]

    @classmethod
    def of(cls, samples: list[MeterSample], event: EventFacts | None) -> _MergeFacts:
        adds: list[str] = []
        sets: list[str] = []
        values: dict[str, Any] = {}
        extremes: list[_Extreme] = []
        if event is not None:
            adds.append("seq_nos :seq")
            values[":seq"] = {event.seq_no}
            if event.offline:
                sets.append("offline_events = :offline")
                values[":offline"] = True
        extremes += _live_values(samples)
        registers = sorted((s for s in samples if s.energy_wh is not None), key=lambda s: s.timestamp)
        if registers:
            # The live view's baseline when the start had no reading.
            first = {
                "first_register_at": utc_text(registers[0].timestamp),
                "first_register_wh": registers[0].energy_wh,
            }
            extremes.append(_Extreme(first, "first_register_at", "least"))
        return cls(adds, sets, values, extremes)

    def in_order(self) -> tuple[list[str], dict[str, Any]]:
        """SET clauses and values for an update that arrives in time order."""
        sets = list(self.sets)
        values = dict(self.values)
        for extreme in self.extremes:
            sets += extreme.in_order()
            values |= extreme.placeholders()
        return sets, values


def _expression(sets: list[str], adds: list[str]) -> str:
    parts = []
    if sets:
        parts.append("SET " + ", ".join(sets))
    if adds:
        parts.append("ADD " + ", ".join(adds))
    return " ".join(parts)


def _head_refused(exc: ClientError) -> bool:
    reasons = exc.response.get("CancellationReasons", [])
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
