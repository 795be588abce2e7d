"""`GET /fleet/status` at fleet scale, in the local stack: a fleet of 5,000 vehicles and 1,000
chargers (two connectors each), with 0, 200, 400 and then 800 sessions active.

For each step: the status call's latency through the local API (p50, p95; the first call after
the stack starts is the cold one and is reported apart) and the DynamoDB read units it consumed,
computed from the bytes of every item DynamoDB returned by AWS's rules (per response, 4 KB per
read unit, half for eventually consistent reads), because moto's own ConsumedCapacity is a
constant. Baselines measured in the same run: the same API's smallest read
(`GET /invoices?limit=1`, latency) and the read units of the design the issue rules out (reading
the fleet's whole registry partition and all its sessions: what a status built by scanning would
read). Goal: read units proportional to the active sessions, p95 under 300 ms.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import boto3

from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain.ports import ConnectorStatusReport
from shared.models.registry import Charger, FlatTariff, Fleet, RegistryDocument, Site, Token, Vehicle
from shared.models.sessions import MeterSample, Session

FLEET = "bench-fleet"
VEHICLES = 5000
CHARGERS = 1000
CONNECTORS = 2
SITES = 20
ACTIVE_STEPS = (0, 200, 400, 800)
CALLS = 40
READ_UNIT_BYTES = 4096


def _value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one attribute value (low-level, typed form)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in data.items())
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in data)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


class ReadMeter:
    """Counts what DynamoDB reads cost, from every response this process's clients receive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.read_units = 0.0
            self.items = 0
            self.requests = 0

    def __call__(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        operation = model.name
        if operation in ("Query", "Scan"):
            responses = [parsed.get("Items", [])]
        elif operation == "GetItem":
            responses = [[parsed["Item"]]] if "Item" in parsed else [[]]
        elif operation == "BatchGetItem":
            responses = [[i] for items in parsed.get("Responses", {}).values() for i in items]
        else:
            return
        consistent = bool(context.get("consistent_read"))
        with self._lock:
            for items in responses:
                size = sum(item_size(i) for i in items)
                units = max(1, math.ceil(size / READ_UNIT_BYTES)) * (1.0 if consistent else 0.5)
                self.read_units += units
                self.items += len(items)
            self.requests += 1


def _remember_consistency(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["consistent_read"] = params.get("ConsistentRead", False)


def install_meter() -> ReadMeter:
    """On boto3's default session, before any client exists, so every client made later (the
    handlers' too: they run in this process) reports to it."""
    meter = ReadMeter()
    events = boto3._get_default_session().events
    events.register("before-call.dynamodb", _remember_consistency)
    events.register("after-call.dynamodb", meter)
    return meter


def fleet_document(operator: Any) -> RegistryDocument:
    sites = [
        Site(id=f"bench-site-{s:02d}", fleet_id=FLEET, name=f"Depot {s}",
             tariff=FlatTariff(energy_price_per_kwh=Decimal("2.50"), vat_rate_percent=Decimal(25)),
             grid_limit_kw=Decimal(1000))
        for s in range(SITES)
    ]  # fmt: skip
    return RegistryDocument(
        operator=operator,
        fleets=[Fleet(id=FLEET, name="Bench Fleet AB")],
        sites=sites,
        chargers=[
            Charger(id=f"bench-cp-{c:04d}", site_id=sites[c % SITES].id, connectors=CONNECTORS)
            for c in range(CHARGERS)
        ],
        vehicles=[
            Vehicle(id=f"bench-van-{v:04d}", fleet_id=FLEET, name=f"Van {v}", battery_kwh=Decimal(75))
            for v in range(VEHICLES)
        ],
        tokens=[
            Token(id_tag=f"BENCH{v:05d}", fleet_id=FLEET, vehicle_id=f"bench-van-{v:04d}")
            for v in range(VEHICLES)
        ],
    )


def _slot(n: int) -> tuple[str, int]:
    """The n-th active session's charger and connector: one per connector, chargers filled in turn."""
    return f"bench-cp-{n // CONNECTORS:04d}", 1 + n % CONNECTORS


def _start_sessions(
    registry: RegistryTable, sessions: SessionsTable, first: int, last: int, at: datetime
) -> None:
    for n in range(first, last):
        charge_point_id, connector_id = _slot(n)
        session = Session(
            session_id=f"{charge_point_id}:{n + 1}", transaction_id=str(n + 1), charge_point_id=charge_point_id,
            connector_id=connector_id, id_tag=f"BENCH{n:05d}", fleet_id=FLEET, site_id=f"bench-site-{(n // CONNECTORS) % SITES:02d}",
            vehicle_id=f"bench-van-{n:04d}", started_at=at, meter_start_wh=Decimal(10_000),
        )  # fmt: skip
        sessions.start(session, f"bench:{n}")
        sample = MeterSample(
            timestamp=at + timedelta(minutes=15), energy_wh=Decimal(12_750), power_w=Decimal(11_000),
            soc_percent=Decimal(40 + n % 40),
        )  # fmt: skip
        sessions.add_samples(session.session_id, charge_point_id, [sample])
        registry.record_connector_status(
            ConnectorStatusReport(charge_point_id, connector_id, "Charging", "NoError", at), FLEET
        )


def _get(url: str, token: str) -> tuple[int, float, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        return response.status, (time.perf_counter() - started) * 1000, body


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def bench_fleet_status() -> dict[str, Any]:
    from laddvakt.bench import _fresh_stack, _progress  # the bench's own stack and progress line

    meter = install_meter()
    steps: list[dict[str, Any]] = []
    with _fresh_stack() as stack:
        registry_name, sessions_name = stack.names["registry_table"], stack.names["sessions_table"]
        registry = RegistryTable(registry_name, table=stack.table(registry_name))
        sessions = SessionsTable(sessions_name, table=stack.table(sessions_name))
        _progress(f"status: registering {VEHICLES} vehicles, {VEHICLES} cards, {CHARGERS} chargers")
        registry.import_document(fleet_document(registry.operator()))
        # Sessions started half an hour ago: live, so the stack's reaper leaves them alone.
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        for c in range(CHARGERS):
            registry.record_boot(
                f"bench-cp-{c:04d}",
                FLEET,
                {"chargePointVendor": "Bench", "chargePointModel": "AC22"},
                datetime.now(UTC),
            )
            for connector in range(1, CONNECTORS + 1):
                registry.record_connector_status(
                    ConnectorStatusReport(
                        f"bench-cp-{c:04d}", connector, "Available", "NoError", at - timedelta(hours=1)
                    ),
                    FLEET,
                )
        token = stack.issue_token(FLEET, ["fleet_manager"])
        small_token = stack.issue_token(FLEET, ["finance"])
        url = f"{stack.api_url}/fleet/status"
        meter.reset()
        status, cold_ms, _ = _get(url, token)
        cold_units = meter.read_units
        started = 0
        for active in ACTIVE_STEPS:
            _progress(f"status: {active} active sessions")
            # Every charger's heartbeat, so none has gone offline since the last step.
            for c in range(CHARGERS):
                registry.record_heartbeat(f"bench-cp-{c:04d}", FLEET, datetime.now(UTC))
            _start_sessions(registry, sessions, started, active, at)
            started = active
            latencies, units = [], []
            for _ in range(CALLS):
                meter.reset()
                status, ms, body = _get(url, token)
                if status != 200:
                    raise RuntimeError(f"GET /fleet/status answered {status}")
                latencies.append(ms)
                units.append(meter.read_units)
            counts = json.loads(body)["counts"]
            if counts["chargers"].get("offline") or counts["chargers"].get("unknown"):
                raise RuntimeError(f"chargers went offline or unknown during the bench: {counts['chargers']}")
            if counts["active_sessions"] != active or counts["vehicles"]["away"] != VEHICLES - active:
                raise RuntimeError(f"status counts {counts} do not match {active} active sessions")
            steps.append({
                "active_sessions": active, "latency_p50_ms": round(statistics.median(latencies), 1),
                "latency_p95_ms": round(_percentile(latencies, 0.95), 1), "read_units_per_call": round(statistics.median(units), 1),
                "response_kb": round(len(body) / 1024, 1),
            })  # fmt: skip
        _progress("status: baselines")
        small = [_get(f"{stack.api_url}/invoices?limit=1", small_token)[1] for _ in range(CALLS)]
        meter.reset()
        list(registry._query_fleet(FLEET))
        sessions.for_fleet(FLEET)
        naive_units = meter.read_units
    top = steps[-1]
    per_active = [
        (b["read_units_per_call"] - a["read_units_per_call"]) / (b["active_sessions"] - a["active_sessions"])
        for a, b in pairwise(steps)
    ]
    return {
        "benchmark": f"GET /fleet/status, {VEHICLES} vehicles / {CHARGERS} chargers, in the local stack",
        "steps": steps,
        "cold_call_ms": round(cold_ms, 1),
        "cold_call_read_units": round(cold_units, 1),
        "read_units_per_added_active_session": [round(u, 3) for u in per_active],
        "baseline_smallest_read_p50_ms": round(statistics.median(small), 1),
        "ratio_p50_to_smallest_read": round(top["latency_p50_ms"] / statistics.median(small), 2),
        "baseline_scan_design_read_units": round(naive_units, 1),
        "ratio_read_units_to_scan_design": round(top["read_units_per_call"] / naive_units, 3),
        "goal_p95_ms": 300,
    }
