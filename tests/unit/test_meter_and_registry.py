"""Meter values as chargers send them, and the registry import file's validation."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.domain.meter import read_meter_values
from shared.models.registry import RegistryDocument
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.unit


def test_per_phase_power_adds_up_and_default_measurand_is_the_energy_register():
    readings = read_meter_values(
        [
            {
                "timestamp": "2026-11-23T07:15:00+01:00",
                "sampledValue": [
                    {"value": "5000"},
                    {"value": "3.6", "unit": "kW", "measurand": "Power.Active.Import", "phase": "L1"},
                    {"value": "3.6", "unit": "kW", "measurand": "Power.Active.Import", "phase": "L2"},
                    {"value": "3.6", "unit": "kW", "measurand": "Power.Active.Import", "phase": "L3"},
                    {"value": "230", "unit": "V", "measurand": "Voltage", "phase": "L1-N"},
                ],
            }
        ]
    )
    sample = readings.samples[0]
    assert sample.energy_wh == Decimal(5000)
    assert sample.power_w == Decimal("10800.0")
    assert sample.timestamp.utcoffset().total_seconds() == 3600
    assert readings.problems == []


def test_unreadable_values_are_reported_not_guessed():
    readings = read_meter_values(
        [
            {
                "timestamp": "2026-11-23T07:15:00Z",
                "sampledValue": [{"value": "12,5"}, {"value": "1", "unit": "MWh"}],
            }
        ]
    )
    assert readings.samples == []
    assert any("not a number" in p for p in readings.problems)
    assert any("MWh" in p for p in readings.problems)


def test_signed_meter_data_is_skipped():
    readings = read_meter_values(
        [{"timestamp": "2026-11-23T07:15:00Z", "sampledValue": [{"value": "AbCd==", "format": "SignedData"}]}]
    )
    assert readings.samples == [] and readings.problems == []


def test_example_registry_is_valid():
    document = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    assert (
        len(document.chargers) == 10
        and len(document.vehicles) == 15
        and len({s.id for s in document.sites}) == 3
    )


def test_broken_references_are_all_named_at_once():
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"][0]["site_id"] = "atlantis"
    data["tokens"][0]["vehicle_id"] = "kus-v11"  # a Kust Taxi car on a Nordvind token
    data["sites"][0]["time_zone"] = "Europe/Gotham"
    with pytest.raises(ValidationError) as caught:
        RegistryDocument.model_validate(data)
    text = str(caught.value)
    assert "Europe/Gotham" in text
    # Field errors come first; fix them and the cross-references are all reported together.
    data["sites"][0]["time_zone"] = "Europe/Stockholm"
    with pytest.raises(ValidationError) as caught:
        RegistryDocument.model_validate(data)
    text = str(caught.value)
    assert "chargers[0] (LV-STHLM-01): site_id 'atlantis' is not in sites" in text
    assert "vehicle 'kus-v11' belongs to another fleet" in text
