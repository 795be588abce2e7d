"""The local stack's DynamoDB stream poller behaves like Lambda's stream event source: only the
changes the filters match, in order; a partial failure resumes from the first failed change; a
failing batch is halved and retried, then its place goes to the on-failure queue and the stream
moves on."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.live_events import STREAM_FILTERS
from laddvakt.local.deploy import StreamSource
from laddvakt.local.event_sources import StreamPoller

pytestmark = pytest.mark.unit

ARN = "arn:aws:dynamodb:eu-north-1:123456789012:table/laddvakt-sessions/stream/2026-11-24T00:00:00.000"


def change(seq: int, sk: str = "SESSION") -> dict[str, Any]:
    """A record as GetRecords returns it (boto3 parses the time into a datetime)."""
    return {
        "eventID": f"e{seq}",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-north-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
            "Keys": {"session_id": {"S": "CP-1:7"}, "sk": {"S": sk}},
            "NewImage": {"session_id": {"S": "CP-1:7"}, "sk": {"S": sk}},
            "SequenceNumber": str(seq),
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


class FakeLambda:
    """Answers each invocation with the next scripted answer: "ok", "error" (the function
    failed), or a set of sequence numbers to report as failed."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.batches: list[list[str]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # boto3's names
        records = json.loads(Payload)["Records"]
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in records])
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "error":
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "boom"}')}
        failures = [] if answer == "ok" else [{"itemIdentifier": s} for s in sorted(answer)]
        return {"Payload": io.BytesIO(json.dumps({"batchItemFailures": failures}).encode())}


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # boto3's names
        self.sent.append(json.loads(MessageBody))


def poller(
    fake_lambda: FakeLambda, *, batch_size: int = 100, retries: int = 2
) -> tuple[StreamPoller, FakeSqs]:
    source = StreamSource(
        stream_arn=ARN, table_name="laddvakt-sessions", function_name="laddvakt-publish-events",
        batch_size=batch_size, batching_window_seconds=0, report_batch_item_failures=True,
        bisect_batch_on_error=True, retry_attempts=retries, on_failure_queue_url="http://sqs/dlq",
        filters=(json.dumps(STREAM_FILTERS["sessions"]),),
    )  # fmt: skip
    poller = StreamPoller(source, "http://127.0.0.1:9", "eu-north-1")
    sqs = FakeSqs()
    poller._lambda, poller._sqs, poller._stop.wait = fake_lambda, sqs, lambda _: False  # type: ignore[method-assign]
    return poller, sqs


def test_only_matching_changes_are_delivered_in_order_as_lambda_builds_them():
    fake = FakeLambda()
    stream, _ = poller(fake)
    stream._deliver("shard", [change(1), change(2, "SAMPLE#2026-11-24T07:00"), change(3)])
    assert fake.batches == [["1", "3"]]
    assert stream._done["shard"] == "3", "the filtered-out change is done with too"


def test_a_partial_failure_resumes_from_the_first_failed_change():
    fake = FakeLambda({"2"}, "ok")
    stream, sqs = poller(fake)
    stream._deliver("shard", [change(1), change(2), change(3)])
    assert fake.batches == [["1", "2", "3"], ["2", "3"]]
    assert stream._done["shard"] == "3" and sqs.sent == []


def test_a_failing_batch_is_halved_then_dead_lettered_and_the_stream_moves_on():
    # Given a function that fails every time on the first four changes
    fake = FakeLambda("error", "error", "error", "ok")
    stream, sqs = poller(fake, batch_size=4, retries=2)
    stream._deliver("shard", [change(1), change(2), change(3), change(4), change(5)])
    # Then each retry halves the batch, and after the retries its place goes to the on-failure queue
    assert fake.batches == [["1", "2", "3", "4"], ["1", "2"], ["1"], ["2", "3", "4", "5"]]
    (dead,) = sqs.sent
    assert dead["DDBStreamBatchInfo"]["startSequenceNumber"] == "1"
    assert dead["DDBStreamBatchInfo"]["endSequenceNumber"] == "1"
    assert dead["DDBStreamBatchInfo"]["streamArn"] == ARN
    assert dead["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert stream._done["shard"] == "5"
