"""What a fleet manager asks of each vehicle at a glance: charging, plugged in but not charging
(waiting for power), ready (charged to its target, or the car stopped drawing), or away.

One rule for every view of a vehicle (fleet status, vehicle lists, events), from the session it
is in now and what the charger says about that connector.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from shared.models.sessions import Session

VehicleState = Literal["charging", "plugged_in", "ready", "away"]

# Below this a plugged-in car is not really charging (trickle, balancing, a meter's noise).
CHARGING_POWER_THRESHOLD_W = Decimal(100)
# The car, not the charger, stopped taking energy: OCPP 1.6 connector status and OCPP 2.0.1
# chargingState both say SuspendedEV. After energy went in, that is a full (or done) car.
_CAR_DONE = "SuspendedEV"


def is_charging(power_w: Decimal | None) -> bool:
    return power_w is not None and power_w >= CHARGING_POWER_THRESHOLD_W


def vehicle_state(
    session: Session | None,
    *,
    target_soc_percent: Decimal | None = None,
    connector_status: str | None = None,
) -> VehicleState:
    """The state of a vehicle in `session` (None: in no active session)."""
    if session is None:
        return "away"
    if is_charging(session.latest_power_w):
        return "charging"
    soc = session.latest_soc_percent
    if soc is not None and target_soc_percent is not None and soc >= target_soc_percent:
        return "ready"
    delivered = session.energy_so_far_wh
    car_done = _CAR_DONE in (session.latest_charging_state, connector_status)
    if car_done and delivered is not None and delivered > 0:
        return "ready"
    return "plugged_in"
