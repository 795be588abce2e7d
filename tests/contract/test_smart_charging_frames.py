"""The SetChargingProfile frames the scheduler sends, read by the `ocpp` package's own parser and
validated against the official OCPP 1.6 and 2.0.1 schemas it ships (what a real charger built on
it does with them), for AC (amperes) and DC (watts) connectors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import pytest
from ocpp.messages import Call, unpack, validate_payload

from shared.models.registry import Charger
from shared.models.scheduling import ConnectorInput, StoredConnectorPlan, StoredStep
from shared.scheduling import profile_frame

pytestmark = pytest.mark.contract

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def plan(version: Literal["1.6", "2.0.1"], transaction_id: str, steps: int) -> StoredConnectorPlan:
    return StoredConnectorPlan(
        session_id=f"CP:{transaction_id}",
        charge_point_id="CP",
        connector_id=1,
        transaction_id=transaction_id,
        ocpp_version=version,
        steps=tuple(
            StoredStep(starts_at=NOW + timedelta(minutes=15 * i), limit_kw=Decimal(i % 3) * Decimal("3.7"))
            for i in range(steps)
        ),
        planned_kwh=Decimal(10),
        unmet_kwh=Decimal(0),
        delivered_at_plan_kwh=Decimal(0),
        inputs=ConnectorInput(
            energy_needed_kwh=Decimal(10), energy_basis="test", departure_at=NOW + timedelta(hours=8),
            departure_basis="test", max_power_kw=Decimal(11),
        ),
    )  # fmt: skip


@pytest.mark.parametrize("version, transaction_id", [("1.6", "1043"), ("2.0.1", "b2c9-77")])
@pytest.mark.parametrize("power_kw", [Decimal(11), Decimal(150)])
@pytest.mark.parametrize("steps", [1, 40])
def test_set_charging_profile_frames_pass_the_official_schemas(version, transaction_id, power_kw, steps):
    charger = Charger(id="CP", site_id="s", max_power_kw=power_kw, ocpp_version=version)
    frame = profile_frame(plan(version, transaction_id, steps), charger, "msg-1", NOW)
    message = unpack(frame)
    assert isinstance(message, Call) and message.action == "SetChargingProfile"
    asyncio.run(validate_payload(message, version))  # raises on any schema violation
