"""The rejected-frames table: every inbound frame that deserved a second look, kept with its reason.

Partition `charge_point_id`, sort `received_key` (`{receivedAt ISO}#{sequence}`), so an operator
lists a charger's problems in time order (`laddvakt frames rejected`). Items expire after
`retention_days` through the table's TTL.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.adapters.aws import aws_errors, dynamodb_table
from shared.domain.ports import RejectedFrame


class RejectedFramesTable:
    def __init__(self, table_name: str, *, table: Any = None, retention_days: int = 90) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)
        self._retention = timedelta(days=retention_days)

    def keep(self, frame: RejectedFrame) -> None:
        item = {
            "charge_point_id": frame.charge_point_id,
            # The suffix keeps two problems in the same millisecond apart.
            "received_key": f"{frame.received_at.isoformat()}#{uuid.uuid4().hex[:8]}",
            "received_at": frame.received_at.isoformat(),
            "reason": frame.reason,
            "payload_base64": frame.payload_base64,
            "topic": frame.topic,
            "action": frame.action,
            "expires_at": int((frame.received_at + self._retention).timestamp()),
        }
        with aws_errors(f"keep rejected frame of {frame.charge_point_id}"):
            self._table.put_item(Item=item)

    def for_charger(self, charge_point_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with aws_errors(f"list rejected frames of {charge_point_id}"):
            page = self._table.query(
                KeyConditionExpression=Key("charge_point_id").eq(charge_point_id),
                ScanIndexForward=False,
                Limit=limit,
            )
        return list(page.get("Items", []))

    def all(self, limit: int = 1000) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while len(items) < limit:
            with aws_errors("scan rejected frames"):
                page = self._table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items, key=lambda i: i["received_key"])[:limit]
