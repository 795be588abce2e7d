"""Lambda's event source mappings, locally.

SQS: long-polls the queue, invokes the function with the exact SQS event Lambda builds, and
deletes only what succeeded (`batchItemFailures`). Messages that keep failing reach the
dead-letter queue through the queue's own redrive policy.

DynamoDB streams: reads the table's stream in order, keeps only the changes the mapping's
filters match, and invokes the function with the event Lambda builds. A batch is retried from
its first failed record (halved each time when the mapping bisects) up to the mapping's retry
attempts; then its place in the stream goes to the on-failure queue and the poller moves on.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

import boto3

from laddvakt.local.deploy import EventSource, Schedule, StreamSource, matches_filter

log = logging.getLogger("laddvakt.local.event_sources")


def sqs_event(messages: list[dict[str, Any]], source: EventSource, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": source.queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class _Poller(ABC):
    """A background thread that reads an event source and invokes a function, as Lambda's
    event source mappings do; `idle` once a poll found nothing and no batch is in hand."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._busy = False
        self._last_empty = 0.0
        self.batches = 0
        self.failed_records = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def idle(self) -> bool:
        """True when the last poll found nothing new and no batch is being processed."""
        return not self._busy and self._last_empty > 0

    @abstractmethod
    def _run(self) -> None:
        """Poll the source until stopped (each kind of source polls its own way)."""


class SqsPoller(_Poller):
    def __init__(self, source: EventSource, endpoint_url: str, region: str) -> None:
        self.source = source
        self._region = region
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self._lambda = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
        super().__init__(f"poller-{source.function_name}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception:
                log.exception("polling %s failed; retrying", self.source.queue_url)
                time.sleep(1)

    def _poll_once(self) -> None:
        response = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(10, self.source.batch_size),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            self._last_empty = time.monotonic()
            return
        self._busy, self._last_empty = True, 0.0
        try:
            self._deliver(messages)
        finally:
            self._busy = False

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.source, self._region)
        result = self._lambda.invoke(
            FunctionName=self.source.function_name, Payload=json.dumps(event).encode()
        )
        payload = json.loads(result["Payload"].read() or b"null")
        self.batches += 1
        if "FunctionError" in result:
            # The whole batch failed: nothing is deleted, SQS makes it visible again.
            self.failed_records += len(messages)
            log.error("%s failed on a batch of %d: %s", self.source.function_name, len(messages), payload)
            return
        failed: set[str] = set()
        if self.source.report_batch_item_failures and isinstance(payload, dict):
            failed = {item["itemIdentifier"] for item in payload.get("batchItemFailures", [])}
        self.failed_records += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()  # a binary attribute, as Lambda's JSON carries it
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} in a stream record")


def stream_record(record: dict[str, Any], source: StreamSource) -> dict[str, Any]:
    """A record from GetRecords as Lambda hands it to the function (epoch times, the stream's ARN)."""
    event: dict[str, Any] = json.loads(json.dumps(record, default=_json_default))
    event["eventSourceARN"] = source.stream_arn
    return event


class StreamPoller(_Poller):
    def __init__(
        self, source: StreamSource, endpoint_url: str, region: str, poll_seconds: float = 0.25
    ) -> None:
        self.source = source
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region)
        self._lambda = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self._filters = [json.loads(f) for f in source.filters]
        self._poll_seconds = poll_seconds
        super().__init__(f"stream-{source.table_name}")
        # The last sequence number done with, per shard: the table is created empty with the
        # stack, so reading from the start is reading from when the mapping was made.
        self._done: dict[str, str] = {}
        self.dead_lettered_batches = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._poll_once():
                    self._stop.wait(self._poll_seconds)
            except Exception:
                log.exception("reading the stream of %s failed; retrying", self.source.table_name)
                time.sleep(1)

    def _iterator(self, shard_id: str) -> str:
        # A fresh iterator each poll, from the last record done with: moto replaces a table's
        # stream when it rolls back a cancelled transaction, and a chained iterator would keep
        # reading the old one.
        done = self._done.get(shard_id)
        position: dict[str, str] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": done}
            if done is not None
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator: str = self._streams.get_shard_iterator(
            StreamArn=self.source.stream_arn, ShardId=shard_id, **position
        )["ShardIterator"]
        return iterator

    def _poll_once(self) -> bool:
        """One read of every shard; True when there were records."""
        shards = self._streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"][
            "Shards"
        ]
        found = False
        for shard in shards:
            shard_id = shard["ShardId"]
            records = self._streams.get_records(ShardIterator=self._iterator(shard_id), Limit=1000)["Records"]
            if not records:
                continue
            found = True
            self._busy, self._last_empty = True, 0.0
            try:
                self._deliver(shard_id, records)
            finally:
                self._busy = False
        if not found:
            self._last_empty = time.monotonic()
        return found

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Every record in order, in batches; `_done` moves past each record dealt with."""
        position, attempts, size = 0, 0, self.source.batch_size
        while position < len(records) and not self._stop.is_set():
            window = [stream_record(r, self.source) for r in records[position : position + size]]
            wanted = [
                r for r in window if not self._filters or any(matches_filter(f, r) for f in self._filters)
            ]
            failed = self._invoke(wanted) if wanted else None
            if failed is None:
                done, attempts, size = len(window), 0, self.source.batch_size
            else:
                first_failed, whole_batch = failed
                sequence = wanted[first_failed]["dynamodb"]["SequenceNumber"]
                done = next(i for i, r in enumerate(window) if r["dynamodb"]["SequenceNumber"] == sequence)
                attempts = 0 if done else attempts + 1
                if done == 0 and 0 <= self.source.retry_attempts < attempts:
                    self._dead_letter(shard_id, window, attempts)
                    done, attempts, size = len(window), 0, self.source.batch_size
                elif done == 0:
                    if whole_batch and self.source.bisect_batch_on_error:
                        size = max(1, len(window) // 2)
                    self._stop.wait(min(0.1 * attempts, 1.0))
            if done:
                self._done[shard_id] = window[done - 1]["dynamodb"]["SequenceNumber"]
                position += done

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[int, bool] | None:
        """None when every record succeeded; else (index of the first failed record, whether the
        whole invocation failed)."""
        result = self._lambda.invoke(
            FunctionName=self.source.function_name, Payload=json.dumps({"Records": records}).encode()
        )
        payload = json.loads(result["Payload"].read() or b"null")
        self.batches += 1
        if "FunctionError" in result:
            self.failed_records += len(records)
            log.error("%s failed on a batch of %d: %s", self.source.function_name, len(records), payload)
            return 0, True
        if not (self.source.report_batch_item_failures and isinstance(payload, dict)):
            return None
        failed = {item["itemIdentifier"] for item in payload.get("batchItemFailures", [])}
        if not failed:
            return None
        self.failed_records += len(failed)
        # Lambda resumes from the first failed record (the lowest sequence number reported)
        return next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed), False

    def _dead_letter(self, shard_id: str, window: list[dict[str, Any]], attempts: int) -> None:
        """What Lambda sends an on-failure destination for a stream batch: where it was, not its records."""
        self.dead_lettered_batches += 1
        log.error(
            "%s gave up on %d change(s) of %s", self.source.function_name, len(window), self.source.table_name
        )
        if self.source.on_failure_queue_url is None:
            return
        first, last = window[0]["dynamodb"], window[-1]["dynamodb"]
        message = {
            "requestContext": {
                "functionArn": self.source.function_name,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(window),
                "streamArn": self.source.stream_arn,
            },
        }
        self._sqs.send_message(
            QueueUrl=self.source.on_failure_queue_url, MessageBody=json.dumps(message, default=str)
        )


class Scheduler:
    """EventBridge's schedule rules, locally: invokes each function at its rate."""

    def __init__(self, schedules: list[Schedule], endpoint_url: str, region: str) -> None:
        self._schedules = schedules
        self._region = region
        self._lambda = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(s,), name=f"schedule-{s.rule}", daemon=True)
            for s in schedules
            if s.every_seconds is not None
        ]
        self.runs = 0

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def fire(self, schedule: Schedule) -> dict[str, Any]:
        """One scheduled invocation now, with the event EventBridge sends."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [f"arn:aws:events:{self._region}:123456789012:rule/{schedule.rule}"],
            "detail": {},
        }
        result = self._lambda.invoke(FunctionName=schedule.function_name, Payload=json.dumps(event).encode())
        self.runs += 1
        payload: dict[str, Any] = json.loads(result["Payload"].read() or b"{}")
        if "FunctionError" in result:
            log.error("scheduled %s failed: %s", schedule.function_name, payload)
        return payload

    def _run(self, schedule: Schedule) -> None:
        while not self._stop.wait(schedule.every_seconds or 0):
            try:
                self.fire(schedule)
            except Exception:
                log.exception("scheduled invocation of %s failed", schedule.function_name)
