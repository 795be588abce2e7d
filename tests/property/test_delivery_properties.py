"""At-least-once, unordered delivery cannot change a session.

MQTT QoS 1, SQS and Lambda retries deliver every frame at least once and in no promised order, and
a charger that was offline replays its queue. For random sessions (both OCPP versions, with meter
resets), the frames are delivered again with random duplication, reordering and loss of
non-final frames, through the real central system and the real sessions table (moto). Then:
- the session has the same facts as the same frames delivered once, in order;
- its energy equals the register difference of the readings that arrived (across resets);
- every Call got exactly one CallResult, and nothing valid was kept as bad input;
- billing was started exactly once for it;
- a 2.0.1 session's seqNo gaps are exactly the events that never arrived.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.billing_table import BillingTable
from shared.adapters.billing_workflow import BillingWorkflow, execution_name
from shared.adapters.invoice_bucket import InvoiceBucket
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.billing import Billing
from shared.domain.central import CentralSystem
from shared.domain.ocpp16 import CentralSystem16
from shared.domain.ocpp201 import CentralSystem201
from shared.domain.ports import RejectedFrame
from shared.ingest import IngestService
from shared.models.events import InboundFrame
from shared.models.registry import RegistryDocument
from shared.models.sessions import CloseRequest, Session
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.property

CP16 = "LV-STHLM-01"  # 22 kW, two connectors
CP201 = "LV-PROP-201"  # a 2.0.1 station added to the same depot for these properties
TAG = "RFID0001"  # Nordvind's, accepted
STEP = timedelta(minutes=5)
# What the facts of two deliveries are compared on: everything but the keys that name them.
FACTS = (
    "started_at", "ended_at", "meter_start_wh", "meter_stop_wh", "stop_reason", "id_tag", "fleet_id",
    "driver_id", "vehicle_id", "status", "latest_register_wh", "latest_register_at", "latest_power_w",
    "latest_power_at", "latest_sample_at", "latest_charging_state", "latest_charging_state_at",
    "first_register_wh", "first_register_at", "seq_nos", "offline_events", "samples",
)  # fmt: skip
DELIVERY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- what a charger meters -----------------------------------------------------------------


_MOMENTS = itertools.count()


@dataclass(frozen=True)
class Metered:
    """A session as the meter saw it: the register at the start, at each reading and at the stop."""

    started_at: datetime
    registers: list[int]  # start, each meter reading, stop
    states: list[str]  # 2.0.1 chargingState at each moment

    def at(self, index: int) -> datetime:
        return self.started_at + index * STEP


@st.composite
def metered_sessions(draw: st.DrawFn) -> Metered:
    readings = draw(st.integers(min_value=1, max_value=6))
    register = draw(st.integers(min_value=1_000, max_value=5_000_000))
    registers = [register]
    reset_at = draw(st.none() | st.integers(min_value=1, max_value=readings))
    for index in range(1, readings + 2):
        # At most 1.5 kWh in 5 minutes: what a 22 kW connector can deliver, with room to spare.
        step = draw(st.integers(min_value=0, max_value=1_500))
        register = draw(st.integers(min_value=0, max_value=500)) if index == reset_at else register + step
        registers.append(register)
    states = draw(
        st.lists(
            st.sampled_from(["Charging", "SuspendedEV", "EVConnected"]),
            min_size=len(registers),
            max_size=len(registers),
        )
    )
    # Every example starts at its own moment: hypothesis repeats examples, and a start identical
    # to an earlier one is (rightly) that earlier transaction.
    started_at = datetime(2026, 1, 1, 6, tzinfo=UTC) + timedelta(seconds=next(_MOMENTS))
    return Metered(started_at, registers, states)


@st.composite
def deliveries(draw: st.DrawFn, frames: int, *, keep_first: bool) -> list[int]:
    """Which frames arrive, how often and in what order; the last (and the first, if it must)
    is never lost. Each other frame is lost with a chance of one in four."""
    kept = sorted(
        {frames - 1, *([0] if keep_first else [])}
        | {i for i in range(frames - 1) if draw(st.booleans()) or draw(st.booleans())}
    )
    repeated = draw(st.lists(st.sampled_from(kept), max_size=frames))
    return draw(st.permutations(kept + repeated))


def energy_of(registers: list[int]) -> Decimal:
    """Register difference across resets: each run between two resets counts from its first
    reading to its last (what the meter counted between the readings that arrived)."""
    runs: list[list[int]] = [[registers[0]]]
    for value in registers[1:]:
        if value < runs[-1][-1]:
            runs.append([value])
        else:
            runs[-1].append(value)
    return Decimal(sum(run[-1] - run[0] for run in runs))


# --- the system under test: the real central system and tables, replies captured ----------


@dataclass
class Captured:
    replies: list[list[Any]] = field(default_factory=list)
    kept: list[RejectedFrame] = field(default_factory=list)

    def send(self, charge_point_id: str, frame: str) -> None:
        self.replies.append(json.loads(frame))

    def keep(self, frame: RejectedFrame) -> None:
        self.kept.append(frame)


@dataclass
class World:
    ingest: IngestService
    captured: Captured
    sessions: SessionsTable
    billing: Billing
    sfn: Any
    state_machine_arn: str

    def deliver(self, charge_point_id: str, frame: list[Any]) -> list[Any]:
        before = len(self.captured.replies)
        raw = json.dumps(frame).encode()
        self.ingest.process(
            InboundFrame.model_validate(
                {
                    "payload": base64.b64encode(raw).decode(),
                    "chargePointId": charge_point_id,
                    "receivedAt": 1_767_225_600_000,
                }
            )
        )
        replies = self.captured.replies[before:]
        assert len(replies) == 1, f"{frame[2]} got {len(replies)} replies"
        return replies[0]

    def billing_runs(self, session_id: str) -> int:
        executions = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        return sum(e["name"] == execution_name(session_id) for e in executions)

    def facts(self, session_id: str) -> dict[str, Any]:
        closed = self.billing.finalize(CloseRequest(session_id=session_id))
        session: Session = self.sessions.get(session_id)
        facts = {name: getattr(session, name) for name in FACTS}
        facts["samples"] = sorted(session.samples, key=lambda s: s.timestamp)
        return facts | {"energy_wh": closed.energy_wh}


@pytest.fixture(scope="module")
def world(aws) -> World:
    document = json.loads(EXAMPLE_REGISTRY.read_text())
    document["chargers"].append(
        {
            "id": CP201,
            "site_id": "sthlm-depot",
            "connectors": 2,
            "max_power_kw": "22",
            "ocpp_version": "2.0.1",
        }
    )
    registry = RegistryTable(aws.registry_table)
    registry.import_document(RegistryDocument.model_validate(document))
    sessions = SessionsTable(aws.sessions_table)
    workflow = BillingWorkflow(aws.state_machine_arn)
    ports = (registry, sessions, workflow)
    captured = Captured()
    central = CentralSystem(registry, {"1.6": CentralSystem16(*ports), "2.0.1": CentralSystem201(*ports)})
    return World(
        ingest=IngestService(central=central, link=captured, quarantine=captured),
        captured=captured,
        sessions=sessions,
        billing=Billing(
            sessions, registry, InvoiceBucket(aws.invoice_bucket), BillingTable(aws.billing_table)
        ),
        sfn=aws.client("stepfunctions"),
        state_machine_arn=aws.state_machine_arn,
    )


# --- OCPP 1.6 ------------------------------------------------------------------------------


def frames_16(metered: Metered, transaction_id: int, connector: int) -> list[list[Any]]:
    """MeterValues for each reading, then the stop (the start has already been answered)."""
    frames: list[list[Any]] = []
    last = len(metered.registers) - 1
    for index in range(1, last):
        power = (metered.registers[index] - metered.registers[index - 1]) * 12  # W over 5 minutes
        sampled = [
            {
                "value": str(metered.registers[index]),
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {"value": str(max(power, 0)), "measurand": "Power.Active.Import", "unit": "W"},
        ]
        frames.append(
            [2, f"m{connector}-{index}", "MeterValues",
             {"connectorId": connector, "transactionId": transaction_id,
              "meterValue": [{"timestamp": metered.at(index).isoformat(), "sampledValue": sampled}]}]
        )  # fmt: skip
    stop = {
        "transactionId": transaction_id,
        "meterStop": metered.registers[last],
        "timestamp": metered.at(last).isoformat(),
        "reason": "EVDisconnected",
        "idTag": TAG,
    }
    return [*frames, [2, f"s{connector}", "StopTransaction", stop]]


def start_16(world: World, metered: Metered, connector: int) -> int:
    start = {
        "connectorId": connector,
        "idTag": TAG,
        "meterStart": metered.registers[0],
        "timestamp": metered.started_at.isoformat(),
    }
    reply = world.deliver(CP16, [2, f"start{connector}", "StartTransaction", start])
    # A StartTransaction retried after a lost reply is the same transaction.
    assert world.deliver(CP16, [2, f"again{connector}", "StartTransaction", start])[2] == reply[2]
    return int(reply[2]["transactionId"])


@DELIVERY
@given(metered=metered_sessions(), data=st.data())
def test_an_ocpp16_session_is_the_same_however_its_frames_arrive(world, metered, data):
    # Given a metered session, and which of its frames arrive how often and in what order
    frame_count = len(metered.registers) - 1
    order = data.draw(deliveries(frame_count, keep_first=False))
    arrived = sorted(set(order))
    kept_before = len(world.captured.kept)

    # When the arrived frames come once and in order on one connector, and duplicated and
    # shuffled on the other
    clean_tx = start_16(world, metered, connector=1)
    clean = frames_16(metered, clean_tx, 1)
    for index in arrived:
        assert world.deliver(CP16, clean[index])[0] == 3
    mixed_tx = start_16(world, metered, connector=2)
    mixed = frames_16(metered, mixed_tx, 2)
    for index in order:
        assert world.deliver(CP16, mixed[index])[0] == 3

    # Then both sessions have the same facts, and the energy the meter counted
    clean_id, mixed_id = f"{CP16}:{clean_tx}", f"{CP16}:{mixed_tx}"
    facts = world.facts(mixed_id)
    assert facts == world.facts(clean_id)
    delivered = [metered.registers[0]] + [metered.registers[i + 1] for i in arrived]
    assert facts["energy_wh"] == energy_of(delivered)
    assert world.billing_runs(mixed_id) == 1
    assert world.captured.kept[kept_before:] == []


# --- OCPP 2.0.1 ----------------------------------------------------------------------------


def frames_201(metered: Metered, transaction_id: str, offline: list[bool]) -> list[list[Any]]:
    last = len(metered.registers) - 1
    frames: list[list[Any]] = []
    for index, register in enumerate(metered.registers):
        kind = "Started" if index == 0 else "Ended" if index == last else "Updated"
        info: dict[str, Any] = {"transactionId": transaction_id, "timeSpentCharging": index * 300}
        if kind == "Ended":
            info["stoppedReason"] = "EVDisconnected"
        else:
            info["chargingState"] = metered.states[index]
        event: dict[str, Any] = {
            "eventType": kind,
            "timestamp": metered.at(index).isoformat(),
            "triggerReason": {
                "Started": "Authorized",
                "Updated": "MeterValuePeriodic",
                "Ended": "EVDeparted",
            }[kind],
            "seqNo": index,
            "transactionInfo": info,
            "meterValue": [
                {
                    "timestamp": metered.at(index).isoformat(),
                    "sampledValue": [
                        {
                            "value": register,
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "Wh"},
                        }
                    ],
                }
            ],
        }
        if offline[index]:
            event["offline"] = True
        if kind == "Started":
            event["idToken"] = {"idToken": TAG, "type": "ISO14443"}
            event["evse"] = {"id": 1, "connectorId": 1}
        frames.append([2, f"e{index}", "TransactionEvent", event])
    return frames


@DELIVERY
@given(metered=metered_sessions(), data=st.data())
def test_an_ocpp201_transaction_is_the_same_however_its_events_arrive(world, metered, data):
    # Given a metered transaction (some events queued offline), and which events arrive how
    # often and in what order: even Ended may overtake Started
    frames = len(metered.registers)
    order = data.draw(deliveries(frames, keep_first=True))
    offline = data.draw(st.lists(st.booleans(), min_size=frames, max_size=frames))
    arrived = sorted(set(order))
    kept_before = len(world.captured.kept)
    run = uuid.uuid4().hex[:12]

    # When the arrived events come once and in order as one transaction, and duplicated and
    # shuffled as another
    clean = frames_201(metered, f"clean-{run}", offline)
    for index in arrived:
        assert world.deliver(CP201, clean[index])[0] == 3
    mixed = frames_201(metered, f"mixed-{run}", offline)
    for index in order:
        assert world.deliver(CP201, mixed[index])[0] == 3

    # Then both have the same facts, the energy the meter counted, and the lost events as gaps
    clean_id, mixed_id = f"{CP201}:clean-{run}", f"{CP201}:mixed-{run}"
    facts = world.facts(mixed_id)
    assert facts == world.facts(clean_id)
    assert facts["energy_wh"] == energy_of([metered.registers[i] for i in arrived])
    assert world.sessions.get(mixed_id).seq_gaps == [i for i in range(frames) if i not in arrived]
    assert facts["offline_events"] == any(offline[i] for i in arrived)
    assert world.sessions.parked(mixed_id) == []
    assert world.billing_runs(mixed_id) == 1
    assert world.captured.kept[kept_before:] == []
