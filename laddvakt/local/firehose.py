"""Kinesis Data Firehose with dynamic partitioning, locally: buffers records and writes them to S3
as newline-delimited JSON under the stream's partitioned prefix, as the cloud stream does.

moto's Firehose writes batches without dynamic partitioning, so the local stack does this part
itself. The partition query comes from the template and must be the one `shared.topology`
evaluates here; anything else is refused rather than partitioned differently.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from shared.topology import LEDGER_PARTITION_QUERY, ledger_partition

log = logging.getLogger("laddvakt.local.firehose")
_PARTITION_KEY = re.compile(r"!\{partitionKeyFromQuery:([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class DeliveryStream:
    name: str
    bucket: str
    prefix: str
    partition_query: str | None


class LocalFirehose:
    def __init__(
        self, streams: list[DeliveryStream], endpoint_url: str | None, region: str, flush_seconds: float = 1.0
    ) -> None:
        for stream in streams:
            if stream.partition_query not in (None, LEDGER_PARTITION_QUERY):
                raise ValueError(
                    f"the local Firehose cannot evaluate {stream.name}'s partition query {stream.partition_query!r}"
                )
        self._streams = {s.name: s for s in streams}
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        self._buffer: dict[tuple[str, str], list[bytes]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flush_seconds = flush_seconds
        self._thread = threading.Thread(target=self._run, name="local-firehose", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.flush()

    def put(self, stream_name: str, record: dict[str, Any]) -> None:
        stream = self._streams[stream_name]
        prefix = stream.prefix
        if stream.partition_query is not None:
            keys = ledger_partition(record)
            prefix = _PARTITION_KEY.sub(lambda m: keys[m.group(1)], prefix)
        with self._lock:
            self._buffer[(stream_name, prefix)].append(
                json.dumps(record, separators=(",", ":")).encode() + b"\n"
            )

    def flush(self) -> None:
        with self._lock:
            batches, self._buffer = self._buffer, defaultdict(list)
        for (stream_name, prefix), lines in batches.items():
            stream = self._streams[stream_name]
            now = datetime.now(UTC)
            key = f"{prefix}{stream_name}-1-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
            self._s3.put_object(Bucket=stream.bucket, Key=key, Body=b"".join(lines))
            self.delivered += len(lines)

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
            except Exception:
                log.exception("the local Firehose could not deliver a batch")
