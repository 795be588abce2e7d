"""The local fleet event bus's tap: a rule that copies every live fleet event to a queue, so
`laddvakt events tail` and the e2e tests can watch what a fleet app would receive. In AWS a fleet
app makes its own rule (docs/events.md); the template has none, so the local stack adds this one.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from shared.topology import FLEET_EVENT_SOURCE, Names

TAP_PATTERN = {"source": [FLEET_EVENT_SOURCE]}


def tap_name(names: Names) -> str:
    """The local tap's rule and queue (one name for both)."""
    return f"{names.prefix}-fleet-events-tap"


def create_tap(events: Any, sqs: Any, bus_name: str, names: Names) -> str:
    """The tap rule on the bus and its queue; returns the queue's URL."""
    rule = queue = tap_name(names)
    url: str = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=rule,
        EventBusName=bus_name,
        EventPattern=json.dumps(TAP_PATTERN),
        State="ENABLED",
        Description="Local only: every live fleet event, for `laddvakt events tail`",
    )
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "tap", "Arn": arn}])
    return url


def read_tap(
    sqs: Any,
    queue_url: str,
    *,
    fleet_id: str | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[dict[str, Any]]:
    """EventBridge events from the tap as they arrive (of one fleet, or all), each once: what is
    read is deleted, so one reader at a time sees everything."""
    while not stop():
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        for message in messages:
            event: dict[str, Any] = json.loads(message["Body"])
            if fleet_id is None or event.get("detail", {}).get("fleet_id") == fleet_id:
                yield event


_SHOWN = ("session_id", "vehicle_id", "power_kw", "energy_kwh", "charge_point_id", "connector_id",
          "error_code", "stop_reason")  # fmt: skip


def one_line(event: dict[str, Any]) -> str:
    """An event as one readable line: when it happened, what, whose, and the values that matter."""
    detail = event.get("detail", {})
    at = detail.get("occurred_at", "")
    with contextlib.suppress(ValueError):
        at = datetime.fromisoformat(at.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%SZ")
    values = " ".join(f"{k}={detail[k]}" for k in _SHOWN if detail.get(k) is not None)
    return f"{at}  {event.get('detail-type', '?'):<17} {detail.get('fleet_id', '?'):<10} {values}"


def tail(
    sqs: Any,
    queue_url: str,
    *,
    fleet_id: str | None,
    as_json: bool,
    count: int | None,
    idle_seconds: float | None,
    write: Callable[[str], None] = print,
) -> int:
    """Print events until `count` are shown or none came for `idle_seconds` (else until Ctrl-C)."""
    shown = 0
    last = time.monotonic()

    def stop() -> bool:
        quiet = idle_seconds is not None and time.monotonic() - last > idle_seconds
        return quiet or (count is not None and shown >= count)

    for event in read_tap(sqs, queue_url, fleet_id=fleet_id, stop=stop):
        write(json.dumps(event) if as_json else one_line(event))
        shown += 1
        last = time.monotonic()
        if count is not None and shown >= count:
            break
    return shown
