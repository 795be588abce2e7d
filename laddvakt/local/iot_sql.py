"""The part of AWS IoT's rule SQL that Laddvakt's rule uses, evaluated on one MQTT message.

Supported: `SELECT` of `*`, `encode(*, 'base64')`, `topic()`, `topic(n)`, `timestamp()`,
`clientid()`, string and number literals, each with `AS alias`; `FROM 'topic/filter'`; and an
optional `WHERE <item> = <literal>`. Anything else is refused when the rule is parsed, so the
local bridge can never quietly behave differently from AWS.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class RuleSqlError(ValueError):
    pass


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    timestamp_ms: int
    client_id: str = ""


Expression = Callable[[Message], Any]


@dataclass(frozen=True)
class SelectItem:
    expression: Expression
    alias: str | None
    star: bool = False


@dataclass(frozen=True)
class Rule:
    sql: str
    items: tuple[SelectItem, ...]
    topic_filter: str
    where: Callable[[Message], bool] | None = None

    def matches(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def evaluate(self, message: Message) -> dict[str, Any] | None:
        """The document the rule's actions receive, or None when WHERE filters the message out."""
        if self.where is not None and not self.where(message):
            return None
        document: dict[str, Any] = {}
        for item in self.items:
            if item.star:
                payload = _json_object(message)
                if payload is None:
                    raise RuleSqlError("SELECT * with other fields needs a JSON object payload")
                document.update(payload)
            else:
                document[item.alias or "value"] = item.expression(message)
        return document


def topic_matches(topic_filter: str, topic: str) -> bool:
    filter_levels, levels = topic_filter.split("/"), topic.split("/")
    if levels[0].startswith("$") and not filter_levels[0].startswith("$"):
        return False  # wildcards never match reserved topics
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(levels) or (level != "+" and level != levels[i]):
            return False
    return len(levels) == len(filter_levels)


def _json_object(message: Message) -> dict[str, Any] | None:
    try:
        value = json.loads(message.payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


_ITEM = re.compile(
    r"^(?P<expr>.+?)(?:\s+AS\s+(?P<alias>[A-Za-z_][A-Za-z0-9_]*))?$", re.IGNORECASE | re.DOTALL
)
_STATEMENT = re.compile(
    r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+'(?P<topic>[^']+)'(?:\s+WHERE\s+(?P<where>.+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _split_items(select: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in select:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return items


def _expression(text: str) -> Expression:
    text = text.strip()
    if re.fullmatch(r"encode\(\s*\*\s*,\s*'base64'\s*\)", text, re.IGNORECASE):
        return lambda m: base64.b64encode(m.payload).decode()
    if match := re.fullmatch(r"topic\(\s*(\d*)\s*\)", text, re.IGNORECASE):
        if not match.group(1):
            return lambda m: m.topic
        index = int(match.group(1))
        if index < 1:
            raise RuleSqlError("topic(n) counts levels from 1")
        return lambda m: m.topic.split("/")[index - 1] if index <= len(m.topic.split("/")) else None
    if re.fullmatch(r"timestamp\(\s*\)", text, re.IGNORECASE):
        return lambda m: m.timestamp_ms
    if re.fullmatch(r"clientid\(\s*\)", text, re.IGNORECASE):
        return lambda m: m.client_id
    if match := re.fullmatch(r"'([^']*)'", text):
        literal = match.group(1)
        return lambda m: literal
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        number = json.loads(text)
        return lambda m: number
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        return lambda m: (_json_object(m) or {}).get(text)
    raise RuleSqlError(f"the local bridge does not support the rule SQL expression {text!r}")


def parse(sql: str) -> Rule:
    statement = _STATEMENT.match(sql)
    if statement is None:
        raise RuleSqlError(f"not a rule the local bridge understands: {sql!r}")
    items = []
    for raw in _split_items(statement.group("select")):
        if raw == "*":
            items.append(SelectItem(lambda m: None, None, star=True))
            continue
        match = _ITEM.match(raw)
        assert match is not None
        items.append(SelectItem(_expression(match.group("expr")), match.group("alias")))
    where = None
    if statement.group("where"):
        condition = re.fullmatch(r"(.+?)\s*=\s*(.+)", statement.group("where").strip())
        if condition is None:
            raise RuleSqlError(
                f"the local bridge supports only `WHERE a = b`, not {statement.group('where')!r}"
            )
        left, right = _expression(condition.group(1)), _expression(condition.group(2))
        where = lambda m: left(m) == right(m)  # noqa: E731
    return Rule(sql=sql, items=tuple(items), topic_filter=statement.group("topic"), where=where)
