"""A fleet admin's changes to the registry through the API: its sites, chargers, vehicles, drivers
and tokens, and a fleet manager's charging needs for a vehicle.

Every method takes the caller's fleet id (from the verified token) and touches nothing else:
another fleet's record is "not found" to a read or a delete, and its id is "in use" to a create.
References must resolve inside the caller's fleet, and a record still referred to is not deleted.
Prices are the operator's: nothing here sets a tariff, and a replace keeps the operator's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from shared import cursors
from shared.adapters.registry_table import RecordKind, RegistryTable, record_prefix
from shared.adapters.sessions_table import SessionsTable
from shared.domain.errors import Conflict, InvalidInput, NotFound
from shared.models.registry import ChargingNeeds, Driver, Site, Token, Vehicle
from shared.models.registry_api import (
    ChargerInput,
    ChargerRegistration,
    ChargingNeedsInput,
    ChargingNeedsView,
    DriverInput,
    DriverList,
    DriverRegistration,
    RegisteredAddress,
    SiteInput,
    SiteList,
    SiteRegistration,
    TokenInput,
    TokenList,
    TokenRegistration,
    VehicleInput,
    VehicleRegistration,
)
from shared.settings import FleetApiSettings

View = TypeVar("View")
# Charging needs are for the next departure: one already past cannot be planned for (a minute's
# grace for clocks that differ), and a year ahead is a typo.
NEEDS_CLOCK_GRACE = timedelta(minutes=1)
NEEDS_NOT_AFTER = timedelta(days=366)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Saved(Generic[View]):
    """A create-or-replace: the stored view, and whether it was created."""

    view: View
    created: bool


class RegistryAdmin:
    def __init__(
        self, registry: RegistryTable, sessions: SessionsTable, clock: Callable[[], datetime] = _now
    ) -> None:
        self._registry = registry
        self._sessions = sessions
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> RegistryAdmin:
        return cls(RegistryTable(settings.registry_table), SessionsTable(settings.sessions_table))

    # --- sites ---------------------------------------------------------------------------------

    def sites(self, fleet_id: str, *, limit: int, cursor: str | None = None) -> SiteList:
        records, after = self._page(fleet_id, "site", limit, cursor)
        return SiteList(
            fleet_id=fleet_id,
            sites=[_site_view(Site.model_validate(r)) for r in records],
            next_cursor=cursors.encode(after) if after else None,
        )

    def site(self, fleet_id: str, site_id: str) -> SiteRegistration:
        return _site_view(Site.model_validate(self._own(fleet_id, "site", site_id)))

    def put_site(self, fleet_id: str, site_id: str, body: SiteInput) -> Saved[SiteRegistration]:
        fields = body.model_dump(mode="json")
        previous = self._registry.save("site", site_id, fleet_id, fields)
        # The operator's price stays as it was (the write left it alone), so the view shows it too.
        site = Site.model_validate({**(previous or {}), **fields, "id": site_id, "fleet_id": fleet_id})
        return Saved(_site_view(site), created=previous is None)

    def delete_site(self, fleet_id: str, site_id: str) -> None:
        self._own(fleet_id, "site", site_id)
        chargers = self._registry.naming(fleet_id, "charger", "site_id", site_id)
        if chargers:
            raise Conflict(f"site {site_id!r} still has chargers: {', '.join(chargers)}")
        self._registry.remove("site", site_id, fleet_id)

    # --- chargers ------------------------------------------------------------------------------

    def put_charger(
        self, fleet_id: str, charge_point_id: str, body: ChargerInput
    ) -> Saved[ChargerRegistration]:
        site = self._registry.record("site", body.site_id)
        if site is None or site.get("fleet_id") != fleet_id:
            raise InvalidInput(("site_id", f"no site {body.site_id!r} in this fleet"))
        previous = self._registry.save("charger", charge_point_id, fleet_id, body.model_dump(mode="json"))
        return Saved(ChargerRegistration(id=charge_point_id, **body.model_dump()), created=previous is None)

    def delete_charger(self, fleet_id: str, charge_point_id: str) -> None:
        self._own(fleet_id, "charger", charge_point_id)
        # Only the fleet's active sessions are read (a sparse index), never its history.
        active = [
            s.session_id
            for s in self._sessions.active_for_fleet(fleet_id)
            if s.charge_point_id == charge_point_id
        ]
        if active:
            raise Conflict(f"charger {charge_point_id!r} has an active session: {', '.join(sorted(active))}")
        self._registry.remove("charger", charge_point_id, fleet_id)

    # --- vehicles ------------------------------------------------------------------------------

    def put_vehicle(self, fleet_id: str, vehicle_id: str, body: VehicleInput) -> Saved[VehicleRegistration]:
        previous = self._registry.save("vehicle", vehicle_id, fleet_id, body.model_dump(mode="json"))
        return Saved(VehicleRegistration(id=vehicle_id, **body.model_dump()), created=previous is None)

    def delete_vehicle(self, fleet_id: str, vehicle_id: str) -> None:
        self._own(fleet_id, "vehicle", vehicle_id)
        self._not_named_by_tokens(fleet_id, "vehicle", vehicle_id)
        self._registry.remove("vehicle", vehicle_id, fleet_id)

    def put_charging_needs(
        self, fleet_id: str, vehicle_id: str, body: ChargingNeedsInput
    ) -> Saved[ChargingNeedsView]:
        vehicle = Vehicle.model_validate(self._own(fleet_id, "vehicle", vehicle_id))
        now = self._clock()
        if body.departure_at < now - NEEDS_CLOCK_GRACE:
            raise InvalidInput(
                (
                    "departure_at",
                    f"{body.departure_at.isoformat()} is in the past (now {now.isoformat(timespec='seconds')})",
                )
            )
        if body.departure_at > now + NEEDS_NOT_AFTER:
            raise InvalidInput(("departure_at", "more than a year ahead"))
        self._target_not_below_soc(fleet_id, vehicle_id, body)
        needs = ChargingNeeds(
            vehicle_id=vehicle_id,
            fleet_id=fleet_id,
            departure_at=body.departure_at.astimezone(UTC),
            target_soc_percent=body.target_soc_percent,
            target_energy_kwh=body.target_energy_kwh,
            updated_at=now,
        )
        created = self._registry.put_charging_needs(needs)
        return Saved(ChargingNeedsView.of(needs, vehicle), created=created)

    def _target_not_below_soc(self, fleet_id: str, vehicle_id: str, body: ChargingNeedsInput) -> None:
        """A target SoC under what the plugged-in vehicle already holds asks for nothing to charge:
        refused, not silently stored as "done"."""
        if body.target_soc_percent is None:
            return
        for session in self._sessions.active_for_fleet(fleet_id):
            soc = session.latest_soc_percent
            if session.vehicle_id == vehicle_id and soc is not None and body.target_soc_percent < soc:
                raise InvalidInput(
                    (
                        "target_soc_percent",
                        f"{body.target_soc_percent}% is below the vehicle's SoC now ({soc}% in session "
                        f"{session.session_id})",
                    )
                )

    def delete_charging_needs(self, fleet_id: str, vehicle_id: str) -> None:
        self._registry.remove_charging_needs(vehicle_id, fleet_id)

    # --- drivers -------------------------------------------------------------------------------

    def drivers(self, fleet_id: str, *, limit: int, cursor: str | None = None) -> DriverList:
        records, after = self._page(fleet_id, "driver", limit, cursor)
        return DriverList(
            fleet_id=fleet_id,
            drivers=[_driver_view(Driver.model_validate(r)) for r in records],
            next_cursor=cursors.encode(after) if after else None,
        )

    def driver(self, fleet_id: str, driver_id: str) -> DriverRegistration:
        return _driver_view(Driver.model_validate(self._own(fleet_id, "driver", driver_id)))

    def put_driver(self, fleet_id: str, driver_id: str, body: DriverInput) -> Saved[DriverRegistration]:
        previous = self._registry.save("driver", driver_id, fleet_id, body.model_dump(mode="json"))
        return Saved(DriverRegistration(id=driver_id, **body.model_dump()), created=previous is None)

    def delete_driver(self, fleet_id: str, driver_id: str) -> None:
        self._own(fleet_id, "driver", driver_id)
        self._not_named_by_tokens(fleet_id, "driver", driver_id)
        self._registry.remove("driver", driver_id, fleet_id)

    # --- tokens --------------------------------------------------------------------------------

    def tokens(self, fleet_id: str, *, limit: int, cursor: str | None = None) -> TokenList:
        records, after = self._page(fleet_id, "token", limit, cursor)
        return TokenList(
            fleet_id=fleet_id,
            tokens=[_token_view(Token.model_validate(r)) for r in records],
            next_cursor=cursors.encode(after) if after else None,
        )

    def token(self, fleet_id: str, id_tag: str) -> TokenRegistration:
        return _token_view(Token.model_validate(self._own(fleet_id, "token", id_tag)))

    def put_token(self, fleet_id: str, id_tag: str, body: TokenInput) -> Saved[TokenRegistration]:
        references: list[tuple[str, RecordKind, str | None]] = [
            ("vehicle_id", "vehicle", body.vehicle_id),
            ("driver_id", "driver", body.driver_id),
        ]
        problems = [
            (field, f"no {kind} {value!r} in this fleet")
            for field, kind, value in references
            if value is not None and not self._owns(fleet_id, kind, value)
        ]
        if problems:
            raise InvalidInput(*problems)
        previous = self._registry.save("token", id_tag, fleet_id, body.model_dump(mode="json"))
        return Saved(TokenRegistration(id_tag=id_tag, **body.model_dump()), created=previous is None)

    def delete_token(self, fleet_id: str, id_tag: str) -> None:
        self._registry.remove("token", id_tag, fleet_id)

    # --- shared --------------------------------------------------------------------------------

    def _own(self, fleet_id: str, kind: RecordKind, record_id: str) -> dict[str, Any]:
        """The caller's record; another fleet's is answered exactly like a missing one."""
        record = self._registry.record(kind, record_id)
        if record is None or record.get("fleet_id") != fleet_id:
            raise NotFound(f"no {kind} {record_id!r} in this fleet")
        if kind == "charger":
            record.pop("fleet_id")
        return record

    def _owns(self, fleet_id: str, kind: RecordKind, record_id: str) -> bool:
        record = self._registry.record(kind, record_id)
        return record is not None and record.get("fleet_id") == fleet_id

    def _not_named_by_tokens(self, fleet_id: str, kind: RecordKind, record_id: str) -> None:
        tokens = self._registry.naming(fleet_id, "token", f"{kind}_id", record_id)
        if tokens:
            raise Conflict(f"{kind} {record_id!r} is named by token(s) {', '.join(tokens)}")

    def _page(
        self, fleet_id: str, kind: RecordKind, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        prefix = record_prefix(kind)

        def ours(key: dict[str, str]) -> bool:
            # A record's index key is its own key: FLEET#{caller} / {KIND}#{id}, sort key META.
            return (
                key["gsi1pk"] == f"FLEET#{fleet_id}"
                and key["gsi1sk"].startswith(prefix)
                and key["pk"] == key["gsi1sk"]
                and key["sk"] == "META"
            )

        after = cursors.decode(cursor, {"pk", "sk", "gsi1pk", "gsi1sk"}, ours) if cursor else None
        return self._registry.fleet_records(fleet_id, kind, limit=limit, after=after)


def _site_view(site: Site) -> SiteRegistration:
    return SiteRegistration(
        id=site.id,
        name=site.name,
        time_zone=site.time_zone,
        address=RegisteredAddress(**site.address.model_dump()),
        grid_limit_kw=site.grid_limit_kw,
        priced=site.priced,
    )


def _driver_view(driver: Driver) -> DriverRegistration:
    return DriverRegistration(id=driver.id, name=driver.name, email=driver.email)


def _token_view(token: Token) -> TokenRegistration:
    return TokenRegistration(
        id_tag=token.id_tag, driver_id=token.driver_id, vehicle_id=token.vehicle_id, status=token.status
    )
