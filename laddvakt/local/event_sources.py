"""Lambda's SQS event source mapping, locally: long-polls the queue, invokes the function with the
exact SQS event Lambda builds, and deletes only what succeeded (`batchItemFailures`). Messages
that keep failing reach the dead-letter queue through the queue's own redrive policy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from laddvakt.local.deploy import EventSource, Schedule

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


class SqsPoller:
    def __init__(self, source: EventSource, endpoint_url: str, region: str) -> None:
        self.source = source
        self._region = region
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self._lambda = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{source.function_name}", daemon=True)
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
        """True when the last poll found the queue empty and no batch is being processed."""
        return not self._busy and self._last_empty > 0

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
