"""Registry CSV files as an operator exports them from a spreadsheet: every bad row named at once,
nested fields and maps rebuilt, references resolved against the files and the registry."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from laddvakt.registry_import import Batch, columns, read_csv, read_files, site_fleets, unresolved

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "registry-csv"


def batch_of(kind, text: str, source: str = "file.csv") -> Batch:
    batch = Batch()
    read_csv(source, text, kind, batch)
    return batch


def test_every_bad_row_is_named_with_its_file_row_id_column_and_reason():
    # Given a vehicles file with good rows and two bad ones (rows as a spreadsheet numbers them)
    text = "\n".join(
        [
            "id,fleet_id,name,battery_kwh,usual_departure",
            "van-1,nordvind,Van 1,75,07:30",
            "van-2,nordvind,Van 2,60,",
            "van-3,nordvind,,,",
            "van-4,nordvind,Van 4,82,06:00",
            "van-5,nordvind,Van 5,50,",
            "van-12,nordvind,Van 12,0,25:00",
            "bad id!,nordvind,,40,",
        ]
    )
    # When it is read
    batch = batch_of("vehicles", text, "vehicles.csv")
    # Then each problem names where it is, and the sound rows are kept
    assert batch.problems == [
        "vehicles.csv row 7 (id van-12): battery_kwh: Input should be greater than 0",
        "vehicles.csv row 7 (id van-12): usual_departure: String should match pattern "
        "'^([01][0-9]|2[0-3]):[0-5][0-9]$'",
        "vehicles.csv row 8 (id bad id!): id: String should match pattern '^[A-Za-z0-9._\\-]+$'",
    ]
    assert [row.record.id for row in batch.rows["vehicles"]] == ["van-1", "van-2", "van-3", "van-4", "van-5"]


def test_an_empty_cell_is_the_default_and_nested_fields_and_maps_are_rebuilt():
    sites = batch_of(
        "sites",
        "id,fleet_id,name,time_zone,address_city,grid_limit_kw,tariff_energy_price_per_kwh,tariff_vat_rate_percent\n"
        "depot,nordvind,Depå,,Solna,,2.80,25\n",
    )
    chargers = batch_of(
        "chargers", "id,site_id,connectors,max_power_kw,connector_max_power_kw\nCP-1,depot,3,22,2=50;3=150\n"
    )
    vehicles = batch_of("vehicles", "id,fleet_id,default_target_soc_percent\nvan,nordvind,\n")
    assert sites.problems == chargers.problems == vehicles.problems == []
    site = sites.rows["sites"][0].record
    assert (site.time_zone, site.address.city, site.address.country, site.grid_limit_kw) == (
        "Europe/Stockholm",
        "Solna",
        "SE",
        None,
    )
    assert site.tariff.energy_price_per_kwh == Decimal("2.80") and site.tariff.currency == "SEK"
    charger = chargers.rows["chargers"][0].record
    assert charger.connector_max_power_kw == {2: Decimal(50), 3: Decimal(150)}
    assert vehicles.rows["vehicles"][0].record.default_target_soc_percent == Decimal(80)


def test_a_spreadsheet_saved_with_semicolons_reads_the_same():
    batch = batch_of("drivers", "id;fleet_id;name;email\nd-1;nordvind;Åsa Öberg;asa@example.se\n")
    assert batch.problems == []
    assert batch.rows["drivers"][0].record.name == "Åsa Öberg"


def test_bad_columns_are_one_problem_per_file_not_one_per_row():
    batch = batch_of("tokens", "id_tag,colour,vehicle\nRFID1,red,van\nRFID2,blue,van\n", "tokens.csv")
    assert batch.problems == [
        f"tokens.csv: unknown column(s) colour, vehicle (a tokens file has {', '.join(columns('tokens'))})",
        "tokens.csv: missing column(s) fleet_id",
    ]
    assert batch.rows["tokens"] == []


def test_cells_that_are_not_a_map_or_do_not_fit_the_header_are_named():
    batch = batch_of(
        "chargers",
        "id,site_id,connectors,connector_max_power_kw\nCP-1,depot,2,2:50\nCP-2,depot,2,,extra\nCP-3,depot,1,2=50\n",
        "chargers.csv",
    )
    assert batch.problems == [
        "chargers.csv row 2 (id CP-1): connector_max_power_kw: '2:50' is not key=value (e.g. 2=50;3=50)",
        "chargers.csv row 3 (id CP-2): 5 cells but 4 columns",
        "chargers.csv row 4 (id CP-3): (row): Value error, charger 'CP-3': connector_max_power_kw names "
        "connector(s) [2] but it has 1",
    ]


def test_the_kind_comes_from_the_file_name_or_kind_and_ids_are_unique_across_files(tmp_path):
    (tmp_path / "Drivers.csv").write_text("id,fleet_id\nd-1,nordvind\n")
    (tmp_path / "more.csv").write_text("id,fleet_id\nd-1,nordvind\n")
    (tmp_path / "people.csv").write_text("id,fleet_id\nd-2,nordvind\n")
    batch = read_files([tmp_path / "Drivers.csv", tmp_path / "people.csv"])
    assert batch.problems == [
        "people.csv: which records does it hold? Name it fleets.csv, sites.csv, chargers.csv, vehicles.csv, "
        "drivers.csv, tokens.csv or pass --kind"
    ]
    batch = read_files([tmp_path / "Drivers.csv", tmp_path / "more.csv"], kind="drivers")
    assert batch.problems == ["more.csv row 2 (id d-1): id 'd-1' again (first at Drivers.csv row 2 (id d-1))"]


def test_references_resolve_against_the_files_and_then_the_registry():
    # Given a registry that holds Nordvind's site, vehicle and driver, and Kust Taxi's vehicle
    registry = {
        ("fleet", "nordvind"): "nordvind",
        ("site", "sthlm-depot"): "nordvind",
        ("vehicle", "kus-v11"): "kusttaxi",
    }
    batch = Batch()
    read_csv(
        "chargers.csv",
        "id,site_id\nCP-1,sthlm-depot\nCP-2,new-site\nCP-3,atlantis\nCP-4,broken\n",
        "chargers",
        batch,
    )
    read_csv("sites.csv", "id,fleet_id,name\nnew-site,nordvind,New\nbroken,nordvind,\n", "sites", batch)
    read_csv(
        "tokens.csv",
        "id_tag,fleet_id,vehicle_id,driver_id\nT1,nordvind,kus-v11,\nT2,ghost-fleet,,\n",
        "tokens",
        batch,
    )
    # When the references are checked
    problems = unresolved(batch, lambda kind, record_id: registry.get((kind, record_id)))
    # Then only the ones that resolve nowhere, or in another fleet, are problems
    assert problems == [
        "tokens.csv row 3 (id_tag T2): fleet_id: fleet 'ghost-fleet' is neither in the files nor in the registry",
        "chargers.csv row 4 (id CP-3): site_id: site 'atlantis' is neither in the files nor in the registry",
        "tokens.csv row 2 (id_tag T1): vehicle_id: vehicle 'kus-v11' belongs to another fleet",
    ]
    # (the site row that was refused is reported once, not again by the charger standing on it)
    assert batch.problems == ["sites.csv row 3 (id broken): name: Field required"]
    # And a charger at a site only the registry holds is filed under that site's fleet
    assert site_fleets(batch, lambda kind, record_id: registry.get((kind, record_id))) == {
        "sthlm-depot": "nordvind"
    }


def test_the_example_files_are_one_consistent_fleet():
    batch = read_files(sorted(EXAMPLES.glob("*.csv")))
    assert batch.problems == []
    assert unresolved(batch, lambda kind, record_id: None) == []
    assert batch.counts() == {
        "fleets": 1,
        "sites": 1,
        "chargers": 2,
        "vehicles": 3,
        "drivers": 2,
        "tokens": 3,
    }
