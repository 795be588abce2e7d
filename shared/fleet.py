"""What a fleet sees: its vehicles' and chargers' state now, and its sessions. Every query is
scoped to one fleet id, which the caller takes from the verified token and nowhere else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypedDict

from shared.adapters.registry_table import (
    ChargerState,
    ConnectorState,
    FleetInventory,
    RegistryTable,
)
from shared.adapters.sessions_table import SessionsTable
from shared.domain import charger_health, invoicing, rating
from shared.domain import energy as energy_model
from shared.domain.errors import NotPriceable, PartyNotFound, SessionNotFound, SiteNotFound
from shared.domain.tariff_choice import tariff_of
from shared.domain.vehicle_state import vehicle_state
from shared.estimates import SessionEstimates, estimates_for
from shared.models.api import (
    ChargerList,
    ChargerView,
    ConnectorAvailability,
    ConnectorView,
    FaultView,
    FleetStatus,
    MeterPoint,
    SessionAtCharger,
    SessionDetail,
    SiteAvailability,
    StateCounts,
    VehicleCounts,
    VehicleStatus,
)
from shared.models.api import (
    ChargerState as ChargerStateName,
)
from shared.models.ocpi import OcpiInputError
from shared.models.profiles import LiveContext
from shared.models.registry import Charger, Site, Vehicle
from shared.models.sessions import Session
from shared.settings import FleetApiSettings

_KILO = Decimal(1000)
# 1.6 ChargePointStatus and 2.0.1 ConnectorStatus values that mean "in use, not charging".
_OCCUPIED = {"Preparing", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved", "Occupied"}


def _now() -> datetime:
    return datetime.now(UTC)


def _kilo(value: Decimal | None, places: str = "0.001") -> Decimal | None:
    return None if value is None else (value / _KILO).quantize(Decimal(places))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def charger_state(connectors: list[ConnectorState]) -> ChargerStateName:
    # Connector 0 stands for the whole charger in OCPP 1.6.
    if not connectors:
        return "unknown"
    if any(c.status == "Faulted" or c.error_code != "NoError" for c in connectors):
        return "faulted"
    outlets = [c for c in connectors if c.connector_id != 0] or connectors
    if any(c.status == "Charging" for c in outlets):
        return "charging"
    if any(c.status in _OCCUPIED for c in outlets):
        return "occupied"
    if all(c.status == "Unavailable" for c in outlets):
        return "unavailable"
    return "available"


def _state_now(
    connectors: list[ConnectorState],
    state: ChargerState | None,
    now: datetime,
    heartbeat_interval_seconds: int,
) -> tuple[datetime | None, bool, ChargerStateName]:
    """When the charger was last heard from, whether it is online, and the state shown for it."""
    last_seen = _time(state.last_seen_at) if state else None
    online = charger_health.is_online(last_seen, now, heartbeat_interval_seconds)
    # A charger that went silent is "offline" whatever its connectors said last: they may be stale.
    shown: ChargerStateName = "offline" if last_seen is not None and not online else charger_state(connectors)
    return last_seen, online, shown


def _connectors_by_charger(inventory: FleetInventory) -> dict[str, list[ConnectorState]]:
    by_charger: dict[str, list[ConnectorState]] = {}
    for connector in inventory.connectors:
        by_charger.setdefault(connector.charge_point_id, []).append(connector)
    return by_charger


# What a fleet manager must act on: chargers that cannot charge now, or that never reported.
NEEDS_ATTENTION = frozenset({"faulted", "offline", "unavailable", "unknown"})


def _charger_view(
    charger: Charger,
    connectors: list[ConnectorState],
    state: ChargerState | None,
    now: datetime | None = None,
    heartbeat_interval_seconds: int = charger_health.DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
) -> ChargerView:
    last_seen, online, shown = _state_now(connectors, state, now or _now(), heartbeat_interval_seconds)
    return ChargerView(
        charge_point_id=charger.id,
        site_id=charger.site_id,
        state=shown,
        ocpp_version=charger.ocpp_version,
        max_power_kw=charger.max_power_kw,
        connectors=[
            ConnectorView(
                connector_id=c.connector_id,
                status=c.status,
                error_code=c.error_code,
                since=c.at,
                info=c.info,
                vendor_error_code=c.vendor_error_code,
            )
            for c in sorted(connectors, key=lambda c: c.connector_id)
        ],
        online=online,
        last_seen_at=last_seen,
        current_faults=[
            FaultView(
                connector_id=f.connector_id,
                status=f.status,
                error_code=f.error_code,
                vendor_error_code=f.vendor_error_code,
                info=f.info,
                since=f.at,
            )
            for f in charger_health.current_faults(c.event() for c in connectors)
        ],
        last_heartbeat_at=_time(state.last_heartbeat_at) if state else None,
        last_boot_at=_time(state.last_boot_at) if state else None,
        vendor=state.vendor if state else None,
        model=state.model if state else None,
    )


def _charger_views(
    inventory: FleetInventory,
    now: datetime | None = None,
    heartbeat_interval_seconds: int = charger_health.DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
) -> list[ChargerView]:
    by_charger = _connectors_by_charger(inventory)
    return [
        _charger_view(
            c, by_charger.get(c.id, []), inventory.charger_states.get(c.id), now, heartbeat_interval_seconds
        )
        for c in sorted(inventory.chargers, key=lambda c: c.id)
    ]


def _vehicle_status(
    vehicle: Vehicle,
    session: Session | None,
    connector_status: str | None,
    estimates: SessionEstimates | None = None,
) -> VehicleStatus:
    target = vehicle.default_target_soc_percent
    state = vehicle_state(session, target_soc_percent=target, connector_status=connector_status)
    if session is None:
        return VehicleStatus(vehicle_id=vehicle.id, name=vehicle.name, state=state, target_soc_percent=target)
    return VehicleStatus(
        vehicle_id=vehicle.id,
        name=vehicle.name,
        state=state,
        session_id=session.session_id,
        charge_point_id=session.charge_point_id,
        connector_id=session.connector_id,
        power_kw=_kilo(session.latest_power_w),
        energy_kwh=_kilo(session.energy_so_far_wh),
        soc_percent=session.latest_soc_percent,
        since=session.started_at,
        target_soc_percent=target,
        estimated_end_at=estimates.estimated_end_at if estimates else None,
        charge_complete=estimates.charge_complete_view() if estimates else None,
        departure=estimates.departure_view() if estimates else None,
    )


def _session_at_charger(
    session: Session, connector_status: str | None, estimates: SessionEstimates
) -> SessionAtCharger:
    return SessionAtCharger(
        session_id=session.session_id,
        charge_point_id=session.charge_point_id,
        connector_id=session.connector_id,
        driver_id=session.driver_id,
        state=vehicle_state(session, connector_status=connector_status),
        power_kw=_kilo(session.latest_power_w),
        energy_kwh=_kilo(session.energy_so_far_wh),
        soc_percent=session.latest_soc_percent,
        since=session.started_at,
        charge_complete=estimates.charge_complete_view(),
        departure=estimates.departure_view(),
    )


class FleetQueries:
    def __init__(
        self,
        registry: RegistryTable,
        sessions: SessionsTable,
        clock: Callable[[], datetime] = _now,
        heartbeat_interval_seconds: int = charger_health.DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
    ) -> None:
        self._registry = registry
        self._sessions = sessions
        self._clock = clock
        self._heartbeat_interval = heartbeat_interval_seconds

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> FleetQueries:
        return cls(
            RegistryTable(settings.registry_table),
            SessionsTable(settings.sessions_table),
            heartbeat_interval_seconds=settings.heartbeat_interval_seconds,
        )

    def status(self, fleet_id: str, *, include_away: bool = False) -> FleetStatus:
        """The fleet now, read from what is active: the fleet's active sessions (a sparse index
        holding only those) and its chargers' live items. Vehicle records (names, targets,
        battery sizes) come from the registry's per-container cache, so a large fleet's vehicles
        are not re-read on every call."""
        chargers_now = self._registry.fleet_chargers(fleet_id)
        active = self._sessions.active_for_fleet(fleet_id)
        vehicles = self._registry.vehicle_directory(fleet_id)
        connector_status = {(c.charge_point_id, c.connector_id): c.status for c in chargers_now.connectors}
        now = self._clock()
        connectors = {(c.charge_point_id, c.connector_id): c for c in chargers_now.connectors}
        estimates = self._estimates(fleet_id, active, connectors, now)
        at_charger: dict[str, VehicleStatus] = {}
        others: list[SessionAtCharger] = []
        for session in sorted(active, key=lambda s: s.started_at):
            vehicle = vehicles.get(session.vehicle_id or "")
            connector = connector_status.get((session.charge_point_id, session.connector_id))
            if vehicle is None:
                others.append(_session_at_charger(session, connector, estimates[session.session_id]))
            else:
                # A vehicle in two sessions at once (a card reused): the newer one counts.
                at_charger[vehicle.id] = _vehicle_status(
                    vehicle, session, connector, estimates[session.session_id]
                )
        counts = VehicleCounts(away=len(vehicles) - len(at_charger))
        for status in at_charger.values():
            setattr(counts, status.state, getattr(counts, status.state) + 1)
        listed = dict(at_charger)
        if include_away:
            listed.update(
                {v.id: _vehicle_status(v, None, None) for v in vehicles.values() if v.id not in listed}
            )
        by_charger = _connectors_by_charger(chargers_now)
        states = {
            c.id: _state_now(
                by_charger.get(c.id, []), chargers_now.charger_states.get(c.id), now, self._heartbeat_interval
            )[2]
            for c in chargers_now.chargers
        }
        attention = [
            _charger_view(
                c,
                by_charger.get(c.id, []),
                chargers_now.charger_states.get(c.id),
                now,
                self._heartbeat_interval,
            )
            for c in sorted(chargers_now.chargers, key=lambda c: c.id)
            if states[c.id] in NEEDS_ATTENTION
        ]
        return FleetStatus(
            fleet_id=fleet_id,
            generated_at=now,
            counts=StateCounts(
                vehicles=counts,
                chargers=dict(Counter(states.values())),
                active_sessions=len(active),
            ),
            vehicles=[listed[k] for k in sorted(listed)],
            other_sessions=others,
            chargers_needing_attention=attention,
        )

    def _estimates(
        self,
        fleet_id: str,
        active: list[Session],
        connectors: dict[tuple[str, int], ConnectorState],
        now: datetime,
    ) -> dict[str, SessionEstimates]:
        """Both estimates of each active session. What they need beyond the sessions and the cached
        records (profiles, charging needs, the EVs' own needs) is one batched read for them all."""
        if not active:
            return {}
        vehicles = self._registry.vehicle_directory(fleet_id)
        chargers = self._registry.charger_directory(fleet_id)
        sites = {site.id: site for site in self._registry.fleet_sites(fleet_id)}
        context = self._registry.live_context(
            (s.vehicle_id for s in active if s.vehicle_id),
            ((s.charge_point_id, s.connector_id) for s in active if s.ocpp_version == "2.0.1"),
            (s.site_id for s in active),
        )
        return {
            s.session_id: estimates_for(
                s,
                now=now,
                vehicle=vehicles.get(s.vehicle_id or ""),
                charger=chargers.get(s.charge_point_id),
                site=sites.get(s.site_id),
                context=context,
                **_connector_now(connectors.get((s.charge_point_id, s.connector_id))),
            )
            for s in active
        }

    def _session_estimates(self, session: Session) -> SessionEstimates:
        """One session's estimates, from its own readings too (the trend needs them)."""
        placement = self._registry.placement(session.charge_point_id)
        vehicle = self._registry.vehicle(session.vehicle_id) if session.vehicle_id else None
        context: LiveContext = self._registry.live_context(
            [session.vehicle_id] if session.vehicle_id else [],
            [(session.charge_point_id, session.connector_id)] if session.ocpp_version == "2.0.1" else [],
            [session.site_id],
        )
        _, states = self._registry.charger_now(session.charge_point_id)
        connector = next((c for c in states if c.connector_id == session.connector_id), None)
        return estimates_for(
            session,
            now=self._clock(),
            vehicle=vehicle,
            charger=placement.charger if placement else None,
            site=placement.site if placement else None,
            context=context,
            **_connector_now(connector),
            samples=session.samples,
        )

    def availability(self, fleet_id: str, site_id: str) -> SiteAvailability:
        """For a driver waiting at one of the fleet's sites: each connector free now, or when it is
        expected to free up (its session's departure estimate), and the earliest of those."""
        sites = {site.id: site for site in self._registry.fleet_sites(fleet_id)}
        if site_id not in sites:
            raise SiteNotFound(site_id)
        now = self._clock()
        chargers_now = self._registry.fleet_chargers(fleet_id)
        at_site = sorted((c for c in chargers_now.chargers if c.site_id == site_id), key=lambda c: c.id)
        by_charger = _connectors_by_charger(chargers_now)
        active = [s for s in self._sessions.active_for_fleet(fleet_id) if s.site_id == site_id]
        connector_status = {(c.charge_point_id, c.connector_id): c.status for c in chargers_now.connectors}
        estimates = self._estimates(
            fleet_id, active, {(c.charge_point_id, c.connector_id): c for c in chargers_now.connectors}, now
        )
        sessions = {(s.charge_point_id, s.connector_id): s for s in active}
        views = [
            _connector_availability(
                charger,
                connector_id,
                connector_status.get((charger.id, connector_id)),
                _state_now(
                    by_charger.get(charger.id, []),
                    chargers_now.charger_states.get(charger.id),
                    now,
                    self._heartbeat_interval,
                )[1],
                sessions.get((charger.id, connector_id)),
                estimates,
            )
            for charger in at_site
            for connector_id in range(1, charger.connectors + 1)
        ]
        return _site_availability(sites[site_id], now, views)

    def _cost_so_far(self, session: Session) -> tuple[Decimal | None, str | None]:
        """What the session costs up to its latest reading (its end, once ended), VAT included,
        priced by the function that will price its invoice. None when it cannot be priced yet."""
        if session.ended_at is None and session.latest_sample_at is None:
            return None, None
        try:
            site = self._registry.site(session.site_id)
            placement = self._registry.placement(session.charge_point_id)
            tariff = tariff_of(self._registry, session)
            rated = rating.so_far(
                session,
                tariff,
                site,
                self._registry.operator(),
                placement.charger.max_power_kw if placement else Decimal(1000),
                session.ended_at or session.latest_sample_at or session.started_at,
            )
        except (NotPriceable, OcpiInputError, PartyNotFound):
            return None, None
        return invoicing.gross_of(rated.totals.lines), tariff.currency

    def chargers(self, fleet_id: str) -> ChargerList:
        return ChargerList(
            fleet_id=fleet_id,
            chargers=_charger_views(
                self._registry.fleet_chargers(fleet_id), self._clock(), self._heartbeat_interval
            ),
        )

    def session(self, fleet_id: str, session_id: str) -> SessionDetail:
        session = self._sessions.get(session_id)
        if session.fleet_id != fleet_id:
            # Another fleet's session does not exist as far as this caller can tell.
            raise SessionNotFound(session_id)
        delivered = energy_model.delivered_by_moment(
            energy_model.readings_of(
                session.started_at,
                session.meter_start_wh,
                session.samples,
                session.ended_at,
                session.meter_stop_wh,
            )
        )
        cost, currency = self._cost_so_far(session)
        estimates = self._session_estimates(session) if session.ended_at is None else None
        return SessionDetail(
            cost_so_far=cost,
            currency=currency,
            session_id=session.session_id,
            transaction_id=session.transaction_id,
            status=session.status.value,
            charge_point_id=session.charge_point_id,
            connector_id=session.connector_id,
            site_id=session.site_id,
            vehicle_id=session.vehicle_id,
            driver_id=session.driver_id,
            started_at=session.started_at,
            ended_at=session.ended_at,
            energy_kwh=_kilo(session.energy_so_far_wh) or Decimal(0),
            power_kw=_kilo(session.latest_power_w) if session.ended_at is None else None,
            soc_percent=session.latest_soc_percent,
            stop_reason=session.stop_reason,
            invoice_key=session.invoice_key,
            hold_reason=session.hold_reason,
            end_inferred=session.end_inferred,
            end_inferred_reason=session.end_inferred_reason,
            correction_needed=session.correction_needed,
            correction_reason=session.correction_reason,
            charge_complete=estimates.charge_complete_view() if estimates else None,
            departure=estimates.departure_view() if estimates else None,
            seq_gaps=session.seq_gaps,
            offline_events=session.offline_events,
            meter_curve=[
                MeterPoint(
                    at=s.timestamp,
                    energy_kwh=_kilo(delivered[s.timestamp]) if s.energy_wh is not None else None,
                    power_kw=_kilo(s.power_w),
                    soc_percent=s.soc_percent,
                    charging_state=s.charging_state,
                )
                for s in sorted(session.samples, key=lambda s: s.timestamp)
            ],
        )


class _ConnectorNow(TypedDict):
    connector_status: str | None
    connector_status_at: datetime | None


def _connector_now(connector: ConnectorState | None) -> _ConnectorNow:
    """A connector's status and since when, as the estimates take them."""
    if connector is None:
        return {"connector_status": None, "connector_status_at": None}
    return {"connector_status": connector.status, "connector_status_at": _time(connector.at)}


# Statuses in which a connector cannot take a car whoever is (not) plugged in.
_OUT_OF_ORDER = {"Faulted", "Unavailable"}


def _connector_availability(
    charger: Charger,
    connector_id: int,
    status: str | None,
    online: bool,
    session: Session | None,
    estimates: dict[str, SessionEstimates],
) -> ConnectorAvailability:
    base = {"charge_point_id": charger.id, "connector_id": connector_id}
    if session is not None:
        found = estimates[session.session_id]
        departure = found.departure
        return ConnectorAvailability(
            **base,
            state="occupied",
            session_id=session.session_id,
            expected_free_at=departure.p50_at if departure else None,
            expected_free_from=departure.p10_at if departure else None,
            expected_free_by=departure.p90_at if departure else None,
            charge_complete_at=found.charge_complete.at,
        )
    if not online or status is None or status in _OUT_OF_ORDER:
        return ConnectorAvailability(**base, state="out_of_order")
    if status == "Available":
        return ConnectorAvailability(**base, state="free")
    # In use by a session this fleet cannot see (another fleet's driver): when it ends is unknown.
    return ConnectorAvailability(**base, state="occupied")


def _site_availability(
    site: Site, now: datetime, connectors: list[ConnectorAvailability]
) -> SiteAvailability:
    free = sum(c.state == "free" for c in connectors)
    expected = [c for c in connectors if c.expected_free_at is not None]
    first = min(expected, key=lambda c: c.expected_free_at or now, default=None)
    next_at: datetime | None
    from_: datetime | None
    by: datetime | None
    if free:
        next_at, from_, by = now, now, now
    elif first is not None:
        next_at, from_, by = first.expected_free_at, first.expected_free_from, first.expected_free_by
    else:
        next_at = from_ = by = None
    return SiteAvailability(
        site_id=site.id,
        generated_at=now,
        free_now=free,
        next_free_at=next_at,
        next_free_from=from_,
        next_free_by=by,
        connectors=connectors,
    )
