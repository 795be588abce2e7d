"""The local bridge applies the IoT rule's SQL exactly as AWS IoT would, or refuses it."""

from __future__ import annotations

import base64
import json

import pytest

from laddvakt.local.iot_sql import Message, RuleSqlError, parse, topic_matches
from shared.topology import INGEST_RULE_SQL

pytestmark = pytest.mark.unit


def message(payload: bytes, topic: str = "LV-STHLM-01/in") -> Message:
    return Message(topic=topic, payload=payload, timestamp_ms=1_763_884_800_123, client_id="sim-1")


def test_the_ingest_rule_carries_a_json_frame_byte_for_byte():
    raw = b'[2, "1", "Heartbeat", {}]'
    document = parse(INGEST_RULE_SQL).evaluate(message(raw))
    assert document == {
        "payload": base64.b64encode(raw).decode(),
        "chargePointId": "LV-STHLM-01",
        "receivedAt": 1_763_884_800_123,
        "direction": "in",
    }


def test_the_ingest_rule_carries_a_payload_that_is_not_json():
    raw = b"\xff\x00{oops"
    document = parse(INGEST_RULE_SQL).evaluate(message(raw))
    assert base64.b64decode(document["payload"]) == raw


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("+/in", "CP1/in", True),
        ("+/in", "CP1/out", False),
        ("+/in", "site/CP1/in", False),
        ("+/in", "$aws/things/in", False),
        ("#", "a/b/c", True),
        ("a/#", "a", True),
        ("a/+/c", "a/b/c", True),
    ],
)
def test_topic_filters(topic_filter, topic, matches):
    assert topic_matches(topic_filter, topic) is matches


def test_select_star_where_and_literals():
    rule = parse(
        "SELECT *, topic(2) AS kind, clientid() AS who, 'v1' AS version FROM 'site/+' WHERE kind = 'meter'"
    )
    assert rule.topic_filter == "site/+"
    assert rule.evaluate(message(json.dumps({"kind": "meter", "w": 5}).encode(), "site/meter")) == {
        "kind": "meter",
        "w": 5,
        "who": "sim-1",
        "version": "v1",
    }
    assert rule.evaluate(message(json.dumps({"kind": "status"}).encode(), "site/status")) is None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT get(*, 0) AS kind FROM '+/in'",
        "SELECT * FROM '+/in' WHERE a > 1",
        "DELETE FROM '+/in'",
        "SELECT topic(0) AS t FROM '+/in'",
    ],
)
def test_sql_the_bridge_cannot_apply_faithfully_is_refused(sql):
    with pytest.raises(RuleSqlError):
        parse(sql)
