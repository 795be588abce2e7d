"""Invoice numbers: one gapless series per seller, each number given to exactly one document.

| pk                 | sk                  | what                                              |
|--------------------|---------------------|---------------------------------------------------|
| `SELLER#{seller}`  | `COUNTER`           | `last_number`: the highest number given so far    |
| `SELLER#{seller}`  | `DOC#{document}`    | `number`: the number this document was given      |

A number is only ever taken together with the claim of the document it is for, in one
transaction whose condition is the counter value just read. So a number cannot be taken without
a document (no gap), cannot go to two documents (no reuse), and a retried step that asks again
for the same document gets the number it was given the first time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import StorageUnavailable

COUNTER = "COUNTER"
DOCUMENT_PREFIX = "DOC#"
# Contention only comes from invoices of one seller written at the same moment; a few tries do.
_ATTEMPTS = 20


def _now() -> datetime:
    return datetime.now(UTC)


class InvoiceNumbers:
    def __init__(self, table_name: str, *, table: Any = None, clock: Callable[[], datetime] = _now) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)
        self._name = self._table.name
        self._clock = clock

    def claim(self, seller_id: str, document_key: str) -> int:
        """The number of this seller's document: the next in the series the first time, the same
        number every time after."""
        for _ in range(_ATTEMPTS):
            given = self.given(seller_id, document_key)
            if given is not None:
                return given
            last = self._last_number(seller_id)
            if self._take(seller_id, document_key, last):
                return last + 1
        raise StorageUnavailable(f"no invoice number for {document_key} after {_ATTEMPTS} tries")

    def given(self, seller_id: str, document_key: str) -> int | None:
        with aws_errors(f"read the number of {document_key}"):
            item = self._table.get_item(
                Key={"pk": _seller(seller_id), "sk": DOCUMENT_PREFIX + document_key}, ConsistentRead=True
            ).get("Item")
        return int(item["number"]) if item else None

    def _last_number(self, seller_id: str) -> int:
        with aws_errors(f"read the invoice counter of {seller_id}"):
            item = self._table.get_item(
                Key={"pk": _seller(seller_id), "sk": COUNTER}, ConsistentRead=True
            ).get("Item")
        return int(item["last_number"]) if item else 0

    def _take(self, seller_id: str, document_key: str, last: int) -> bool:
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
                              "number": last + 1, "claimed_at": self._clock().isoformat()},
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


def _seller(seller_id: str) -> str:
    return f"SELLER#{seller_id}"
