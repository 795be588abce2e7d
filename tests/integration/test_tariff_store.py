"""Tariffs as the registry keeps them: every version, never overwritten."""

from __future__ import annotations

import uuid

import pytest

from shared.adapters.registry_table import RegistryTable
from shared.models.ocpi import TariffError, parse_tariff

pytestmark = pytest.mark.integration


def tariff(tariff_id: str, last_updated: str, price: str):
    return parse_tariff(
        f'{{"id": "{tariff_id}", "currency": "SEK", "last_updated": "{last_updated}", '
        f'"elements": [{{"price_components": [{{"type": "ENERGY", "price": {price}, "vat": 25, "step_size": 1}}]}}]}}'
    )


def test_versions_are_kept_apart_and_a_repeat_is_harmless(aws):
    registry = RegistryTable(aws.registry_table, cache_seconds=0)
    tariff_id = f"t-{uuid.uuid4().hex[:8]}"
    assert registry.put_tariff(tariff(tariff_id, "2026-01-01T00:00:00Z", "3.00")) is True
    assert registry.put_tariff(tariff(tariff_id, "2026-06-01T00:00:00Z", "3.50")) is True
    assert registry.put_tariff(tariff(tariff_id, "2026-01-01T00:00:00Z", "3.00")) is False
    prices = [v.elements[0].price_components[0].price for v in registry.tariff_versions(tariff_id)]
    assert [str(p) for p in prices] == ["3.00", "3.50"]
    assert tariff_id in registry.tariff_ids()


def test_a_changed_tariff_under_an_old_version_is_refused(aws):
    registry = RegistryTable(aws.registry_table, cache_seconds=0)
    tariff_id = f"t-{uuid.uuid4().hex[:8]}"
    registry.put_tariff(tariff(tariff_id, "2026-01-01T00:00:00Z", "3.00"))
    with pytest.raises(TariffError, match="needs a new last_updated"):
        registry.put_tariff(tariff(tariff_id, "2026-01-01T00:00:00Z", "2.00"))
