"""The analytics table: each fleet's daily rollups, and what each session added to them.

| pk           | sk                                 | what                                              |
|--------------|------------------------------------|---------------------------------------------------|
| `FLEET#{f}`  | `DAY#{dim}#{yyyy-mm-dd}#{key}`     | one local day of one fleet, vehicle, driver,       |
|              |                                    | charger or site: counters (shared.domain.rollups)  |
| `FLEET#{f}`  | `MONTH#{dim}#{yyyy-mm}#{key}`      | the month's days summed (no quarter hours; arrivals|
|              |                                    | by weekday and hour), for reports over months      |
| `FLEET#{f}`  | `CONTRIB#{session}#{yyyy-mm-dd}`   | what that session last added to that day, with its |
|              |                                    | correction attempt and a revision number           |

The dimension comes before the date, so a report grouped by vehicle reads only vehicle items: one
Query between `DAY#vehicle#{from}` and `DAY#vehicle#{to}#~`. A report that needs no single days
(sums over the period, months) reads the whole months of its period from the MONTH items and only
the days at its edges from the DAY items: a year of a fleet's 1,000 chargers is 12,000 items, not
365,000. An unknown vehicle or driver is the empty key.

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
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import LaddvaktError, StorageUnavailable
from shared.domain.rollups import Counters, delta, month_counters, month_of

# 5 day items and 1 CONTRIB item per day, and 5 month items per month touched: 12 days (at most
# two months) stay inside DynamoDB's 100 items per transaction.
DAYS_PER_TRANSACTION = 12
_ATTEMPTS = 10
DAY_PREFIX = "DAY#"
MONTH_PREFIX = "MONTH#"
CONTRIB_PREFIX = "CONTRIB#"

# A session's part of one day: (dimension, key) → counters.
DayCounters = Mapping[tuple[str, str], Counters]


class TooManyRollups(LaddvaktError):
    """A report that would read more rollup items than one request may."""


@dataclass(frozen=True)
class RollupRow:
    """One day item (or, with `month`, one month item, `day` its 1st) as read: its dimension,
    key ("" when not known) and counters."""

    day: date
    dimension: str
    key: str
    counters: dict[str, Decimal]
    month: bool = False


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
        months: dict[tuple[date, str, str], Counters] = {}
        touched = 0
        for day, old, new in changes:
            before = old.items if old else {}
            for dimension, key in sorted({*before, *new}):
                added = delta(before.get((dimension, key), {}), new.get((dimension, key), {}))
                if added:
                    transaction.append({"Update": self._add(fleet_id, day_key(dimension, day, key), added)})
                    touched += 1
                    # A transaction may name an item once: the days' changes to a month are summed.
                    month = months.setdefault((month_of(day), dimension, key), {})
                    for name, amount in month_counters(day, added).items():
                        month[name] = month.get(name, Decimal(0)) + amount
            transaction.append({"Put": self._contribution(fleet_id, session_id, day, attempt, old, new)})
        for (month_start, dimension, key), added in sorted(months.items()):
            nonzero = {name: amount for name, amount in added.items() if amount}
            if nonzero:
                transaction.append(
                    {"Update": self._add(fleet_id, month_key(dimension, month_start, key), nonzero)}
                )
        with aws_errors(f"record the rollups of {session_id}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=transaction)
            except ClientError as exc:
                if error_code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                    raise _Raced from exc
                raise
        return touched

    def _add(self, fleet_id: str, sort_key: str, added: Counters) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(added)}
        values = {f":c{i}": amount for i, amount in enumerate(added.values())}
        return {
            "TableName": self._name,
            "Key": {"pk": _fleet(fleet_id), "sk": sort_key},
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
            day_text = item["sk"].removeprefix(prefix)
            if len(day_text) != len("yyyy-mm-dd"):
                continue  # another session whose id starts with this one's and a `#`
            day = date.fromisoformat(day_text)
            stored[day] = _Stored(int(item["attempt"]), int(item["revision"]), items)
        return stored

    # --- reads -----------------------------------------------------------------------------------

    def days(
        self, fleet_id: str, dimension: str, first: date, last: date, *, max_items: int | None = None
    ) -> list[RollupRow]:
        """Every day item of one dimension of the fleet from `first` to `last` (local days, both
        inclusive): one Query, read a page at a time."""
        return self._rows(fleet_id, DAY_PREFIX, dimension, first.isoformat(), last.isoformat(), max_items)

    def period(
        self, fleet_id: str, dimension: str, first: date, last: date, *, max_items: int | None = None
    ) -> list[RollupRow]:
        """The same counters as `days` sums to, read as the month items of the whole months in the
        period and the day items of the days at its edges (at most three Queries)."""
        whole = _whole_months(first, last)
        if not whole:
            return self.days(fleet_id, dimension, first, last, max_items=max_items)
        budget = _Budget(max_items)
        rows = []
        if first < whole[0]:
            rows += self._rows(fleet_id, DAY_PREFIX, dimension, first.isoformat(), _before(whole[0]), budget)
        rows += self._rows(
            fleet_id, MONTH_PREFIX, dimension, f"{whole[0]:%Y-%m}", f"{whole[-1]:%Y-%m}", budget, month=True
        )
        after = _next_month(whole[-1])
        if after <= last:
            rows += self._rows(fleet_id, DAY_PREFIX, dimension, after.isoformat(), last.isoformat(), budget)
        return rows

    def _rows(
        self,
        fleet_id: str,
        prefix: str,
        dimension: str,
        low: str,
        high: str,
        limit: _Budget | int | None,
        *,
        month: bool = False,
    ) -> list[RollupRow]:
        budget = limit if isinstance(limit, _Budget) else _Budget(limit)
        condition = Key("pk").eq(_fleet(fleet_id)) & Key("sk").between(
            f"{prefix}{dimension}#{low}#", f"{prefix}{dimension}#{high}#~"
        )
        rows = []
        for item in self._query(condition):
            budget.spend()
            _, _, when, key = item["sk"].split("#", 3)
            day = date.fromisoformat(f"{when}-01" if month else when)
            counters = {n: Decimal(v) for n, v in item.items() if n not in ("pk", "sk")}
            rows.append(RollupRow(day, dimension, key, counters, month))
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


class _Budget:
    """How many more items a request may read."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit

    def spend(self) -> None:
        if self._left is not None:
            if self._left <= 0:
                raise TooManyRollups("the period holds too many rollup items for one request")
            self._left -= 1


def day_key(dimension: str, day: date, key: str) -> str:
    return f"{DAY_PREFIX}{dimension}#{day.isoformat()}#{key}"


def month_key(dimension: str, month: date, key: str) -> str:
    return f"{MONTH_PREFIX}{dimension}#{month:%Y-%m}#{key}"


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _before(day: date) -> str:
    return (day - timedelta(days=1)).isoformat()


def _whole_months(first: date, last: date) -> list[date]:
    """The 1sts of the months that lie entirely within `first`…`last`."""
    months = []
    month = first if first.day == 1 else _next_month(first)
    while _next_month(month) - timedelta(days=1) <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _fleet(fleet_id: str) -> str:
    return f"FLEET#{fleet_id}"
