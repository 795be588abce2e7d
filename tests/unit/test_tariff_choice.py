"""Which tariff prices a session, and which version of it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.domain.errors import NotPriceable
from shared.domain.tariff_choice import session_tariff, tariff_id_for, version_in_force
from shared.models.ocpi import parse_tariff
from shared.models.registry import Charger, FlatTariff, Site

pytestmark = pytest.mark.unit

SITE = Site(
    id="depot",
    fleet_id="nordvind",
    name="Depå",
    tariff_id="site-default",
    fleet_tariff_ids={"kusttaxi": "site-kust"},
)
CHARGER = Charger(
    id="DC-1", site_id="depot", tariff_id="dc-fast", fleet_tariff_ids={"nordvind": "dc-nordvind"}
)


def tariff(last_updated: str, price: str = "3.00"):
    return parse_tariff(
        f'{{"id": "t", "currency": "SEK", "last_updated": "{last_updated}", '
        f'"elements": [{{"price_components": [{{"type": "ENERGY", "price": {price}, "vat": 25, "step_size": 1}}]}}]}}'
    )


@pytest.mark.parametrize(
    ("charger", "fleet", "expected"),
    [
        (CHARGER, "nordvind", "dc-nordvind"),  # the charger's fleet override first
        (CHARGER, "kusttaxi", "site-kust"),  # a fleet's site agreement holds on every charger
        (CHARGER, "other", "dc-fast"),  # then the charger's own price
        (None, "other", "site-default"),  # then the site's
    ],
)
def test_the_most_specific_assignment_wins(charger, fleet, expected):
    assert tariff_id_for(SITE, charger, fleet) == expected


def test_a_site_with_a_flat_price_is_priced_as_the_ocpi_tariff_it_stands_for():
    site = Site(
        id="s",
        fleet_id="f",
        name="S",
        tariff=FlatTariff(energy_price_per_kwh=Decimal("2.80"), vat_rate_percent=Decimal(25)),
    )
    flat = session_tariff(site, None, "f", datetime(2026, 1, 1, tzinfo=UTC), lambda _: [])
    (component,) = flat.elements[0].price_components
    assert (component.type, component.price, component.vat, component.step_size) == (
        "ENERGY",
        Decimal("2.80"),
        Decimal(25),
        1,
    )


def test_a_session_is_priced_with_the_version_in_force_when_it_started():
    versions = [tariff("2026-01-01T00:00:00Z", "3.00"), tariff("2026-06-01T00:00:00Z", "3.50")]
    assert version_in_force(versions, datetime(2026, 5, 31, 23, 0, tzinfo=UTC)).last_updated.month == 1
    assert version_in_force(versions, datetime(2026, 6, 1, 0, 0, tzinfo=UTC)).last_updated.month == 6
    # A session that started before the first import has only the first version to go by
    assert version_in_force(versions, datetime(2025, 12, 1, tzinfo=UTC)).last_updated.month == 1


def test_an_assigned_tariff_that_was_never_imported_is_not_priceable():
    with pytest.raises(NotPriceable, match="not imported"):
        session_tariff(SITE, None, "other", datetime(2026, 1, 1, tzinfo=UTC), lambda _: [])


def test_a_site_the_operator_has_not_priced_yet_is_not_priceable_and_says_so():
    # Given a site a fleet admin registered (no flat price, no OCPI tariff)
    unpriced = Site(id="new-depot", fleet_id="nordvind", name="Ny depå")
    assert unpriced.priced is False
    # When a session there is priced, Then it cannot be, with a reason an operator can act on
    with pytest.raises(NotPriceable, match=r"site 'new-depot' has no tariff yet: the operator sets one"):
        session_tariff(unpriced, None, "nordvind", datetime(2026, 11, 24, tzinfo=UTC), lambda _: [])


def test_a_site_has_at_most_one_price():
    with pytest.raises(ValueError, match="both tariff"):
        Site(
            id="d",
            fleet_id="f",
            name="D",
            tariff=FlatTariff(energy_price_per_kwh=Decimal("2"), vat_rate_percent=Decimal(25)),
            tariff_id="t",
        )
