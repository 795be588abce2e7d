"""Domain errors: what adapters raise instead of AWS exceptions, and what the domain raises itself."""

from __future__ import annotations


class LaddvaktError(Exception):
    """Base of every error Laddvakt raises on purpose."""


class NotFound(LaddvaktError):
    """A record that should exist does not."""


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"no session {session_id!r}")
        self.session_id = session_id


class SiteNotFound(NotFound):
    def __init__(self, site_id: str) -> None:
        super().__init__(f"no site {site_id!r} in the registry")
        self.site_id = site_id


class VehicleNotFound(NotFound):
    def __init__(self, vehicle_id: str) -> None:
        super().__init__(f"no vehicle {vehicle_id!r}")
        self.vehicle_id = vehicle_id


class PartyNotFound(NotFound):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not in the registry")


class SessionStateConflict(LaddvaktError):
    """A write that would move a session backwards or onto another charger was refused."""


class LateStop(SessionStateConflict):
    """A real stop for a session whose end was already inferred: the invoice needs a correction."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} was closed by inference before this stop arrived")
        self.session_id = session_id


class LateSamples(LaddvaktError):
    """Meter readings for a session already closed for billing: stored, and to be checked
    against the billed energy."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"meter values for {session_id} arrived after it was closed for billing")
        self.session_id = session_id


class NotPriceable(LaddvaktError):
    """A session whose data cannot be priced: held with this reason, never invoiced at 0."""


class StorageUnavailable(LaddvaktError):
    """AWS refused or failed a call that may succeed on retry (throttling, 5xx)."""


class Conflict(LaddvaktError):
    """A change that contradicts what is stored: an id in use elsewhere, a record still referenced."""


class InvalidInput(LaddvaktError):
    """Well-formed values that cannot be accepted here: a reference that does not resolve in the
    caller's fleet, a departure long past. Each problem names its field."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems))
        self.fields = [field for field, _ in problems]


class ScheduleConflict(Conflict):
    """Another recompute stored the site's plan first: read it again and recompute."""
