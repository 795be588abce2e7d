"""Page cursors: the last DynamoDB key of a page, handed to the client as an opaque string.

A cursor comes back from the client, so it is untrusted: `decode` accepts it only when `valid`
says the key is one of the caller's own (its fleet in the key), so a crafted cursor can never
start reading another fleet's items.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from shared.domain.errors import LaddvaktError


class BadCursor(LaddvaktError):
    """A page cursor that this API did not hand to this caller."""


def encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True, default=str).encode()).decode()


def decode(cursor: str, fields: set[str], valid: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """The key in `cursor`: exactly `fields`, all non-empty strings, and `valid` for this caller."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if (
        not isinstance(key, dict)
        or set(key) != fields
        or not all(isinstance(v, str) and v for v in key.values())  # DynamoDB keys are never empty
        or not valid(key)
    ):
        raise BadCursor("cursor is not one this API returned for this fleet")
    return key
