"""Which tariff prices a session, and which version of it.

A site has a tariff (a flat price per kWh, or an imported OCPI tariff), a charger may have its
own, and either may name per-fleet overrides. For a session of fleet F the first that is set
wins: the charger's tariff for F, the site's tariff for F, the charger's tariff, the site's.
A fleet's negotiated price therefore holds on every charger of the site, and a charger's own
price beats the site's default.

Tariffs change over time. A session is priced with the version in force when it started (the
newest `last_updated` at or before the start), so a price change never reaches back into a
session that was already running.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared.domain.errors import NotPriceable
from shared.models.ocpi import PriceComponent, Tariff, TariffDimensionType, TariffElement
from shared.models.registry import Charger, ChargerPlacement, FlatTariff, Site
from shared.models.sessions import ClosedSession, Session

FLAT_PREFIX = "flat-"


def tariff_id_for(site: Site, charger: Charger | None, fleet_id: str) -> str | None:
    """The id of the imported tariff that prices this fleet's sessions on this charger, or None
    when the site's flat price does."""
    for candidate in (
        charger.fleet_tariff_ids.get(fleet_id) if charger else None,
        site.fleet_tariff_ids.get(fleet_id),
        charger.tariff_id if charger else None,
        site.tariff_id,
    ):
        if candidate:
            return candidate
    return None


class TariffSource(Protocol):
    """What choosing a session's tariff reads from the registry."""

    def site(self, site_id: str) -> Site: ...

    def placement(self, charge_point_id: str) -> ChargerPlacement | None: ...

    def tariff_versions(self, tariff_id: str) -> list[Tariff]: ...


def tariff_of(registry: TariffSource, session: Session | ClosedSession) -> Tariff:
    """The tariff version that prices this session, from the registry."""
    placement = registry.placement(session.charge_point_id)
    return session_tariff(
        registry.site(session.site_id),
        placement.charger if placement else None,
        session.fleet_id,
        session.started_at,
        registry.tariff_versions,
    )


def session_tariff(
    site: Site,
    charger: Charger | None,
    fleet_id: str,
    started_at: datetime,
    versions: Callable[[str], list[Tariff]],
) -> Tariff:
    """The tariff, in the version in force at the start, that prices this session."""
    tariff_id = tariff_id_for(site, charger, fleet_id)
    if tariff_id is None:
        if site.tariff is None:
            # A site registered through the fleet API is unpriced until the operator prices it.
            raise NotPriceable(
                f"site {site.id!r} has no tariff yet: the operator sets one with `laddvakt registry import`"
            )
        return flat_as_ocpi(site, site.tariff)
    stored = versions(tariff_id)
    if not stored:
        raise NotPriceable(f"tariff {tariff_id!r} is not imported (`laddvakt tariffs import`)")
    return version_in_force(stored, started_at)


def flat_tariff_id(site: Site) -> str:
    return f"{FLAT_PREFIX}{site.id}"[:36]


def flat_as_ocpi(site: Site, flat: FlatTariff) -> Tariff:
    """A site's flat price as the OCPI tariff it stands for: energy per kWh, its VAT, billed per Wh."""
    return Tariff(
        id=flat_tariff_id(site),
        currency=flat.currency,
        elements=[
            TariffElement(
                price_components=[
                    PriceComponent(
                        type=TariffDimensionType.ENERGY,
                        price=flat.energy_price_per_kwh,
                        vat=flat.vat_rate_percent,
                        step_size=1,
                    )
                ]
            )
        ],
    )


def version_in_force(versions: list[Tariff], started_at: datetime) -> Tariff:
    """The version a session that started at `started_at` is priced with."""
    if not versions:
        raise NotPriceable("the tariff has no stored version")
    dated = sorted(versions, key=lambda t: t.last_updated or datetime.min.replace(tzinfo=started_at.tzinfo))
    in_force = [t for t in dated if t.last_updated is None or t.last_updated <= started_at]
    if not in_force:
        # Imported after the session started: the first version is the only price there is.
        return dated[0]
    return in_force[-1]
