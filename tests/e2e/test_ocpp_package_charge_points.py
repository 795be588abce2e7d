"""Sessions driven by the `ocpp` package's own charge point side, OCPP 1.6J and 2.0.1, through the
whole local stack.

Nobody here wrote that implementation: it numbers its Calls, waits for their replies on its own,
and validates every request and every reply against the official OCPP schemas (the default of
`ChargePoint.call`, left on). What passes here is what a real charger built on it would accept.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16 import datatypes as types16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201 import datatypes as types201

from laddvakt.charge_point_link import ChargePointLink, listening
from laddvakt.cli import main
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CHARGER_16 = "LV-GBG-OCPP16"
STATION_201 = "LV-GBG-OCPP201"
# Kust Taxi Lindholmen (gbg-taxi): 3.45 SEK/kWh excluding 25 % VAT.
PRICE_PER_KWH = Decimal("3.45")
WITH_VAT = Decimal("1.25")
CALL_TIMEOUT_SECONDS = 15
INVOICE_DEADLINE_SECONDS = 30


def in_event_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Runs an async test in its own event loop (pytest's fixtures stay synchronous)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class CallErrorsRaise:
    """`ChargePoint.call` returns None for a CallError by default; here it raises, so a refused
    frame fails the test at the Call that was refused."""

    async def call(self, payload: Any, suppress: bool = False, **options: Any) -> Any:
        return await super().call(payload, suppress=suppress, **options)  # the ChargePoint it is mixed into


class Charger16(CallErrorsRaise, ChargePoint16):
    """A 1.6 charger as the `ocpp` package implements one."""

    async def report(self, connector_id: int, status: str, at: datetime) -> None:
        await self.call(
            call16.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status, timestamp=iso(at)
            )
        )


class Station201(CallErrorsRaise, ChargePoint201):
    """A 2.0.1 charging station as the `ocpp` package implements one."""

    async def report(self, evse_id: int, status: str, at: datetime) -> None:
        await self.call(
            call201.StatusNotification(
                timestamp=iso(at), connector_status=status, evse_id=evse_id, connector_id=1
            )
        )


@pytest.fixture(scope="module")
def stack(local_stack, tmp_path_factory) -> Any:
    # Kust Taxi's site gets one charger of each version (an import is an upsert)
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"] = [
        {
            "id": CHARGER_16,
            "site_id": "gbg-taxi",
            "connectors": 2,
            "max_power_kw": "50",
            "ocpp_version": "1.6",
        },
        {
            "id": STATION_201,
            "site_id": "gbg-taxi",
            "connectors": 2,
            "max_power_kw": "150",
            "ocpp_version": "2.0.1",
        },
    ]
    registry = Path(tmp_path_factory.mktemp("registry")) / "with-ocpp-package-chargers.json"
    registry.write_text(json.dumps(data))
    assert main(["registry", "import", str(registry), "--state-dir", str(local_stack.state_dir)]) == 0
    return local_stack


@asynccontextmanager
async def online(kind: type[Any], charge_point_id: str, stack: Any) -> AsyncIterator[Any]:
    """A charge point of `kind`, connected over MQTT, its routing loop running."""
    async with ChargePointLink(charge_point_id, stack.mqtt_host, stack.mqtt_port) as link:
        charge_point = kind(charge_point_id, link, response_timeout=CALL_TIMEOUT_SECONDS)
        async with listening(charge_point):
            yield charge_point


async def invoiced(stack: Any, session_id: str) -> dict[str, Any]:
    """Waits until the session is invoiced, then returns its invoice as the bucket holds it."""
    table = stack.table(stack.names["sessions_table"])
    deadline = time.monotonic() + INVOICE_DEADLINE_SECONDS
    head: dict[str, Any] = {}
    while time.monotonic() < deadline:
        head = table.get_item(Key={"session_id": session_id, "sk": "SESSION"}).get("Item", {})
        if head.get("status") == "invoiced":
            break
        await asyncio.sleep(0.25)
    assert head.get("status") == "invoiced", (
        f"{session_id} is {head.get('status')!r} after {INVOICE_DEADLINE_SECONDS} s"
    )
    stored = stack.client("s3").get_object(Bucket=stack.names["invoice_bucket"], Key=head["invoice_key"])
    return dict(json.loads(stored["Body"].read()))


def gross(energy_wh: int) -> Decimal:
    """What the site's tariff makes of this energy, VAT included, to the öre."""
    return (Decimal(energy_wh) / 1000 * PRICE_PER_KWH * WITH_VAT).quantize(Decimal("0.01"), ROUND_HALF_UP)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def recently(minutes_ago: float) -> datetime:
    # Times just past, so the stack's reaper never sees these sessions as silent.
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)


def reading16(at: datetime, register_wh: int, power_kw: str) -> types16.MeterValue:
    return types16.MeterValue(
        timestamp=iso(at),
        sampled_value=[
            types16.SampledValue(
                value=str(register_wh),
                measurand="Energy.Active.Import.Register",
                unit="Wh",
                context="Sample.Periodic",
            ),
            types16.SampledValue(
                value=power_kw, measurand="Power.Active.Import", unit="kW", context="Sample.Periodic"
            ),
        ],
    )


def reading201(at: datetime, *sampled: types201.SampledValueType) -> list[types201.MeterValueType]:
    return [types201.MeterValueType(timestamp=iso(at), sampled_value=list(sampled))]


def register201(value: float, unit: str = "Wh", multiplier: int = 0) -> types201.SampledValueType:
    return types201.SampledValueType(
        value=value,
        measurand="Energy.Active.Import.Register",
        unit_of_measure=types201.UnitOfMeasureType(unit=unit, multiplier=multiplier),
    )


def power201(value: float, unit: str = "W") -> types201.SampledValueType:
    return types201.SampledValueType(
        value=value, measurand="Power.Active.Import", unit_of_measure=types201.UnitOfMeasureType(unit=unit)
    )


# --- OCPP 1.6J --------------------------------------------------------------------------------------


@in_event_loop
async def test_a_1_6_session_from_the_ocpp_package_is_invoiced_at_the_site_tariff(stack):
    plugged_in = recently(minutes_ago=50)
    meter_start, meter_stop = 1_200_000, 1_223_456
    async with online(Charger16, CHARGER_16, stack) as charger:
        # Given a registered 1.6 charger that boots, reports its connector and authorizes a card
        booted = await charger.call(
            call16.BootNotification(charge_point_vendor="Laddvakt e2e", charge_point_model="DC50")
        )
        assert isinstance(booted, result16.BootNotification), "the reply passed the package's schema check"
        assert booted.status == "Accepted"
        await charger.report(1, "Preparing", plugged_in)
        authorized = await charger.call(call16.Authorize(id_tag="RFID0011"))
        assert authorized.id_tag_info["status"] == "Accepted"

        # When it starts a transaction, meters it for 45 minutes at 30 kW and the taxi leaves
        started = await charger.call(
            call16.StartTransaction(
                connector_id=1, id_tag="RFID0011", meter_start=meter_start, timestamp=iso(plugged_in)
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        transaction_id = started.transaction_id
        await charger.report(1, "Charging", plugged_in)
        for quarter, register_wh in enumerate((1_207_500, 1_215_000, 1_222_500), start=1):
            at = plugged_in + timedelta(minutes=15 * quarter)
            metered = await charger.call(
                call16.MeterValues(
                    connector_id=1,
                    transaction_id=transaction_id,
                    meter_value=[reading16(at, register_wh, "30.0")],
                )
            )
            assert isinstance(metered, result16.MeterValues)
        stopped = await charger.call(
            call16.StopTransaction(
                meter_stop=meter_stop,
                transaction_id=transaction_id,
                timestamp=iso(plugged_in + timedelta(minutes=47)),
                id_tag="RFID0011",
                reason="EVDisconnected",
            )
        )
        assert isinstance(stopped, result16.StopTransaction)
        await charger.report(1, "Available", plugged_in + timedelta(minutes=48))

    # Then the session is invoiced: 23.456 kWh × 3.45 SEK × 1.25 = 101.15 SEK, what finance bills
    expected = gross(meter_stop - meter_start)
    assert expected == Decimal("101.15")
    invoice = await invoiced(stack, f"{CHARGER_16}:{transaction_id}")
    assert invoice["document"]["totals"]["tax_inclusive_total"] == str(expected)
    assert invoice["session"]["transaction_id"] == str(transaction_id)


@in_event_loop
async def test_a_1_6_start_retried_after_a_lost_reply_gets_the_same_transaction_id(stack):
    plugged_in = recently(minutes_ago=5)
    start = call16.StartTransaction(
        connector_id=2, id_tag="RFID0012", meter_start=2_000_000, timestamp=iso(plugged_in)
    )
    async with online(Charger16, CHARGER_16, stack) as charger:
        # Given a start the central system answered, but whose reply the charger never saw
        first = await charger.call(start)

        # When the charger sends the same StartTransaction again, as OCPP tells it to
        retried = await charger.call(start)

        # Then it gets the same transaction: one session, never billed twice
        assert retried.transaction_id == first.transaction_id
        assert retried.id_tag_info["status"] == "Accepted"
        # The taxi leaves, so no session of this test stays open for the reaper
        await charger.call(
            call16.StopTransaction(
                meter_stop=2_000_500,
                transaction_id=first.transaction_id,
                timestamp=iso(plugged_in + timedelta(minutes=2)),
            )
        )


@in_event_loop
async def test_a_1_6_card_nobody_issued_is_refused_with_a_valid_reply(stack):
    async with online(Charger16, CHARGER_16, stack) as charger:
        # When a card Laddvakt does not know is presented
        refused = await charger.call(call16.Authorize(id_tag="RFID-NOBODY"))

    # Then the charger reads a schema-valid refusal, not an error it cannot act on
    assert isinstance(refused, result16.Authorize)
    assert refused.id_tag_info["status"] == "Invalid"


# --- OCPP 2.0.1 -------------------------------------------------------------------------------------


@in_event_loop
async def test_a_2_0_1_transaction_from_the_ocpp_package_is_invoiced_at_the_total_cost_it_was_told(stack):
    plugged_in = recently(minutes_ago=40)
    transaction = "ocpp-package-201-a"
    meter_start, meter_stop = 8_000_000, 8_031_234
    card = types201.IdTokenType(id_token="RFID0013", type="ISO14443")
    async with online(Station201, STATION_201, stack) as station:
        # Given a registered 2.0.1 station that boots, sees a car plugged in and authorizes a card
        booted = await station.call(
            call201.BootNotification(
                charging_station=types201.ChargingStationType(vendor_name="Laddvakt e2e", model="DC150"),
                reason="PowerUp",
            )
        )
        assert isinstance(booted, result201.BootNotification), "the reply passed the package's schema check"
        assert booted.status == "Accepted"
        await station.report(1, "Occupied", plugged_in)
        authorized = await station.call(call201.Authorize(id_token=card))
        assert authorized.id_token_info["status"] == "Accepted"

        # When the transaction starts, the car states its needs, meter values come in kWh and in Wh
        # with a multiplier, and the car leaves
        started = await station.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=iso(plugged_in),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info=types201.TransactionType(
                    transaction_id=transaction, charging_state="Charging"
                ),
                id_token=card,
                evse=types201.EVSEType(id=1, connector_id=1),
                meter_value=reading201(plugged_in, register201(meter_start)),
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        needs = await station.call(
            call201.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs=types201.ChargingNeedsType(
                    requested_energy_transfer="DC",
                    departure_time=iso(plugged_in + timedelta(hours=2)),
                    dc_charging_parameters=types201.DCChargingParametersType(
                        ev_max_current=300, ev_max_voltage=800, energy_amount=40_000
                    ),
                ),
            )
        )
        assert needs.status == "Accepted"
        quarter, half_hour = plugged_in + timedelta(minutes=15), plugged_in + timedelta(minutes=30)
        await station.call(
            call201.TransactionEvent(
                event_type="Updated",
                timestamp=iso(quarter),
                trigger_reason="MeterValuePeriodic",
                seq_no=1,
                transaction_info=types201.TransactionType(transaction_id=transaction),
                meter_value=reading201(quarter, register201(8012.5, unit="kWh"), power201(50, unit="kW")),
            )
        )
        await station.call(
            call201.TransactionEvent(
                event_type="Updated",
                timestamp=iso(half_hour),
                trigger_reason="MeterValuePeriodic",
                seq_no=2,
                transaction_info=types201.TransactionType(transaction_id=transaction),
                meter_value=reading201(half_hour, register201(8024.0, multiplier=3), power201(46_000)),
            )
        )
        left = plugged_in + timedelta(minutes=38)
        ended = await station.call(
            call201.TransactionEvent(
                event_type="Ended",
                timestamp=iso(left),
                trigger_reason="EVDeparted",
                seq_no=3,
                transaction_info=types201.TransactionType(
                    transaction_id=transaction, stopped_reason="EVDisconnected"
                ),
                meter_value=reading201(left, register201(meter_stop)),
            )
        )
        await station.report(1, "Available", left)

    # Then the station was told 31.234 kWh × 3.45 SEK × 1.25 = 134.70 SEK, and the invoice says the same
    expected = gross(meter_stop - meter_start)
    assert expected == Decimal("134.70")
    assert Decimal(str(ended.total_cost)) == expected
    invoice = await invoiced(stack, f"{STATION_201}:{transaction}")
    assert invoice["document"]["totals"]["tax_inclusive_total"] == str(expected)
    assert invoice["session"]["transaction_id"] == transaction


@in_event_loop
async def test_a_2_0_1_token_nobody_issued_is_refused_with_a_valid_reply(stack):
    async with online(Station201, STATION_201, stack) as station:
        # When a token Laddvakt does not know is presented
        refused = await station.call(
            call201.Authorize(id_token=types201.IdTokenType(id_token="RFID-NOBODY", type="ISO14443"))
        )

    # Then the station reads a schema-valid refusal, in 2.0.1's word for it
    assert isinstance(refused, result201.Authorize)
    assert refused.id_token_info["status"] == "Unknown"
