"""An operator imports an OCPI time-of-use tariff and assigns it to one fleet at a site; that
fleet's sessions are then billed by it, line by line, in a valid e-invoice, and other fleets'
sessions keep the site's own price."""

from __future__ import annotations

import csv
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from shared.models.billing_documents import read_invoice_file
from tests.invoice_documents import peppol_validator
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-GBG-TOU"
TARIFF = {
    "country_code": "SE",
    "party_id": "LVK",
    "id": "kust-natt",
    "currency": "SEK",
    "last_updated": "2026-01-01T00:00:00Z",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 10.00, "vat": 25, "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": 1.50, "vat": 25, "step_size": 1}],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 3.45, "vat": 25, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 30.00, "vat": 25, "step_size": 60}]},
    ],
}


@pytest.fixture(scope="module")
def tou_charger(local_stack, tmp_path_factory) -> Any:
    folder = Path(tmp_path_factory.mktemp("tou"))
    (folder / "tariff.json").write_text(json.dumps(TARIFF))
    # Given the tariff imported (twice: a repeat is harmless) and assigned to Kust Taxi on a new charger
    state = ["--state-dir", str(local_stack.state_dir)]
    assert main(["tariffs", "import", str(folder / "tariff.json"), *state]) == 0
    assert main(["tariffs", "import", str(folder / "tariff.json"), *state]) == 0
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"] = [
        {
            "id": CP,
            "site_id": "gbg-taxi",
            "connectors": 1,
            "max_power_kw": "50",
            "fleet_tariff_ids": {"kusttaxi": "kust-natt"},
        }
    ]
    (folder / "registry.json").write_text(json.dumps(data))
    assert main(["registry", "import", str(folder / "registry.json"), *state]) == 0
    charger = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port)
    charger.call(call.BootNotification(charge_point_model="DC50", charge_point_vendor="Sim"))
    yield charger
    charger.close()


def meter(transaction_id: int, at: str, wh: int, w: int) -> Any:
    return call.MeterValues(
        connector_id=1,
        transaction_id=transaction_id,
        meter_value=[{"timestamp": at, "sampled_value": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"}]}],
    )  # fmt: skip


def test_a_fleets_session_is_billed_by_its_time_of_use_tariff(local_stack, tou_charger):
    # When a Kust Taxi car charges from 21:00 to 23:00 Stockholm time (20:00–22:00 UTC, winter):
    # 10 kWh before 22:00, 10 kWh after, then stays plugged in, not charging, until 23:30
    started = tou_charger.call(
        call.StartTransaction(
            connector_id=1, id_tag="RFID0011", meter_start=500_000, timestamp="2026-11-25T20:00:00Z"
        )
    )
    tx = started["transactionId"]
    tou_charger.call(meter(tx, "2026-11-25T21:00:00Z", 510_000, 10_000))
    tou_charger.call(meter(tx, "2026-11-25T22:00:00Z", 520_000, 0))
    tou_charger.call(
        call.StopTransaction(meter_stop=520_000, timestamp="2026-11-25T22:30:00Z", transaction_id=tx)
    )

    # Then it is invoiced with the start fee, day and night energy and the parking half hour
    table = local_stack.table(local_stack.names["sessions_table"])
    deadline = time.monotonic() + 60
    head: dict[str, Any] = {}
    while time.monotonic() < deadline and head.get("status") != "invoiced":
        head = table.get_item(Key={"session_id": f"{CP}:{tx}", "sk": "SESSION"}).get("Item", {})
        time.sleep(0.25)
    assert head.get("status") == "invoiced", head.get("hold_reason")
    s3 = local_stack.client("s3")
    bucket = local_stack.names["invoice_bucket"]
    invoice = read_invoice_file(s3.get_object(Bucket=bucket, Key=head["invoice_key"])["Body"].read())
    lines = {(line.seller_item_id, line.net_price): line for line in invoice.document.lines}
    assert lines[("FLAT", Decimal("10.00"))].net_amount == Decimal("10.00")
    assert lines[("ENERGY", Decimal("3.45"))].quantity == Decimal(10)  # 21:00–22:00 local
    assert lines[("ENERGY", Decimal("1.50"))].quantity == Decimal(10)  # 22:00–23:00 local: night
    assert lines[("PARKING_TIME", Decimal("30.00"))].quantity == Decimal("0.5")
    # 10 + 34.50 + 15 + 15 = 74.50 net, 18.63 VAT, 93.13 to pay
    assert invoice.document.totals.payable == Decimal("93.13")
    assert invoice.cdr.model_extra["tariffs"][0]["id"] == "kust-natt"
    xml = s3.get_object(Bucket=bucket, Key=head["invoice_key"].replace(".json", ".xml"))["Body"].read()
    report = peppol_validator().validate(xml)
    assert report.passed, report.rule_ids()


def test_finance_exports_the_month_for_its_books(local_stack, tou_charger, tmp_path):
    # Given the month's invoices (the session above ended in November, Stockholm time)
    # When finance exports November
    assert (
        main(
            [
                "invoices",
                "export",
                "--month",
                "2026-11",
                "--out",
                str(tmp_path),
                "--state-dir",
                str(local_stack.state_dir),
            ]
        )
        == 0
    )
    # Then every document is there in all three forms, and the CSV has a row per document and rate
    month = tmp_path / "2026-11"
    rows = list(csv.DictReader((month / "invoices.csv").open(encoding="utf-8")))
    ours = [r for r in rows if r["charge_point_id"] == CP]
    assert [(r["vat_rate"], r["taxable_amount"], r["vat_amount"], r["document_total"]) for r in ours] == [
        ("25", "74.50", "18.63", "93.13")
    ]
    number = ours[0]["document_number"]
    assert {p.suffix for p in month.glob(f"{number}.*")} == {".json", ".xml", ".pdf"}
    numbers = [r["document_number"] for r in rows]
    assert numbers == sorted(numbers)
