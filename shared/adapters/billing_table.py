"""The billing table: the sellers' invoice number series, and the index finance lists invoices by.

| pk                 | sk                                  | what                                           |
|--------------------|-------------------------------------|------------------------------------------------|
| `SELLER#{seller}`  | `COUNTER`                           | `last_number`: the highest number given so far |
| `SELLER#{seller}`  | `DOC#{document}`                    | `number`: the number this document was given   |
| `FLEET#{fleet}`    | `INVOICE#{issue date}#{number}`     | one invoice of the fleet: totals and S3 key    |
| `STATEMENT#{fleet}#{yyyy-mm}` | `DAY#{dd}#{session}`     | a monthly fleet's session: its lines and facts |
| `STATEMENT#{fleet}#{yyyy-mm}` | `PART#{dd}`              | the day's lines summed (the workflow's Map)    |

Numbers: one gapless series per seller, each number given to exactly one document.
A number is only ever taken together with the claim of the document it is for, in one
transaction whose condition is the counter value just read. So a number cannot be taken without
a document (no gap), cannot go to two documents (no reuse), and a retried step that asks again
for the same document gets the number it was given the first time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import NotFound, StorageUnavailable
from shared.models.invoices_index import InvoiceRecord

COUNTER = "COUNTER"
DOCUMENT_PREFIX = "DOC#"
# Contention only comes from invoices of one seller written at the same moment; a few tries do.
_ATTEMPTS = 20


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NumberClaim:
    number: int
    claimed_at: datetime


class BillingTable:
    def __init__(self, table_name: str, *, table: Any = None, clock: Callable[[], datetime] = _now) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)
        self._name = self._table.name
        self._clock = clock

    def claim(self, seller_id: str, document_key: str) -> NumberClaim:
        """The number of this seller's document: the next in the series the first time, the same
        number (and moment, the document's issue time) every time after."""
        for _ in range(_ATTEMPTS):
            given = self.given(seller_id, document_key)
            if given is not None:
                return given
            last = self._last_number(seller_id)
            claimed_at = self._clock()
            if self._take(seller_id, document_key, last, claimed_at):
                return NumberClaim(last + 1, claimed_at)
        raise StorageUnavailable(f"no invoice number for {document_key} after {_ATTEMPTS} tries")

    def given(self, seller_id: str, document_key: str) -> NumberClaim | None:
        with aws_errors(f"read the number of {document_key}"):
            item = self._table.get_item(
                Key={"pk": _seller(seller_id), "sk": DOCUMENT_PREFIX + document_key}, ConsistentRead=True
            ).get("Item")
        if not item:
            return None
        return NumberClaim(int(item["number"]), datetime.fromisoformat(item["claimed_at"]))

    def _last_number(self, seller_id: str) -> int:
        with aws_errors(f"read the invoice counter of {seller_id}"):
            item = self._table.get_item(
                Key={"pk": _seller(seller_id), "sk": COUNTER}, ConsistentRead=True
            ).get("Item")
        return int(item["last_number"]) if item else 0

    def _take(self, seller_id: str, document_key: str, last: int, claimed_at: datetime) -> bool:
        """Number `last + 1` for the document, if nobody took it meanwhile."""
        counter_condition = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if last == 0
            else {"ConditionExpression": "last_number = :last", "ExpressionAttributeValues": {":last": last}}
        )
        items = [
            {"Put": {"TableName": self._name,
                     "Item": {"pk": _seller(seller_id), "sk": COUNTER, "last_number": last + 1},
                     **counter_condition}},
            {"Put": {"TableName": self._name,
                     "Item": {"pk": _seller(seller_id), "sk": DOCUMENT_PREFIX + document_key,
                              "number": last + 1, "claimed_at": claimed_at.isoformat()},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ]  # fmt: skip
        with aws_errors(f"number {document_key}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                    return False  # someone else took the number, or this document got one: look again
                raise
        return True

    def last_number(self, seller_id: str) -> int:
        return self._last_number(seller_id)

    # --- the fleets' invoice index ---------------------------------------------------------------

    def record_invoice(self, record: InvoiceRecord) -> None:
        """List the invoice for its fleet's finance (a repeat writes the same item)."""
        item = record.model_dump(mode="json", exclude_none=True)
        item |= {"pk": _fleet(record.fleet_id), "sk": _invoice_sort_key(record)}
        with aws_errors(f"index invoice {record.invoice_number}"):
            self._table.put_item(Item=item)

    def invoices(
        self,
        fleet_id: str,
        *,
        issued_from: str | None = None,
        issued_to: str | None = None,
        limit: int = 50,
        after: dict[str, str] | None = None,
    ) -> tuple[list[InvoiceRecord], dict[str, str] | None]:
        """A page of the fleet's invoices, oldest first, by issue date (ISO dates, both inclusive);
        the second value is where the next page starts, or None."""
        low = f"{INVOICE_PREFIX}{issued_from or ''}"
        high = f"{INVOICE_PREFIX}{issued_to or '9999-12-31'}#~"
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(_fleet(fleet_id)) & Key("sk").between(low, high),
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = after
        with aws_errors(f"list the invoices of {fleet_id}"):
            page = self._table.query(**kwargs)
        records = [InvoiceRecord.model_validate(_plain(i)) for i in page.get("Items", [])]
        return records, page.get("LastEvaluatedKey")

    def invoice(self, fleet_id: str, invoice_number: str) -> InvoiceRecord:
        """One invoice of the fleet by its number (another fleet's number is not found)."""
        condition = Key("pk").eq(_fleet(fleet_id)) & Key("sk").begins_with(INVOICE_PREFIX)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "FilterExpression": Attr("invoice_number").eq(invoice_number),
        }
        while True:
            with aws_errors(f"read invoice {invoice_number}"):
                page = self._table.query(**kwargs)
            if page.get("Items"):
                return InvoiceRecord.model_validate(_plain(page["Items"][0]))
            if "LastEvaluatedKey" not in page:
                raise InvoiceNotFound(invoice_number)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- monthly statements ----------------------------------------------------------------------

    def record_statement_entry(self, fleet_id: str, month: str, day: int, entry: dict[str, Any]) -> None:
        """A session of a monthly fleet, waiting for its month's statement (a repeat writes the same)."""
        with aws_errors(f"put {entry['session_id']} on the {month} statement"):
            self._table.put_item(
                Item={
                    "pk": _statement(fleet_id, month),
                    "sk": f"DAY#{day:02d}#{entry['session_id']}",
                    "entry": json.dumps(entry, sort_keys=True),
                }
            )

    def statement_entries(self, fleet_id: str, month: str, day: int | None = None) -> list[dict[str, Any]]:
        prefix = "DAY#" if day is None else f"DAY#{day:02d}#"
        return [json.loads(i["entry"]) for i in self._query_all(_statement(fleet_id, month), prefix)]

    def put_statement_part(self, fleet_id: str, month: str, day: int, part: dict[str, Any]) -> None:
        with aws_errors(f"sum day {day} of the {month} statement"):
            self._table.put_item(
                Item={"pk": _statement(fleet_id, month), "sk": f"PART#{day:02d}", "part": json.dumps(part)}
            )

    def statement_parts(self, fleet_id: str, month: str) -> list[dict[str, Any]]:
        return [json.loads(i["part"]) for i in self._query_all(_statement(fleet_id, month), "PART#")]

    def _query_all(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk) & Key("sk").begins_with(prefix)}
        while True:
            with aws_errors(f"read {pk}"):
                page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class InvoiceNotFound(NotFound):
    def __init__(self, invoice_number: str) -> None:
        super().__init__(f"no invoice {invoice_number!r} in this fleet")


INVOICE_PREFIX = "INVOICE#"


def _invoice_sort_key(record: InvoiceRecord) -> str:
    return f"{INVOICE_PREFIX}{record.issue_date.isoformat()}#{record.invoice_number}"


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


def _statement(fleet_id: str, month: str) -> str:
    return f"STATEMENT#{fleet_id}#{month}"


def _fleet(fleet_id: str) -> str:
    return f"FLEET#{fleet_id}"


def _seller(seller_id: str) -> str:
    return f"SELLER#{seller_id}"
