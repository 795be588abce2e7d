"""Simulated OCPP 1.6J chargers over MQTT, and a compressed day of charging for them to play.

Frames are built from the `ocpp` package's message classes (a real OCPP implementation nobody here
wrote), published on `{chargePointId}/in`, and each charger waits for the reply on
`{chargePointId}/out` before its next Call, as OCPP-J requires.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from ocpp.charge_point import camel_to_snake_case, remove_nones, snake_to_camel_case
from ocpp.v16 import call, call_result
from ocpp.v201 import call_result as call_result_201

from shared.models.registry import RegistryDocument
from shared.topology import inbound_topic, outbound_topic

METER_INTERVAL = timedelta(minutes=15)


@dataclass(frozen=True)
class ChargingLimit:
    """An accepted chargingSchedule: from `start`, each period's limit in kW."""

    start: datetime
    periods: tuple[tuple[int, Decimal], ...]

    @classmethod
    def of(cls, schedule: dict[str, Any]) -> ChargingLimit:
        unit = schedule["chargingRateUnit"]
        return cls(
            start=datetime.fromisoformat(schedule["startSchedule"].replace("Z", "+00:00")),
            periods=tuple((int(p["startPeriod"]), _kw(p, unit)) for p in schedule["chargingSchedulePeriod"]),
        )

    def at(self, moment: datetime) -> Decimal | None:
        offset = (moment - self.start).total_seconds()
        current = [kw for start, kw in self.periods if start <= offset]
        return current[-1] if current else None


def _kw(period: dict[str, Any], unit: str) -> Decimal:
    # Amperes are per phase at 230 V (what Laddvakt sends AC chargers); watts are watts.
    limit = Decimal(str(period["limit"]))
    if unit == "A":
        return limit * int(period.get("numberPhases", 3)) * 230 / 1000
    return limit / 1000


class CallErrorReceived(RuntimeError):
    def __init__(self, frame: list[Any]) -> None:
        super().__init__(f"{frame[2]}: {frame[3]}")
        self.code = frame[2]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SimulatedCharger:
    """One charger's MQTT connection: sends Calls and waits for their replies."""

    def __init__(
        self,
        charge_point_id: str,
        host: str,
        port: int,
        timeout: float = 30.0,
        version: str = "1.6",
        *,
        accepts_profiles: bool = True,
    ) -> None:
        self.id = charge_point_id
        # Smart charging: a charger that accepts SetChargingProfile obeys its limits; one that
        # does not (an older model) answers Rejected and keeps drawing what the car takes.
        self.accepts_profiles = accepts_profiles
        self.profiles: dict[int, ChargingLimit] = {}
        self.profile_answers: list[str] = []
        # Replies are parsed into the ocpp package's CallResult classes of the charger's version.
        self._results = call_result if version == "1.6" else call_result_201
        self._timeout = timeout
        self._pending: dict[str, tuple[threading.Event, list[Any]]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{charge_point_id}", protocol=mqtt.MQTTv311
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=60)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"{charge_point_id}: could not subscribe to {outbound_topic(charge_point_id)}")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(outbound_topic(self.id), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        frame = json.loads(message.payload)
        if frame[0] == 2:  # a Call from the central system, not a reply
            self._answer(client, frame)
            return
        with self._lock:
            waiting = self._pending.get(frame[1])
        if waiting is not None:
            waiting[1].append(frame)
            waiting[0].set()

    def _answer(self, client: mqtt.Client, frame: list[Any]) -> None:
        message_id, action, payload = frame[1], frame[2], frame[3]
        if action != "SetChargingProfile":
            reply: list[Any] = [4, message_id, "NotImplemented", f"the simulator does not do {action}", {}]
        else:
            # Parsed into the ocpp package's Call class: a malformed profile fails here, loudly.
            call.SetChargingProfile(**camel_to_snake_case(payload))
            status = "Accepted" if self.accepts_profiles else "Rejected"
            if self.accepts_profiles:
                limit = ChargingLimit.of(payload["csChargingProfiles"]["chargingSchedule"])
                with self._lock:
                    self.profiles[int(payload["connectorId"])] = limit
            reply = [3, message_id, {"status": status}]
            with self._lock:
                self.profile_answers.append(status)
        client.publish(inbound_topic(self.id), json.dumps(reply).encode(), qos=1)

    def limit_kw(self, connector_id: int, at: datetime) -> Decimal | None:
        """The accepted profile's limit on a connector at `at`, None without one."""
        with self._lock:
            limit = self.profiles.get(connector_id)
        return None if limit is None else limit.at(at)

    def send_raw(self, payload: bytes, message_id: str | None = None) -> list[Any] | None:
        """Publish bytes as they are; wait for the reply when a message id is expected."""
        event = threading.Event()
        box: list[Any] = []
        if message_id is not None:
            with self._lock:
                self._pending[message_id] = (event, box)
        self._client.publish(inbound_topic(self.id), payload, qos=1).wait_for_publish(self._timeout)
        if message_id is None:
            return None
        try:
            if not event.wait(self._timeout):
                raise TimeoutError(f"{self.id}: no reply to message {message_id} within {self._timeout} s")
        finally:
            with self._lock:
                self._pending.pop(message_id, None)
        return list(box[0])

    def call(self, message: Any) -> dict[str, Any]:
        """Send one `ocpp.v16.call.*` or `ocpp.v201.call.*` message and return the CallResult payload."""
        message_id = uuid.uuid4().hex[:16]
        action = type(message).__name__
        payload = snake_to_camel_case(remove_nones(asdict(message)))
        frame = self.send_raw(json.dumps([2, message_id, action, payload]).encode(), message_id)
        assert frame is not None
        if frame[0] == 4:
            raise CallErrorReceived(frame)
        result: dict[str, Any] = frame[2]
        # Parse into the ocpp package's CallResult class to prove the reply has its shape.
        getattr(self._results, action)(**camel_to_snake_case(result))
        return result

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


# --- the simulated day ---------------------------------------------------------------------------


@dataclass
class PlannedSession:
    charge_point_id: str
    connector_id: int
    id_tag: str
    vehicle_id: str | None
    arrival: datetime
    departure: datetime | None  # None: still plugged in when the day ends
    battery_kwh: Decimal
    soc_start: Decimal
    max_power_kw: Decimal
    # A session still plugged in sends readings up to here (say, now), else three hours' worth.
    readings_until: datetime | None = None

    @property
    def readings_end(self) -> datetime:
        return self.departure or self.readings_until or (self.arrival + timedelta(hours=3))


@dataclass
class PlayedSession:
    plan: PlannedSession
    transaction_id: int | None
    meter_start_wh: int
    meter_stop_wh: int | None
    accepted: bool

    @property
    def energy_wh(self) -> int | None:
        return None if self.meter_stop_wh is None else self.meter_stop_wh - self.meter_start_wh


@dataclass
class DayPlan:
    day: date
    sessions: list[PlannedSession]
    bad_frames: dict[str, list[bytes]] = field(default_factory=dict)


def plan_day(document: RegistryDocument, day: date, seed: int = 7, still_plugged_in: int = 2) -> DayPlan:
    """A working day: each connector serves one to three visits; a few cars stay plugged in."""
    rng = random.Random(seed)
    sites = {s.id: s for s in document.sites}
    vehicles = {v.id: v for v in document.vehicles}
    tokens_by_fleet: dict[str, list[Any]] = {}
    for token in document.tokens:
        if token.status == "Accepted" and token.vehicle_id:
            tokens_by_fleet.setdefault(token.fleet_id, []).append(token)
    sessions: list[PlannedSession] = []
    for charger in document.chargers:
        site = sites[charger.site_id]
        zone = ZoneInfo(site.time_zone)
        fleet_tokens = tokens_by_fleet[site.fleet_id]
        for connector in range(1, charger.connectors + 1):
            at = datetime.combine(day, time(6, 0), zone) + timedelta(minutes=rng.randint(0, 180))
            for _ in range(rng.randint(1, 3)):
                token = rng.choice(fleet_tokens)
                vehicle = vehicles[token.vehicle_id]
                dwell = timedelta(minutes=rng.randint(60, 300))
                sessions.append(
                    PlannedSession(
                        charge_point_id=charger.id,
                        connector_id=connector,
                        id_tag=token.id_tag,
                        vehicle_id=vehicle.id,
                        arrival=at,
                        departure=at + dwell,
                        battery_kwh=vehicle.battery_kwh or Decimal(60),
                        soc_start=Decimal(rng.randint(10, 55)),
                        max_power_kw=charger.max_power_kw,
                    )
                )
                at = at + dwell + timedelta(minutes=rng.randint(20, 120))
                if at.time() > time(21, 0) or at.date() != day:
                    break
    # The last visits of the evening stay plugged in overnight, so the fleet view shows them live.
    for session in sorted(sessions, key=lambda s: s.arrival)[-still_plugged_in:]:
        session.departure = None
    first = document.chargers[0].id
    bad = {
        first: [
            b"{this is not json",
            json.dumps([2, "bad-action", "Frobnicate", {}]).encode(),
            json.dumps([2, "bad-schema", "Authorize", {"idTag": 12345}]).encode(),
        ]
    }
    return DayPlan(day=day, sessions=sessions, bad_frames=bad)


def _power_kw(plan: PlannedSession, soc: Decimal) -> Decimal:
    # Constant current to 80 %, then a linear taper to a fifth of the power at 100 % (CC/CV).
    if soc < 80:
        return plan.max_power_kw
    return plan.max_power_kw * (Decimal(1) - (soc - 80) / 25)


def _wh(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class ChargerScript:
    """Plays one charger's part of the day, connector visits in time order."""

    def __init__(self, charger: SimulatedCharger, plans: list[PlannedSession], rng: random.Random) -> None:
        self.charger = charger
        self.plans = sorted(plans, key=lambda p: p.arrival)
        # Lifetime energy registers: a session's energy is the difference, never the reading.
        self.registers = {p.connector_id: rng.randint(100_000, 5_000_000) for p in plans}
        self.played: list[PlayedSession] = []

    def _status(self, connector: int, status: str, at: datetime) -> None:
        self.charger.call(
            call.StatusNotification(
                connector_id=connector, error_code="NoError", status=status, timestamp=_iso(at)
            )
        )

    def boot(self, at: datetime, connectors: int) -> None:
        reply = self.charger.call(
            call.BootNotification(charge_point_vendor="Laddvakt Sim", charge_point_model="AC22")
        )
        if reply["status"] != "Accepted":
            raise RuntimeError(f"{self.charger.id}: boot was {reply['status']}")
        for connector in range(0, connectors + 1):
            self._status(connector, "Available", at)

    def play(self, plan: PlannedSession, on_frame: Callable[[], None]) -> PlayedSession:
        connector = plan.connector_id
        self._status(connector, "Preparing", plan.arrival)
        meter_start = self.registers[connector]
        reply = self.charger.call(
            call.StartTransaction(
                connector_id=connector,
                id_tag=plan.id_tag,
                meter_start=meter_start,
                timestamp=_iso(plan.arrival),
            )
        )
        on_frame()
        transaction_id = int(reply["transactionId"])
        if reply["idTagInfo"]["status"] != "Accepted":
            self._status(connector, "Available", plan.arrival)
            return PlayedSession(plan, transaction_id, meter_start, meter_start, accepted=False)
        self._status(connector, "Charging", plan.arrival)
        soc, at, energy_wh = plan.soc_start, plan.arrival, Decimal(0)
        end = plan.readings_end
        charging = True
        while at + METER_INTERVAL <= end:
            power = _power_kw(plan, soc) if soc < 100 else Decimal(0)
            limit = self.charger.limit_kw(connector, at)
            if limit is not None:
                power = min(power, limit)
            step_kwh = power * Decimal(METER_INTERVAL.total_seconds()) / 3600
            soc = min(Decimal(100), soc + step_kwh / plan.battery_kwh * 100)
            energy_wh += step_kwh * 1000
            at += METER_INTERVAL
            if charging and power == 0:
                charging = False
                self._status(connector, "SuspendedEV", at)
            self.charger.call(
                call.MeterValues(
                    connector_id=connector,
                    transaction_id=transaction_id,
                    meter_value=[
                        {
                            "timestamp": _iso(at),
                            "sampled_value": [
                                {
                                    "value": str(meter_start + _wh(energy_wh)),
                                    "unit": "Wh",
                                    "measurand": "Energy.Active.Import.Register",
                                    "context": "Sample.Periodic",
                                },
                                {
                                    "value": str(power.quantize(Decimal("0.01"))),
                                    "unit": "kW",
                                    "measurand": "Power.Active.Import",
                                    "context": "Sample.Periodic",
                                },
                                {
                                    "value": str(soc.quantize(Decimal(1))),
                                    "unit": "Percent",
                                    "measurand": "SoC",
                                    "context": "Sample.Periodic",
                                },
                            ],
                        }
                    ],
                )
            )
            on_frame()
        meter_now = meter_start + _wh(energy_wh)
        if plan.departure is None:
            self.registers[connector] = meter_now
            return PlayedSession(plan, transaction_id, meter_start, None, accepted=True)
        self._status(connector, "Finishing", plan.departure)
        self.charger.call(
            call.StopTransaction(
                meter_stop=meter_now,
                timestamp=_iso(plan.departure),
                transaction_id=transaction_id,
                id_tag=plan.id_tag,
                reason="EVDisconnected",
            )
        )
        on_frame()
        self._status(connector, "Available", plan.departure)
        self.registers[connector] = meter_now
        return PlayedSession(plan, transaction_id, meter_start, meter_now, accepted=True)
