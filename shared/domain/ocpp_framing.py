"""OCPP-J framing: bytes from the wire into a Call (or a reason it is not one), and replies back.

Schema checks use the official OCPP JSON schemas shipped in the `ocpp` package. Error codes are
spelled the way each protocol version spells them (1.6 says `FormationViolation` and
`OccurenceConstraintViolation`; 2.0.1 says `FormatViolation` and `OccurrenceConstraintViolation`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from jsonschema.exceptions import ValidationError as SchemaError
from ocpp.messages import get_validator

OcppVersion = Literal["1.6", "2.0.1"]

CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4
MAX_MESSAGE_ID_LENGTH = 36


@dataclass(frozen=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Response:
    """A CallResult or CallError from the charger, answering a command Laddvakt sent."""

    message_type: int
    message_id: str
    payload: Any


@dataclass(frozen=True)
class FrameProblem:
    """A frame that is not a usable Call. `message_id` is set when a CallError can be sent."""

    reason: str
    error_code: str
    message_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


_ERROR_CODES: dict[OcppVersion, dict[str, str]] = {
    "1.6": {
        "format": "FormationViolation",
        "occurrence": "OccurenceConstraintViolation",
    },
    "2.0.1": {
        "format": "FormatViolation",
        "occurrence": "OccurrenceConstraintViolation",
    },
}


def error_code(version: OcppVersion, kind: str) -> str:
    """The version's spelling for `format`/`occurrence`; other codes are the same in both."""
    return _ERROR_CODES[version].get(kind, kind)


def parse_frame(raw: bytes, version: OcppVersion) -> Call | Response | FrameProblem:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return FrameProblem("payload is not UTF-8 text", error_code(version, "format"))
    try:
        message = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return FrameProblem(
            f"payload is not valid JSON: {exc.msg} at {exc.pos}", error_code(version, "format")
        )
    if not isinstance(message, list) or not message:
        return FrameProblem("an OCPP-J frame is a JSON array", error_code(version, "format"))
    message_type = message[0]
    message_id = message[1] if len(message) > 1 and isinstance(message[1], str) else None
    if message_id is not None and not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
        return FrameProblem(
            f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters", error_code(version, "format")
        )
    if message_type == CALL:
        if len(message) != 4 or message_id is None or not isinstance(message[2], str):
            return FrameProblem(
                "a Call is [2, messageId, action, payload]", error_code(version, "format"), message_id
            )
        if not isinstance(message[3], dict):
            return FrameProblem(
                "a Call's payload is a JSON object", error_code(version, "format"), message_id
            )
        return Call(message_id, message[2], message[3])
    if message_type in (CALL_RESULT, CALL_ERROR):
        expected = 3 if message_type == CALL_RESULT else 5
        if len(message) != expected or message_id is None:
            return FrameProblem("malformed CallResult/CallError", error_code(version, "format"), None)
        return Response(message_type, message_id, message[2:])
    return FrameProblem(f"unknown message type {message_type!r}", error_code(version, "format"), message_id)


@cache
def _validator(message_type: int, action: str, version: OcppVersion) -> Any:
    # `parse_float=Decimal` keeps schema multipleOf checks exact for decimals like 21.4.
    return get_validator(message_type, action, version, parse_float=Decimal)


def has_schema(action: str, version: OcppVersion) -> bool:
    try:
        _validator(CALL, action, version)
    except OSError:
        return False
    return True


def schema_problem(
    message_type: int, action: str, payload: dict[str, Any], version: OcppVersion, message_id: str | None
) -> FrameProblem | None:
    """None when the payload matches the official schema, else the CallError to answer with."""
    try:
        _validator(message_type, action, version).validate(_jsonable(payload))
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(payload)"
        reason = f"{action}: {where}: {exc.message}"
        if exc.validator == "required":
            code = error_code(version, "occurrence")
        elif exc.validator == "type":
            code = "TypeConstraintViolation"
        elif exc.validator in ("enum", "maxLength", "minimum", "maximum", "format", "multipleOf"):
            code = "PropertyConstraintViolation"
        else:
            code = error_code(version, "format")
        return FrameProblem(reason, code, message_id, {"path": where})
    return None


def _jsonable(payload: Any) -> Any:
    # Integers parsed as Decimal would fail "type: integer"; round-trip with Decimal floats only.
    return json.loads(json.dumps(payload, default=_decimal_default), parse_float=Decimal)


def _decimal_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    """A command from Laddvakt to a charger."""
    return json.dumps([CALL, message_id, action, payload], default=_decimal_default, separators=(",", ":"))


def call_result(message_id: str, payload: dict[str, Any]) -> str:
    return json.dumps([CALL_RESULT, message_id, payload], default=_decimal_default, separators=(",", ":"))


def call_error(message_id: str, code: str, description: str, details: dict[str, Any] | None = None) -> str:
    # OCPP limits nothing here, but chargers have small buffers: keep the description short.
    return json.dumps(
        [CALL_ERROR, message_id, code, description[:255], details or {}],
        default=_decimal_default,
        separators=(",", ":"),
    )
