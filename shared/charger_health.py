"""A charger's health for its fleet: connectors now, online or offline, faults now and in a
period, and uptime over that period (`GET /chargers/{id}`).

Every read is a query of that one charger's partition bounded by the period (never a scan, never
the fleet's items); the rules live in `shared.domain.charger_health`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from shared.adapters.registry_table import RegistryTable
from shared.domain import charger_health
from shared.domain.errors import LaddvaktError, NotFound
from shared.fleet import _charger_view
from shared.models.api import ChargerDetail, FaultHistoryEntry, OutageView
from shared.settings import FleetApiSettings

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)


class BadPeriod(LaddvaktError):
    """A `from`/`to` that is not a date or a date-time with an offset, or a range not allowed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _now() -> datetime:
    return datetime.now(UTC)


def _bound(value: str, field: str, zone: tzinfo, *, end: bool) -> datetime:
    """A date means that day in the site's time zone (`to` includes the whole day); a
    date-time must carry its offset."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), zone).astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise BadPeriod(
            field, f"{value!r} is neither a date (YYYY-MM-DD) nor a date-time with an offset"
        ) from exc
    if moment.tzinfo is None:
        raise BadPeriod(field, f"{value!r} has no UTC offset (add Z or +01:00)")
    return moment.astimezone(UTC)


def period(start: str | None, end: str | None, zone: tzinfo, now: datetime) -> tuple[datetime, datetime]:
    """[from, to) in UTC: `to` defaults to now and is never later than now (the future has no
    uptime yet); `from` defaults to 30 days before `to`; at most 366 days."""
    try:
        until = min(_bound(end, "to", zone, end=True), now) if end else now
        since = _bound(start, "from", zone, end=False) if start else until - DEFAULT_PERIOD
    except OverflowError as exc:
        raise BadPeriod("from", "the period is out of range") from exc
    if since >= until:
        raise BadPeriod("from", "`from` must be before `to` and before now")
    if until - since > MAX_PERIOD:
        raise BadPeriod("from", "the period may be at most 366 days")
    return since, until


class ChargerHealthQueries:
    def __init__(
        self,
        registry: RegistryTable,
        *,
        heartbeat_interval_seconds: int = charger_health.DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._registry = registry
        self._heartbeat_interval = heartbeat_interval_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> ChargerHealthQueries:
        return cls(
            RegistryTable(settings.registry_table),
            heartbeat_interval_seconds=settings.heartbeat_interval_seconds,
        )

    def charger(
        self, fleet_id: str, charge_point_id: str, start: str | None = None, end: str | None = None
    ) -> ChargerDetail:
        placement = self._registry.placement(charge_point_id)
        if placement is None or placement.site.fleet_id != fleet_id:
            # Another fleet's charger does not exist as far as this caller can tell.
            raise NotFound(f"no charger {charge_point_id!r}")
        now = self._clock()
        since, until = period(start, end, ZoneInfo(placement.site.time_zone), now)
        state, connectors = self._registry.charger_now(charge_point_id)
        view = _charger_view(placement.charger, connectors, state, now, self._heartbeat_interval)
        events = self._registry.status_history(charge_point_id, since, until)
        recorded = self._registry.outages(charge_point_id, since, until)
        offline_now = view.last_seen_at is not None and not view.online
        availability = charger_health.uptime(
            events,
            charger_health.offline_periods(recorded, view.last_seen_at, now, self._heartbeat_interval),
            range(1, placement.charger.connectors + 1),
            since,
            until,
        )
        never_heard = view.last_seen_at is None
        return ChargerDetail(
            **view.model_dump(),
            period_from=since,
            period_to=until,
            uptime_percent=None if never_heard else availability.percent,
            downtime_seconds=None
            if never_heard
            else int((availability.total - availability.up).total_seconds()),
            fault_history=[
                FaultHistoryEntry(
                    connector_id=entry.connector_id,
                    status=entry.status,
                    error_code=entry.error_code,
                    vendor_error_code=entry.vendor_error_code,
                    info=entry.info,
                    since=entry.start,
                    until=entry.end,
                    down=entry.down,
                )
                for entry in charger_health.fault_history(events, since, until)
            ],
            outages=[
                *(OutageView(since=o.start, until=o.end) for o in sorted(recorded, key=lambda o: o.start)),
                *(
                    [OutageView(since=view.last_seen_at, until=None)]
                    if offline_now and view.last_seen_at
                    else []
                ),
            ],
        )
