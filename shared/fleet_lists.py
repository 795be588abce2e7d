"""The fleet's vehicles and sessions as lists, a page at a time. Every read is a query scoped to the
caller's fleet (taken from the verified token), and every page cursor a client sends back is
checked to be one of that fleet's keys for the same listing before it is used.

A vehicle's state comes from the one rule in `shared.domain.vehicle_state`, fed by the fleet's
active sessions (one query of the sparse active index), never by reads per vehicle.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared import cursors
from shared.adapters.registry_table import VEHICLE_PREFIX, RegistryTable
from shared.adapters.sessions_table import SessionListing, SessionsTable
from shared.domain.errors import VehicleNotFound
from shared.domain.vehicle_state import vehicle_state
from shared.models.fleet_lists import (
    DayOrMoment,
    SessionFilters,
    SessionPage,
    SessionSummary,
    VehicleDetail,
    VehiclePage,
    VehicleSummary,
)
from shared.models.registry import Vehicle
from shared.models.registry_api import ChargingNeedsView
from shared.models.sessions import Session, SessionStatus
from shared.settings import FleetApiSettings

_KILO = Decimal(1000)
# A stored start time has millisecond precision: a day's last moment is its next day's first, less 1 ms.
_LAST_MOMENT = timedelta(milliseconds=1)
# A vehicle's active session is among its few newest (an older one still open is one the reaper
# has yet to close, and the car is not in it).
_RECENT_SESSIONS = 10


def _kwh(value: Decimal | None) -> Decimal | None:
    return None if value is None else (value / _KILO).quantize(Decimal("0.001"))


def session_summary(session: Session) -> SessionSummary:
    live = session.ended_at is None
    return SessionSummary(
        session_id=session.session_id,
        status=session.status.value,
        vehicle_id=session.vehicle_id,
        driver_id=session.driver_id,
        charge_point_id=session.charge_point_id,
        connector_id=session.connector_id,
        site_id=session.site_id,
        started_at=session.started_at,
        ended_at=session.ended_at,
        energy_kwh=_kwh(session.energy_so_far_wh) or Decimal(0),
        power_kw=_kwh(session.latest_power_w) if live else None,
        soc_percent=session.latest_soc_percent,
        stop_reason=session.stop_reason,
        end_inferred=session.end_inferred,
    )


def _first_moment(value: DayOrMoment, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _last_moment(value: DayOrMoment, zone: ZoneInfo) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return _first_moment(value, zone)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=zone) - _LAST_MOMENT


def _needs_zone(*values: date | None) -> bool:
    return any(v is not None and (not isinstance(v, datetime) or v.tzinfo is None) for v in values)


class FleetLists:
    def __init__(self, registry: RegistryTable, sessions: SessionsTable) -> None:
        self._registry = registry
        self._sessions = sessions

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> FleetLists:
        return cls(RegistryTable(settings.registry_table), SessionsTable(settings.sessions_table))

    # --- sessions ------------------------------------------------------------------------------

    def sessions(self, fleet_id: str, filters: SessionFilters) -> SessionPage:
        return self._session_page(fleet_id, filters, filters.vehicle_id)

    def vehicle_sessions(self, fleet_id: str, vehicle_id: str, filters: SessionFilters) -> SessionPage:
        self._vehicle(fleet_id, vehicle_id)
        return self._session_page(fleet_id, filters, vehicle_id)

    def _session_page(self, fleet_id: str, filters: SessionFilters, vehicle_id: str | None) -> SessionPage:
        zone = (
            self._zone(fleet_id) if _needs_zone(filters.started_from, filters.started_to) else ZoneInfo("UTC")
        )
        listing = SessionListing(
            fleet_id=fleet_id,
            started_from=_first_moment(filters.started_from, zone),
            started_to=_last_moment(filters.started_to, zone),
            vehicle_id=vehicle_id,
            driver_id=filters.driver_id,
            charge_point_id=filters.charge_point_id,
            statuses=frozenset({SessionStatus(filters.status)}) if filters.status else frozenset(),
        )
        after = _session_cursor(filters.cursor, listing) if filters.cursor else None
        low, high = listing.started_from, listing.started_to
        if low is not None and high is not None and low > high:
            return SessionPage(fleet_id=fleet_id, sessions=[])  # an empty range, once read in the zone
        found, last = self._sessions.page(listing, filters.limit, after)
        return SessionPage(
            fleet_id=fleet_id,
            sessions=[session_summary(s) for s in found],
            next_cursor=cursors.encode(last) if last else None,
        )

    def _zone(self, fleet_id: str) -> ZoneInfo:
        """Where the fleet's days begin: its sites' zone, or UTC when its sites are in several."""
        zones = self._registry.site_time_zones(fleet_id)
        return ZoneInfo(next(iter(zones))) if len(zones) == 1 else ZoneInfo("UTC")

    # --- vehicles ------------------------------------------------------------------------------

    def vehicles(self, fleet_id: str, *, limit: int = 100, cursor: str | None = None) -> VehiclePage:
        after = _vehicle_cursor(cursor, fleet_id) if cursor else None
        vehicles, last = self._registry.vehicles_page(fleet_id, limit, after)
        active = _newest_by_vehicle(self._sessions.active_for_fleet(fleet_id))
        on_page = {v.id: active[v.id] for v in vehicles if v.id in active}
        connectors = self._registry.connector_statuses(
            (s.charge_point_id, s.connector_id) for s in on_page.values()
        )
        return VehiclePage(
            fleet_id=fleet_id,
            vehicles=[_vehicle_summary(v, on_page.get(v.id), connectors) for v in vehicles],
            next_cursor=cursors.encode(last) if last else None,
        )

    def vehicle(self, fleet_id: str, vehicle_id: str) -> VehicleDetail:
        vehicle = self._vehicle(fleet_id, vehicle_id)
        recent = self._sessions.recent_for_vehicle(fleet_id, vehicle_id, _RECENT_SESSIONS)
        session = next((s for s in recent if s.status is SessionStatus.ACTIVE), None)
        connectors = self._registry.connector_statuses(
            [(session.charge_point_id, session.connector_id)] if session else []
        )
        needs = self._registry.charging_needs(vehicle_id)
        if needs is not None and needs.fleet_id != fleet_id:
            needs = None
        target = needs.target_soc_percent if needs and needs.target_soc_percent else None
        summary = _vehicle_summary(vehicle, session, connectors, target)
        return VehicleDetail(
            **summary.model_dump(),
            active_session=session_summary(session) if session else None,
            charging_needs=ChargingNeedsView.of(needs, vehicle) if needs else None,
        )

    def _vehicle(self, fleet_id: str, vehicle_id: str) -> Vehicle:
        vehicle = self._registry.vehicle(vehicle_id)
        if vehicle is None or vehicle.fleet_id != fleet_id:
            # Another fleet's vehicle does not exist as far as this caller can tell.
            raise VehicleNotFound(vehicle_id)
        return vehicle


def _newest_by_vehicle(sessions: Iterable[Session]) -> dict[str, Session]:
    newest: dict[str, Session] = {}
    for session in sorted(sessions, key=lambda s: s.started_at):
        if session.vehicle_id:
            newest[session.vehicle_id] = session
    return newest


def _vehicle_summary(
    vehicle: Vehicle,
    session: Session | None,
    connectors: dict[tuple[str, int], str],
    target_soc_percent: Decimal | None = None,
) -> VehicleSummary:
    state = vehicle_state(
        session,
        target_soc_percent=target_soc_percent or vehicle.default_target_soc_percent,
        connector_status=connectors.get((session.charge_point_id, session.connector_id)) if session else None,
    )
    return VehicleSummary(
        vehicle_id=vehicle.id,
        name=vehicle.name,
        registration=vehicle.registration,
        battery_kwh=vehicle.battery_kwh,
        max_ac_kw=vehicle.max_ac_kw,
        max_dc_kw=vehicle.max_dc_kw,
        default_target_soc_percent=vehicle.default_target_soc_percent,
        usual_departure=vehicle.usual_departure,
        state=state,
        session_id=session.session_id if session else None,
    )


def _session_cursor(cursor: str, listing: SessionListing) -> dict[str, str]:
    """The last key of the page before: a session head of this fleet, in this listing's index
    partition and time range (a cursor for other filters would start a query DynamoDB refuses)."""
    _, partition, _ = listing.index()
    return cursors.decode(cursor, {"session_id", "sk", partition, "started_at"}, listing.owns)


def _vehicle_cursor(cursor: str, fleet_id: str) -> dict[str, str]:
    return cursors.decode(
        cursor,
        {"pk", "sk", "gsi1pk", "gsi1sk"},
        lambda key: (
            key["gsi1pk"] == f"FLEET#{fleet_id}"
            and key["gsi1sk"].startswith(VEHICLE_PREFIX)
            and key["pk"].startswith(VEHICLE_PREFIX)
        ),
    )
