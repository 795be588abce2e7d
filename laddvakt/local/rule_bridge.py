"""Applies the IoT topic rule to the local broker's traffic: what AWS IoT's rules engine does in
the cloud. The rule's SQL comes from the synthesized template, its target queue too.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import boto3
import paho.mqtt.client as mqtt

from laddvakt.local.deploy import TopicRule
from laddvakt.local.firehose import LocalFirehose
from laddvakt.local.iot_sql import Message, Rule, RuleSqlError, parse

log = logging.getLogger("laddvakt.local.bridge")


class RuleBridge:
    def __init__(
        self,
        rules: list[TopicRule],
        host: str,
        port: int,
        endpoint_url: str,
        region: str,
        firehose: LocalFirehose,
    ) -> None:
        self._firehose = firehose
        self._rules: list[tuple[Rule, TopicRule]] = [(parse(rule.sql), rule) for rule in rules]
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self._ready = threading.Event()
        self.forwarded = 0
        self.failed = 0
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="laddvakt-rule-bridge", protocol=mqtt.MQTTv311
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._ready.set()
        self._client.on_message = self._on_message
        self._host, self._port = host, port

    def start(self) -> None:
        self._client.connect(self._host, self._port, keepalive=60)
        self._client.loop_start()
        if not self._ready.wait(15):
            raise TimeoutError("the rule bridge could not subscribe to the broker")

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        for parsed, _target in self._rules:
            client.subscribe(parsed.topic_filter, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = Message(
            topic=message.topic, payload=bytes(message.payload), timestamp_ms=int(time.time() * 1000)
        )
        for rule, target in self._rules:
            if not rule.matches(message.topic):
                continue
            try:
                document = rule.evaluate(received)
                if document is None:
                    continue
                if target.queue_url is not None:
                    self._sqs.send_message(QueueUrl=target.queue_url, MessageBody=json.dumps(document))
                if target.firehose_stream is not None:
                    self._firehose.put(target.firehose_stream, document)
                self.forwarded += 1
            except (RuleSqlError, Exception):  # the rules engine's error action: logged, never silent
                self.failed += 1
                log.exception("rule %s could not deliver a message on %s", target.name, message.topic)
