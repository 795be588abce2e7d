"""The billing workflow's RecordVehicleProfile step: one more closed session into its vehicle's
profile (visits for the departure estimate, taper points for the charge-complete estimate), and
its stay into its site's recent stays (the departure estimate's site history).

A retry finds the session in the profile and writes nothing; two sessions of one vehicle closing
at once meet the profile's optimistic lock, and the loser reads again and retries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain.charge_complete import vehicle_class
from shared.domain.errors import Conflict
from shared.domain.vehicle_profile import site_stays_with, with_session
from shared.models.analytics import RollupsRecorded
from shared.models.profiles import ProfileRecorded
from shared.models.sessions import Session
from shared.settings import ProfileSettings

R = TypeVar("R")
# Each attempt re-reads the profile; more than a few writers of one vehicle at once do not happen.
_ATTEMPTS = 5


def _now() -> datetime:
    return datetime.now(UTC)


class ProfileRecorder:
    def __init__(
        self, registry: RegistryTable, sessions: SessionsTable, clock: Callable[[], datetime] = _now
    ) -> None:
        self._registry = registry
        self._sessions = sessions
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: ProfileSettings) -> ProfileRecorder:
        return cls(RegistryTable(settings.registry_table), SessionsTable(settings.sessions_table))

    def record(self, recorded: RollupsRecorded) -> ProfileRecorded:
        session = self._sessions.get(recorded.session_id)
        placement = self._registry.placement(session.charge_point_id)
        site_stays = self._record_stay(session, placement.site.fleet_id if placement else session.fleet_id)
        if session.vehicle_id is None:
            return ProfileRecorded(
                session_id=session.session_id, vehicle_id=None, changed=False, site_stays=site_stays
            )
        connector_kw = placement.charger.connector_power_kw(session.connector_id) if placement else None
        cls = vehicle_class(connector_kw)
        vehicle_id = session.vehicle_id
        profile = _changed_once(
            lambda: self._registry.vehicle_profile(vehicle_id),
            lambda read: with_session(read, session, cls, self._clock()),
            self._registry.put_vehicle_profile,
        )
        if profile is None:
            return ProfileRecorded(
                session_id=session.session_id, vehicle_id=vehicle_id, changed=False, site_stays=site_stays
            )
        return ProfileRecorded(
            session_id=session.session_id,
            vehicle_id=vehicle_id,
            changed=True,
            visits=len(profile.visits),
            taper_sessions=profile.taper_fit_sessions.get(cls, 0),
            site_stays=site_stays,
        )

    def _record_stay(self, session: Session, site_fleet_id: str) -> int:
        """The session's stay into its site's recent stays (those of the site's own fleet's
        sessions: another fleet's drivers' stays are not its data). How many stays the site now
        has; 0 when nothing was written (a retry, another fleet's session)."""
        if session.fleet_id != site_fleet_id:
            return 0
        stays = _changed_once(
            lambda: self._registry.site_stays(session.site_id),
            lambda read: site_stays_with(read, session, self._clock()),
            self._registry.put_site_stays,
        )
        return 0 if stays is None else len(stays.stays)


def _changed_once(
    read: Callable[[], R | None], change: Callable[[R | None], R | None], write: Callable[[R], None]
) -> R | None:
    """Read a versioned record, change it and write it over the version read; a `Conflict` (another
    writer came first) reads again. None when the change found nothing to do (a retry)."""
    for attempt in range(_ATTEMPTS):
        changed = change(read())
        if changed is None:
            return None
        try:
            write(changed)
        except Conflict:
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        return changed
    raise AssertionError("unreachable: the last attempt returns or raises")
