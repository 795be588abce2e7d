"""The analytics table: each fleet's daily rollups, and what each session added to them.

| pk           | sk                                 | what                                              |
|--------------|------------------------------------|---------------------------------------------------|
| `FLEET#{f}`  | `DAY#{dim}#{yyyy-mm-dd}#{key}`     | one local day of one fleet, vehicle, driver,       |
|              |                                    | charger or site: counters (shared.domain.rollups)  |
| `FLEET#{f}`  | `CONTRIB#{session}#{yyyy-mm-dd}`   | what that session last added to that day, with its |
|              |                                    | correction attempt and a revision number           |

The dimension comes before the date, so a report grouped by vehicle reads only vehicle items: one
Query between `DAY#vehicle#{from}` and `DAY#vehicle#{to}#~`. An unknown vehicle or driver is the
empty key.

A session is recorded by adding (new − old) to the day items, and replacing its CONTRIB items, in
one TransactWriteItems conditioned on the CONTRIB revisions just read: a retried step finds its
numbers already there and writes nothing; a corrected session (a higher attempt) replaces its
numbers, days it no longer touches included; an older attempt arriving late changes nothing. A
session of more than `DAYS_PER_TRANSACTION` days (a car left plugged in for weeks) is written in
several such transactions, each as safe on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import StorageUnavailable
from shared.domain.rollups import Counters, delta

# 5 day items and 1 CONTRIB item per day: 14 days stay well inside DynamoDB's 100 items.
DAYS_PER_TRANSACTION = 14
_ATTEMPTS = 10
DAY_PREFIX = "DAY#"
CONTRIB_PREFIX = "CONTRIB#"

# A session's part of one day: (dimension, key) → counters.
DayCounters = Mapping[tuple[str, str], Counters]


@dataclass(frozen=True)
class RollupRow:
    """One day item as read: its local day, dimension, key ("" when not known) and counters."""

    day: date
    dimension: str
    key: str
    counters: dict[str, Decimal]


@dataclass(frozen=True)
class _Stored:
    attempt: int
    revision: int
    items: dict[tuple[str, str], Counters]


class AnalyticsTable:
    def __init__(self, table_name: str, *, table: Any = None) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)
        self._name = self._table.name

    # --- writes ----------------------------------------------------------------------------------

    def record(self, fleet_id: str, session_id: str, attempt: int, days: Mapping[date, DayCounters]) -> int:
        """Make the session's contribution `days` (attempt `attempt`); the number of day items
        changed (0 when it was there already, or a later correction is)."""
        for _ in range(_ATTEMPTS):
            stored = self._contributions(fleet_id, session_id)
            if any(s.attempt > attempt for s in stored.values()):
                return 0  # a correction recorded already: this older attempt is history
            changes = []
            for day in sorted({*stored, *days}):
                new = {k: {n: v for n, v in c.items() if v} for k, c in days.get(day, {}).items()}
                old = stored.get(day)
                if old is not None and old.attempt == attempt and old.items == new:
                    continue
                changes.append((day, old, new))
            if not changes:
                return 0
            try:
                return sum(
                    self._apply(fleet_id, session_id, attempt, changes[i : i + DAYS_PER_TRANSACTION])
                    for i in range(0, len(changes), DAYS_PER_TRANSACTION)
                )
            except _Raced:
                continue  # another run of this session wrote first: read again and redo
        raise StorageUnavailable(f"rollups of {session_id}: still contended after {_ATTEMPTS} tries")

    def _apply(
        self,
        fleet_id: str,
        session_id: str,
        attempt: int,
        changes: list[tuple[date, _Stored | None, dict[tuple[str, str], Counters]]],
    ) -> int:
        transaction: list[dict[str, Any]] = []
        touched = 0
        for day, old, new in changes:
            before = old.items if old else {}
            for dimension, key in sorted({*before, *new}):
                added = delta(before.get((dimension, key), {}), new.get((dimension, key), {}))
                if added:
                    transaction.append({"Update": self._add(fleet_id, day, dimension, key, added)})
                    touched += 1
            transaction.append({"Put": self._contribution(fleet_id, session_id, day, attempt, old, new)})
        with aws_errors(f"record the rollups of {session_id}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=transaction)
            except ClientError as exc:
                if error_code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                    raise _Raced from exc
                raise
        return touched

    def _add(self, fleet_id: str, day: date, dimension: str, key: str, added: Counters) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(added)}
        values = {f":c{i}": amount for i, amount in enumerate(added.values())}
        return {
            "TableName": self._name,
            "Key": {"pk": _fleet(fleet_id), "sk": day_key(dimension, day, key)},
            "UpdateExpression": "ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True)),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _contribution(
        self,
        fleet_id: str,
        session_id: str,
        day: date,
        attempt: int,
        old: _Stored | None,
        new: dict[tuple[str, str], Counters],
    ) -> dict[str, Any]:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(sk)"}
            if old is None
            else {
                "ConditionExpression": "revision = :read",
                "ExpressionAttributeValues": {":read": old.revision},
            }
        )
        items = {f"{d}#{k}": {n: str(v) for n, v in c.items()} for (d, k), c in sorted(new.items())}
        return {
            "TableName": self._name,
            "Item": {
                "pk": _fleet(fleet_id),
                "sk": f"{CONTRIB_PREFIX}{session_id}#{day.isoformat()}",
                "attempt": attempt,
                "revision": (old.revision + 1) if old else 1,
                "items": json.dumps(items, sort_keys=True),
            },
            **condition,
        }

    def _contributions(self, fleet_id: str, session_id: str) -> dict[date, _Stored]:
        prefix = f"{CONTRIB_PREFIX}{session_id}#"
        stored = {}
        for item in self._query(
            Key("pk").eq(_fleet(fleet_id)) & Key("sk").begins_with(prefix), consistent=True
        ):
            items: dict[tuple[str, str], Counters] = {}
            for name, amounts in json.loads(item["items"]).items():
                dimension, key = name.split("#", 1)
                items[(dimension, key)] = {n: Decimal(v) for n, v in amounts.items()}
            day = date.fromisoformat(item["sk"].removeprefix(prefix))
            stored[day] = _Stored(int(item["attempt"]), int(item["revision"]), items)
        return stored

    # --- reads -----------------------------------------------------------------------------------

    def days(self, fleet_id: str, dimension: str, first: date, last: date) -> list[RollupRow]:
        """Every day item of one dimension of the fleet from `first` to `last` (local days, both
        inclusive): one Query, read a page at a time."""
        low = day_key(dimension, first, "")
        high = day_key(dimension, last, "~")
        rows = []
        for item in self._query(Key("pk").eq(_fleet(fleet_id)) & Key("sk").between(low, high)):
            _, _, day, key = item["sk"].split("#", 3)
            counters = {n: Decimal(v) for n, v in item.items() if n not in ("pk", "sk")}
            rows.append(RollupRow(date.fromisoformat(day), dimension, key, counters))
        return rows

    def _query(self, condition: Any, *, consistent: bool = False) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": consistent}
        while True:
            with aws_errors("read the analytics rollups"):
                page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class _Raced(Exception):
    pass


def day_key(dimension: str, day: date, key: str) -> str:
    return f"{DAY_PREFIX}{dimension}#{day.isoformat()}#{key}"


def _fleet(fleet_id: str) -> str:
    return f"FLEET#{fleet_id}"
