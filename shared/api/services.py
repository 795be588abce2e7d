"""What the routes call: one object per concern, built once per container from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.analytics_table import AnalyticsTable
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.adapters.site_schedules import SiteSchedules
from shared.analytics import AnalyticsQueries
from shared.charger_health import ChargerHealthQueries
from shared.finance import FinanceQueries
from shared.fleet import FleetQueries
from shared.fleet_lists import FleetLists
from shared.fleet_schedule import ScheduleQueries
from shared.registry_admin import RegistryAdmin
from shared.settings import FleetApiSettings


@dataclass(frozen=True)
class Services:
    fleet: FleetQueries
    finance: FinanceQueries
    health: ChargerHealthQueries
    analytics: AnalyticsQueries
    registry: RegistryAdmin
    lists: FleetLists
    schedule: ScheduleQueries

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> Services:
        # One registry adapter per container: an admin's write forgets what the readers cached.
        registry = RegistryTable(settings.registry_table)
        sessions = SessionsTable(settings.sessions_table)
        return cls(
            fleet=FleetQueries(
                registry, sessions, heartbeat_interval_seconds=settings.heartbeat_interval_seconds
            ),
            finance=FinanceQueries.from_settings(settings),
            health=ChargerHealthQueries(
                registry, heartbeat_interval_seconds=settings.heartbeat_interval_seconds
            ),
            analytics=AnalyticsQueries(AnalyticsTable(settings.analytics_table), registry),
            registry=RegistryAdmin(registry, sessions),
            lists=FleetLists(registry, sessions),
            schedule=ScheduleQueries(SiteSchedules(settings.registry_table)),
        )
