"""The sessions and registry tables' change streams: which stored record a stream image is, read
back into the domain's terms. An image of anything else (a meter sample, a charger's metadata, a
start marker) is None; the images arrive as Powertools deserializes them (plain Python values).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.adapters.sessions_table import HEAD, item_to_session
from shared.domain.fleet_events import ConnectorReport
from shared.models.sessions import Session

_CONNECTOR_PREFIX = "CONNECTOR#"
_FLEET_PREFIX = "FLEET#"


def session_head(image: Mapping[str, Any] | None) -> Session | None:
    """The session of a head item's image. A head that no longer reads as a session raises
    (pydantic's ValidationError): that change fails and reaches the dead letters, never skipped."""
    if not image or image.get("sk") != HEAD or "session_id" not in image:
        return None
    return item_to_session(dict(image))


def connector_report(image: Mapping[str, Any] | None) -> ConnectorReport | None:
    """A connector's last status, from its registry item (see shared/adapters/registry_table.py)."""
    if (
        not image
        or image.get("kind") != "connector"
        or not str(image.get("sk", "")).startswith(_CONNECTOR_PREFIX)
    ):
        return None
    fleet = str(image.get("gsi1pk", ""))
    if not fleet.startswith(_FLEET_PREFIX):
        return None  # a connector of a charger in no fleet: nobody to tell
    at = datetime.fromisoformat(str(image["at"]))
    return ConnectorReport(
        fleet_id=fleet.removeprefix(_FLEET_PREFIX),
        charge_point_id=str(image["charge_point_id"]),
        connector_id=int(image["connector_id"]),
        status=str(image["status"]),
        error_code=str(image.get("error_code") or "NoError"),
        at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
        info=image.get("info"),
    )
