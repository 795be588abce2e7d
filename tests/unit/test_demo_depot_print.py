"""What `make demo` prints of the depot's plan: the limit, what is held back for later arrivals
when anything is, and each connector's plan and the charger's answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from laddvakt.demo_depot import DepotView, print_depot

pytestmark = pytest.mark.unit


def view(reserved: list[dict[str, str]]) -> DepotView:
    connector = {
        "charge_point_id": "LV-NIGHT-01",
        "vehicle_id": "nor-v01",
        "steps": [{"starts_at": "2026-11-29T01:00:00Z", "limit_kw": "11.000"}],
        "planned_kwh": "12.000",
        "energy_needed_kwh": "40",
        "departure_at": "2026-11-29T04:48:00Z",
        "departure_basis": "charging needs' departure",
        "profile": {"status": "accepted", "reason": None, "next_retry_at": None},
    }
    schedule = {
        "site_id": "sthlm-night",
        "limit_kw": "30",
        "peak_kw": "11.000",
        "uncontrolled_kw": "0",
        "cost": "5.00",
        "currency": "SEK",
        "trigger": "arrival",
        "reserved": reserved,
        "connectors": [connector],
    }
    return DepotView(
        schedule, {"LV-NIGHT-01": ["Accepted"]}, {"LV-NIGHT-01": (Decimal("11.0"), Decimal("11"))}
    )


def test_the_capacity_held_for_later_arrivals_is_shown_when_there_is_any(capsys: pytest.CaptureFixture[str]):
    print_depot(
        view(
            [
                {"starts_at": "2026-11-29T01:00:00Z", "reserved_kw": "0"},
                {"starts_at": "2026-11-29T03:00:00Z", "reserved_kw": "8.5"},
                {"starts_at": "2026-11-29T04:00:00Z", "reserved_kw": "12.0"},
            ]
        )
    )
    out = capsys.readouterr().out
    assert "held back for vehicles that usually arrive later" in out
    assert "up to 12.0 kW from 03:00Z" in out
    assert "LV-NIGHT-01 nor-v01: 11.000 kW now, 12.000 of 40 kWh by 2026-11-29T04:48Z" in out


def test_nothing_is_said_of_a_reserve_when_none_is_held(capsys: pytest.CaptureFixture[str]):
    print_depot(view([{"starts_at": "2026-11-29T01:00:00Z", "reserved_kw": "0"}]))
    assert "held back" not in capsys.readouterr().out
