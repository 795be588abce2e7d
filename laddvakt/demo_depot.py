"""`laddvakt demo`'s depot scheduling part: three vans plug in now at a depot whose grid connection
is smaller than its chargers together; Laddvakt plans the site, sends each charger its
SetChargingProfile, and the fleet app reads the plan through `GET /fleet/schedule`. One charger
is an older model that rejects profiles: it counts at full power and the others share the rest.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ocpp.v16 import call

from laddvakt.simulator import METER_INTERVAL, PlayedSession, SimulatedCharger
from shared.adapters.registry_table import RegistryTable
from shared.models.registry import Charger, RegistryDocument, RegistryRecords

DEPOT = "sthlm-night"
FLEET = "nordvind"
LIMIT_KW = Decimal(30)
CHARGER_KW = Decimal(22)
# The simulated older model: it answers SetChargingProfile with Rejected.
LEGACY_MODEL = "AC22 legacy"
CHARGERS = (("LV-NIGHT-01", "AC22"), ("LV-NIGHT-02", "AC22"), ("LV-NIGHT-03", LEGACY_MODEL))
ANSWER_DEADLINE_SECONDS = 30.0


@dataclass
class DepotView:
    schedule: dict[str, Any]
    answers: dict[str, list[str]]
    # What each charger reported drawing a meter interval later, and the limit it had accepted.
    reported_kw: dict[str, tuple[Decimal, Decimal | None]]


def _request(stack: Any, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    token = stack.issue_token(FLEET, ["fleet_manager"])
    request = urllib.request.Request(
        f"{stack.api_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_depot(stack: Any, document: RegistryDocument, played: list[PlayedSession]) -> DepotView:
    print(
        f"==> depot scheduling: 3 vans plug in at a {LIMIT_KW} kW depot with 3 × {CHARGER_KW} kW chargers "
        "(one an older model that rejects profiles)",
        flush=True,
    )
    depot = next(s for s in document.sites if s.fleet_id == FLEET)
    RegistryTable(
        stack.names["registry_table"], table=stack.table(stack.names["registry_table"])
    ).import_records(
        RegistryRecords(
            sites=[
                depot.model_copy(
                    update={"id": DEPOT, "name": "Nordvind night depot", "grid_limit_kw": LIMIT_KW}
                )
            ],
            chargers=[
                Charger(id=cp, site_id=DEPOT, max_power_kw=CHARGER_KW, vendor="Laddvakt Sim", model=model)
                for cp, model in CHARGERS
            ],
        )
    )
    # Vans not still plugged in from the day, one of them with its charging needs set by the fleet manager.
    busy = {p.plan.vehicle_id for p in played if p.accepted and p.meter_stop_wh is None}
    tokens = [t for t in document.tokens if t.fleet_id == FLEET and t.vehicle_id and t.vehicle_id not in busy]
    now = datetime.now(UTC).replace(microsecond=0)
    first = tokens[0].vehicle_id
    assert first is not None
    _request(
        stack,
        "PUT",
        f"/vehicles/{first}/charging-needs",
        {"departure_at": _iso(now + timedelta(hours=3)), "target_energy_kwh": "40"},
    )
    chargers = [
        SimulatedCharger(cp, stack.mqtt_host, stack.mqtt_port, accepts_profiles=model != LEGACY_MODEL)
        for cp, model in CHARGERS
    ]
    try:
        transactions = {}
        for charger, token in zip(chargers, tokens, strict=False):
            charger.call(call.BootNotification(charge_point_vendor="Laddvakt Sim", charge_point_model="AC22"))
            charger.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status="Preparing", timestamp=_iso(now)
                )
            )
            reply = charger.call(
                call.StartTransaction(connector_id=1, id_tag=token.id_tag, meter_start=0, timestamp=_iso(now))
            )
            transactions[charger.id] = int(reply["transactionId"])
            charger.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status="Charging", timestamp=_iso(now)
                )
            )
        schedule = _answered(stack)
        # A meter interval later each charger reports what it drew: an accepted limit is obeyed.
        reported = {}
        at = now + METER_INTERVAL
        for charger in chargers:
            limit = charger.limit_kw(1, at)
            power = CHARGER_KW if limit is None else min(CHARGER_KW, limit)
            reported[charger.id] = (power.quantize(Decimal("0.1")), limit)
            charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=transactions[charger.id],
                    meter_value=[
                        {
                            "timestamp": _iso(at),
                            "sampled_value": [
                                {
                                    "value": str(int(power * 250)),
                                    "unit": "Wh",
                                    "measurand": "Energy.Active.Import.Register",
                                },
                                {
                                    "value": str(power.quantize(Decimal("0.01"))),
                                    "unit": "kW",
                                    "measurand": "Power.Active.Import",
                                },
                            ],
                        }
                    ],
                )
            )
        return DepotView(schedule, {c.id: list(c.profile_answers) for c in chargers}, reported)
    finally:
        for charger in chargers:
            charger.close()


def _answered(stack: Any) -> dict[str, Any]:
    """The depot's plan once every charger has answered its profile (the fleet app's view)."""
    deadline = time.monotonic() + ANSWER_DEADLINE_SECONDS
    while True:
        sites = _request(stack, "GET", f"/fleet/schedule?site_id={DEPOT}")["sites"]
        if (
            sites
            and len(sites[0]["connectors"]) == len(CHARGERS)
            and all(c["profile"]["status"] in ("accepted", "rejected") for c in sites[0]["connectors"])
        ):
            return dict(sites[0])
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the depot's chargers did not all answer within {ANSWER_DEADLINE_SECONDS:.0f} s: {sites}"
            )
        time.sleep(0.3)


def print_depot(view: DepotView) -> None:
    site = view.schedule
    cost = "no prices" if site["cost"] is None else f"{site['cost']} {site['currency']} for the energy"
    print()
    print("Depot scheduling from the fleet API (GET /fleet/schedule):")
    print(
        f"  {site['site_id']}: grid limit {site['limit_kw']} kW, planned peak {site['peak_kw']} kW "
        f"({site['uncontrolled_kw']} kW of it not steerable), {cost}; planned on: {site['trigger']}"
    )
    held = [Decimal(step["reserved_kw"]) for step in site.get("reserved", [])]
    if any(held):
        first = next(step for step in site["reserved"] if Decimal(step["reserved_kw"]) > 0)
        print(
            f"    held back for vehicles that usually arrive later (the site's past stays): up to {max(held)} kW "
            f"from {first['starts_at'][11:16]}Z, given back at the start of each such hour if nobody came"
        )
    for connector in site["connectors"]:
        now_kw = connector["steps"][0]["limit_kw"] if connector["steps"] else "0"
        profile = connector["profile"]
        answer = profile["status"] + (
            f" ({profile['reason']}; retry {profile['next_retry_at']})" if profile["reason"] else ""
        )
        print(
            f"    {connector['charge_point_id']} {connector['vehicle_id']}: {now_kw} kW now, "
            f"{connector['planned_kwh']} of {connector['energy_needed_kwh']} kWh by {connector['departure_at'][:16]}Z "
            f"({connector['departure_basis']}); profile {answer}"
        )
    answers = [a for answers in view.answers.values() for a in answers]
    obeyed = ", ".join(
        f"{cp} {kw} kW" + ("" if limit is None else f" ≤ {limit.quantize(Decimal('0.1'))} kW")
        for cp, (kw, limit) in view.reported_kw.items()
    )
    print(
        f"  Chargers' answers: {answers.count('Accepted')} Accepted, {answers.count('Rejected')} Rejected; "
        f"power reported a meter interval later: {obeyed}"
    )
