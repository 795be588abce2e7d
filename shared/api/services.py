"""What the routes call: one object per concern, built once per container from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from shared.finance import FinanceQueries
from shared.fleet import FleetQueries
from shared.fleet_lists import FleetLists
from shared.settings import FleetApiSettings


@dataclass(frozen=True)
class Services:
    fleet: FleetQueries
    finance: FinanceQueries
    lists: FleetLists

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> Services:
        return cls(
            fleet=FleetQueries.from_settings(settings),
            finance=FinanceQueries.from_settings(settings),
            lists=FleetLists.from_settings(settings),
        )
