"""moto's DynamoDB streams, made cheap enough for the local stack and the tests.

moto undoes a cancelled transaction by deep-copying each table it touches before every
TransactWriteItems and putting the copy back on failure. With a stream, that copy included every
stream record ever written (each with its old and new image), so each transaction grew slower
with the table's whole history: 3,000 transactions took minutes instead of seconds. Stream
records never change once written, so the copy need only remember how many there were: a
cancelled transaction still takes back its own records (no change that never happened reaches
the stream), and nothing else is copied.

Shard iterators expire in AWS (after 15 minutes); moto keeps every one it ever made, and a
stream poller makes two every poll, several times a second. Only the newest are kept here.
"""

from __future__ import annotations

import copy
from typing import Any

_installed = False
KEPT_SHARD_ITERATORS = 1000


def install() -> None:
    """Once per process; moto's module-level classes are shared by every backend in it."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    def shallow_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        duplicate = copy.copy(self)
        memo[id(self)] = duplicate
        duplicate.table = copy.deepcopy(self.table, memo)
        duplicate.items = list(self.items)  # the records themselves are immutable: shared
        return duplicate

    StreamShard.__deepcopy__ = shallow_deepcopy  # type: ignore[attr-defined]

    def expiring(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = method(self, *args, **kwargs)
            iterators: dict[str, Any] = self.shard_iterators
            for oldest in list(iterators)[: max(0, len(iterators) - KEPT_SHARD_ITERATORS)]:
                del iterators[oldest]
            return result

        return call

    DynamoDBStreamsBackend.get_shard_iterator = expiring(DynamoDBStreamsBackend.get_shard_iterator)  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = expiring(DynamoDBStreamsBackend.get_records)  # type: ignore[method-assign]
    _installed = True
