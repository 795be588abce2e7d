"""A fleet billed monthly: each session's CDR is sealed as it ends, and on the 1st one statement
bills the month, its lines summed by what they bill, with a per-session specification."""

from __future__ import annotations

import csv
import io
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.invoice_documents import peppol_validator
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-MONTHLY-1"
FLEET = "brevbilen"


@pytest.fixture(scope="module")
def monthly_charger(local_stack, tmp_path_factory) -> Any:
    # Given a fleet billed monthly, with its own site (2.80 SEK/kWh + 25 %), charger and card
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["fleets"] = [
        {
            "id": FLEET,
            "name": "Brevbilen AB",
            "organisation_number": "556000-3336",
            "vat_number": "SE556000333601",
            "address": {"city": "Malmö", "country": "SE"},
            "buyer_reference": "BB-EL",
            "invoicing": "monthly",
        }
    ]
    data["sites"] = [
        {
            "id": "bb-depot",
            "fleet_id": FLEET,
            "name": "Brevbilen depå",
            "address": {"city": "Malmö"},
            "tariff": {"currency": "SEK", "energy_price_per_kwh": "2.80", "vat_rate_percent": "25"},
        }
    ]
    data["chargers"] = [{"id": CP, "site_id": "bb-depot", "connectors": 2, "max_power_kw": "22"}]
    data["vehicles"], data["drivers"] = [], []
    data["tokens"] = [{"id_tag": "BB-CARD-1", "fleet_id": FLEET}]
    path = Path(tmp_path_factory.mktemp("monthly")) / "registry.json"
    path.write_text(json.dumps(data))
    assert main(["registry", "import", str(path), "--state-dir", str(local_stack.state_dir)]) == 0
    charger = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port)
    yield charger
    charger.close()


def charge(charger: Any, connector: int, start: str, stop: str, wh: int) -> int:
    started = charger.call(
        call.StartTransaction(connector_id=connector, id_tag="BB-CARD-1", meter_start=1_000, timestamp=start)
    )
    tx = started["transactionId"]
    charger.call(call.StopTransaction(meter_stop=1_000 + wh, timestamp=stop, transaction_id=tx))
    return int(tx)


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_month_of_sessions_is_billed_on_one_statement(local_stack, monthly_charger):
    # When two of its cars charge in October (10 kWh on the 3rd, 20.5 kWh on the 30th)
    txs = [
        charge(monthly_charger, 1, "2026-10-03T06:00:00Z", "2026-10-03T07:00:00Z", 10_000),
        charge(monthly_charger, 2, "2026-10-30T18:00:00Z", "2026-10-30T20:00:00Z", 20_500),
    ]
    sessions = local_stack.table(local_stack.names["sessions_table"])

    def status(tx: int) -> str:
        return str(
            sessions.get_item(Key={"session_id": f"{CP}:{tx}", "sk": "SESSION"}).get("Item", {}).get("status")
        )

    # Then each is priced and sealed and waits for the statement: no invoice of its own
    wait_for(
        lambda: all(status(tx) == "on_statement" for tx in txs), "both sessions on the October statement"
    )

    # When the statement runs for October
    assert (
        main(
            [
                "statements",
                "run",
                "--month",
                "2026-10",
                "--fleet",
                FLEET,
                "--state-dir",
                str(local_stack.state_dir),
            ]
        )
        == 0
    )
    billing = local_stack.table(local_stack.names["billing_table"])

    def statement() -> dict[str, Any] | None:
        items = billing.query(KeyConditionExpression=Key("pk").eq(f"FLEET#{FLEET}"))["Items"]
        return next((i for i in items if i["session_id"] == f"statement:{FLEET}:2026-10"), None)

    record = wait_for(statement, "the October statement", timeout=120)
    # Then one invoice bills 30.5 kWh at 2.80 (85.40) + 25 % VAT = 106.75
    s3, bucket = local_stack.client("s3"), local_stack.names["invoice_bucket"]
    document = json.loads(s3.get_object(Bucket=bucket, Key=record["keys"]["json"])["Body"].read())["document"]
    (line,) = document["lines"]
    assert (Decimal(line["quantity"]), line["unit_code"], line["net_price"]) == (
        Decimal("30.5"),
        "KWH",
        "2.80",
    )
    assert document["totals"]["payable"] == "106.75"
    assert "2 laddsessioner" in document["note"]
    # And its specification lists each session, and the e-invoice passes the Peppol rules
    spec = s3.get_object(Bucket=bucket, Key=record["keys"]["csv"])["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(spec)))
    assert [r["energy_kwh"] for r in rows] == ["10.000", "20.500"]
    xml = s3.get_object(Bucket=bucket, Key=record["keys"]["xml"])["Body"].read()
    assert peppol_validator().validate(xml).passed
    assert s3.get_object(Bucket=bucket, Key=record["keys"]["pdf"])["Body"].read().startswith(b"%PDF")
