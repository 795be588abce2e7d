"""`laddvakt registry import` with CSV files from a spreadsheet: a bad row anywhere refuses the
whole import, naming every bad row; good files are written, chargers under their site's fleet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest

from laddvakt.cli import main
from laddvakt.local.deploy import LocalDeployment
from shared.adapters.registry_table import RegistryTable
from shared.topology import Names
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration
NAMES = Names()
# The session's moto world is shared by every integration test: this registry lives apart.
OWN_REGION = "eu-west-3"
EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "examples" / "registry-csv"


@pytest.fixture(scope="module")
def state_dir(aws, synthesized_template, tmp_path_factory) -> Path:
    """A 'running stack' (its state file) whose registry already holds examples/registry.json."""
    LocalDeployment(synthesized_template, endpoint_url=None, region=OWN_REGION).create(
        {"AWS::DynamoDB::Table"}
    )
    directory = tmp_path_factory.mktemp("stack")
    names = {
        "registry_table": NAMES.registry_table,
        "sessions_table": NAMES.sessions_table,
        "rejected_frames_table": NAMES.rejected_frames_table,
        "invoice_bucket": "unused",
        "billing_state_machine": "unused",
        "statement_state_machine": "unused",
        "ledger_bucket": "unused",
    }
    (directory / "local.json").write_text(
        json.dumps({"names": names, "region": OWN_REGION, "endpoint_url": None})
    )
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--state-dir", str(directory)]) == 0
    return directory


@pytest.fixture(scope="module")
def registry(state_dir) -> RegistryTable:
    table = boto3.resource("dynamodb", region_name=OWN_REGION).Table(NAMES.registry_table)
    return RegistryTable(NAMES.registry_table, table=table)


def test_csv_files_with_bad_rows_are_refused_whole_naming_every_bad_row(
    state_dir, registry, tmp_path, capsys
):
    # Given a fleet's files with good rows, and bad rows in three of them
    files = tmp_path / "import"
    shutil.copytree(EXAMPLE_CSV, files)
    with (files / "vehicles.csv").open("a") as out:
        out.write("sb-v24,stadsbud,Budbil 24,,0,,,,\n")
        out.write("sb-v25,stadsbud,Budbil 25,,75,,,120,6:30\n")
    with (files / "chargers.csv").open("a") as out:
        out.write("LV-MALMO-23,atlantis,2,22,,1.6,,\n")
    with (files / "tokens.csv").open("a") as out:
        out.write("RFID0024,stadsbud,,kus-v11,Accepted\n")
    # When they are imported together
    status = main(
        ["registry", "import", *map(str, sorted(files.glob("*.csv"))), "--state-dir", str(state_dir)]
    )
    # Then the import is refused with exit code 2, naming every bad row
    errors = capsys.readouterr().err
    assert status == 2
    assert "refused, nothing was written (5 problem(s))" in errors
    for line in (
        "vehicles.csv row 5 (id sb-v24): battery_kwh: Input should be greater than 0",
        "vehicles.csv row 6 (id sb-v25): default_target_soc_percent: Input should be less than or equal to 100",
        "vehicles.csv row 6 (id sb-v25): usual_departure: String should match pattern",
        "chargers.csv row 4 (id LV-MALMO-23): site_id: site 'atlantis' is neither in the files nor in the registry",
        "tokens.csv row 5 (id_tag RFID0024): vehicle_id: vehicle 'kus-v11' belongs to another fleet",
    ):
        assert line in errors, line
    # And nothing was written, not even the good rows
    for kind, record_id in (
        ("fleet", "stadsbud"),
        ("site", "malmo-hamn"),
        ("vehicle", "sb-v21"),
        ("token", "RFID0021"),
    ):
        assert registry.record(kind, record_id) is None, (kind, record_id)


def test_good_csv_files_are_written_and_chargers_filed_under_their_sites_fleet(
    state_dir, registry, tmp_path, capsys
):
    # Given the example fleet's files, and a chargers file for a site the registry already holds
    extra = tmp_path / "depot-chargers.csv"
    extra.write_text("id,site_id,connectors,max_power_kw\nLV-STHLM-31,sthlm-depot,2,11\n")
    # When they are imported (the extra one's kind given with --kind)
    files = [*map(str, sorted(EXAMPLE_CSV.glob("*.csv")))]
    assert main(["registry", "import", *files, "--state-dir", str(state_dir)]) == 0
    assert main(["registry", "import", str(extra), "--kind", "chargers", "--state-dir", str(state_dir)]) == 0
    # Then every record is stored (the site with the price its file gave it)
    out = capsys.readouterr().out
    assert "imported 1 fleets, 1 sites, 2 chargers, 3 vehicles, 2 drivers, 3 tokens" in out
    assert registry.site("malmo-hamn").tariff is not None
    assert registry.placement("LV-MALMO-22").charger.connector_power_kw(3) == 50
    assert registry.token("RFID0021").vehicle_id == "sb-v21"
    assert registry.fleet("stadsbud").invoicing == "monthly"
    # And a fleet's inventory holds its chargers, including one filed under a site already stored
    assert {c.id for c in registry.fleet_inventory("stadsbud").chargers} == {"LV-MALMO-21", "LV-MALMO-22"}
    assert "LV-STHLM-31" in {c.id for c in registry.fleet_inventory("nordvind").chargers}


def test_with_no_running_stack_bad_files_are_still_refused_with_their_problems(tmp_path, capsys):
    bad = tmp_path / "drivers.csv"
    bad.write_text("id,fleet_id\n,nordvind\n")
    assert main(["registry", "import", str(bad), "--state-dir", str(tmp_path / "none")]) == 2
    errors = capsys.readouterr().err
    assert "drivers.csv row 2: id: Field required" in errors
    assert "references were not checked: no running stack" in errors
