"""Answers moto's DynamoDB item reads (Query, Scan, GetItem, BatchGetItem) with a plain JSON
encoder instead of moto's shape-driven response serializer.

moto 5.2 walks the service model for every attribute of every item it returns, about 3 ms per
registry item on the development machine: a status call reading a thousand chargers spent 12 s
there, where DynamoDB answers in milliseconds. A read's result is already DynamoDB JSON once
moto has turned its types into `{type: value}` dicts, so encoding it directly gives the same
document (`tests/unit/test_local_fast_reads.py` compares the two encoders on every value type).
Only the local stack installs this; writes, errors and every other operation keep moto's path.
"""

from __future__ import annotations

import base64
import json
from typing import Any

FAST_OPERATIONS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})
_installed = False


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not a DynamoDB read result value")


def encode_read(result: dict[str, Any]) -> str:
    return json.dumps(result, default=_encode, separators=(",", ":"))


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoResult

    moto_execute = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name not in FAST_OPERATIONS or not isinstance(self.result, dict):
            return moto_execute(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, encode_read(self.result)

    setattr(DynamoResult, "execute_result", execute_result)  # noqa: B010 (mypy: a method is assigned)
    _installed = True
