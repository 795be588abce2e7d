"""A fleet admin manages the fleet's registry through the API: creates and replaces its sites,
chargers, vehicles, drivers and tokens, deletes what nothing refers to, and can neither see nor
change another fleet's (Nordvind is the caller here, Kust Taxi the other fleet)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain.errors import NotPriceable
from shared.models.registry import FlatTariff, RegistryRecords, Site
from shared.models.registry_api import SiteInput, TokenInput
from shared.registry_admin import RegistryAdmin
from tests.frames import api_event, published, sqs_event
from tests.frames import call as frame

pytestmark = pytest.mark.integration

FLEET, OTHER = "nordvind", "kusttaxi"


def call(
    handlers,
    context,
    method: str,
    path: str,
    body: Any = None,
    *,
    fleet: str = FLEET,
    groups: str = "admin",
    **query,
) -> tuple[int, Any]:
    response = handlers["fleet_api"].lambda_handler(
        api_event(
            path,
            fleet,
            groups=groups,
            method=method,
            body=body,
            query={k: str(v) for k, v in query.items()} or None,
        ),
        context,
    )
    body_text = response.get("body") or ""
    return response["statusCode"], json.loads(body_text) if body_text else None


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api(handlers, context):
    def send(method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return call(handlers, context, method, path, body, **kwargs)

    return send


# --- sites -----------------------------------------------------------------------------------


def test_a_site_is_created_replaced_read_listed_and_deleted(api):
    site = unique("site")
    # When the admin creates a site
    status, created = api("PUT", f"/sites/{site}", {"name": "Depå Solna", "grid_limit_kw": "250"})
    # Then it is created, without a price until the operator sets one
    assert status == 201
    assert created == {
        "id": site,
        "name": "Depå Solna",
        "time_zone": "Europe/Stockholm",
        "address": {"street": "", "postal_code": "", "city": "", "country": "SE"},
        "grid_limit_kw": "250",
        "priced": False,
    }
    # When it is sent again with other values, Then it is replaced (defaults where left out)
    status, replaced = api(
        "PUT", f"/sites/{site}", {"name": "Depå Solna norra", "address": {"city": "Solna"}}
    )
    assert status == 200
    assert (replaced["name"], replaced["address"]["city"], replaced["grid_limit_kw"]) == (
        "Depå Solna norra",
        "Solna",
        None,
    )
    # And it reads back as stored, and is listed among the fleet's sites
    assert api("GET", f"/sites/{site}") == (200, replaced)
    status, page = api("GET", "/sites", limit=500)
    assert status == 200 and site in [s["id"] for s in page["sites"]]
    assert {s["id"] for s in page["sites"]} >= {"sthlm-depot", "uppsala-hub"}
    assert "gbg-taxi" not in {s["id"] for s in page["sites"]}
    # When it is deleted, Then it is gone
    assert api("DELETE", f"/sites/{site}") == (204, None)
    assert api("GET", f"/sites/{site}")[0] == 404


def test_replacing_a_site_keeps_the_operators_price(api, aws):
    # Given a site the operator priced (a flat tariff and a Kust Taxi override)
    site = unique("priced")
    registry = RegistryTable(aws.registry_table)
    registry.import_records(
        RegistryRecords(
            sites=[
                Site(
                    id=site,
                    fleet_id=FLEET,
                    name="Priced",
                    tariff=FlatTariff(energy_price_per_kwh=Decimal("2.10"), vat_rate_percent=Decimal(25)),
                    fleet_tariff_ids={FLEET: "nv-night"},
                )
            ]
        )
    )
    # When the admin renames it
    status, view = api("PUT", f"/sites/{site}", {"name": "Renamed", "time_zone": "Europe/Helsinki"})
    # Then it is replaced and still priced as the operator set it
    assert (status, view["name"], view["time_zone"], view["priced"]) == (
        200,
        "Renamed",
        "Europe/Helsinki",
        True,
    )
    stored = Site.model_validate(registry.record("site", site))
    assert stored.tariff == FlatTariff(energy_price_per_kwh=Decimal("2.10"), vat_rate_percent=Decimal(25))
    assert stored.fleet_tariff_ids == {FLEET: "nv-night"}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "tariff": {"energy_price_per_kwh": "0.01", "vat_rate_percent": "0"}},
        {"name": "x", "tariff_id": "cheap"},
        {"name": "x", "fleet_id": OTHER},
        {"name": "x", "id": "elsewhere"},
        {"name": "x", "time_zone": "Mars/Olympus"},
        {"name": "x", "grid_limit_kw": "-5"},
        {"name": ""},
        "not json",
    ],
)
def test_a_site_body_with_a_price_an_id_a_fleet_or_a_bad_value_is_a_422(api, body):
    site = unique("bad")
    status, problem = api("PUT", f"/sites/{site}", body)
    assert status == 422, problem
    assert problem["title"] == "Unprocessable Content"
    assert api("GET", f"/sites/{site}")[0] == 404


def test_a_site_with_chargers_is_not_deleted_and_says_which(api):
    site, charger = unique("site"), unique("CP")
    api("PUT", f"/sites/{site}", {"name": "Depå"})
    assert api("PUT", f"/chargers/{charger}", {"site_id": site})[0] == 201
    status, problem = api("DELETE", f"/sites/{site}")
    assert status == 409 and charger in problem["detail"]
    assert api("GET", f"/sites/{site}")[0] == 200


# --- chargers ----------------------------------------------------------------------------------


def test_a_charger_is_registered_at_a_site_of_the_fleet(api, aws):
    site, charger = unique("site"), unique("CP")
    api("PUT", f"/sites/{site}", {"name": "Depå"})
    body = {
        "site_id": site,
        "connectors": 3,
        "max_power_kw": "22",
        "connector_max_power_kw": {"3": "50"},
        "ocpp_version": "2.0.1",
        "vendor": "Kempower",
    }
    status, view = api("PUT", f"/chargers/{charger}", body)
    assert status == 201
    assert view == {
        "id": charger,
        "site_id": site,
        "connectors": 3,
        "max_power_kw": "22",
        "connector_max_power_kw": {"3": "50"},
        "ocpp_version": "2.0.1",
        "vendor": "Kempower",
        "model": "",
    }
    # And the ingest finds it where it stands (the placement a BootNotification is checked against)
    placement = RegistryTable(aws.registry_table).placement(charger)
    assert placement is not None and placement.site.id == site
    assert placement.charger.connector_power_kw(3) == Decimal(50)
    assert api("PUT", f"/chargers/{charger}", {**body, "connectors": 4})[0] == 200
    # And once it has booted, deleting it takes its live state along
    registry = RegistryTable(aws.registry_table)
    registry.record_boot(charger, FLEET, {"chargePointVendor": "Kempower"}, datetime.now(UTC))
    assert charger in registry.fleet_inventory(FLEET).charger_states
    assert api("DELETE", f"/chargers/{charger}") == (204, None)
    inventory = registry.fleet_inventory(FLEET)
    assert charger not in inventory.charger_states and charger not in {c.id for c in inventory.chargers}


@pytest.mark.parametrize("site_id", ["gbg-taxi", "no-such-site"])
def test_a_charger_at_another_fleets_site_or_a_missing_one_is_a_422_naming_site_id(api, site_id):
    charger = unique("CP")
    status, problem = api("PUT", f"/chargers/{charger}", {"site_id": site_id})
    assert status == 422
    assert problem["detail"] == f"site_id: no site {site_id!r} in this fleet"


def test_a_charger_body_naming_a_connector_it_lacks_or_a_tariff_is_a_422(api):
    for body in (
        {"site_id": "sthlm-depot", "connectors": 1, "connector_max_power_kw": {"2": "50"}},
        {"site_id": "sthlm-depot", "tariff_id": "cheap"},
        {"site_id": "sthlm-depot", "max_power_kw": 0},
    ):
        assert api("PUT", f"/chargers/{unique('CP')}", body)[0] == 422, body


def test_replacing_a_charger_keeps_the_operators_tariff(api, aws):
    site, charger = unique("site"), unique("CP")
    api("PUT", f"/sites/{site}", {"name": "Depå"})
    api("PUT", f"/chargers/{charger}", {"site_id": site})
    registry = RegistryTable(aws.registry_table)
    aws.table(aws.registry_table).update_item(
        Key={"pk": f"CHARGER#{charger}", "sk": "META"},
        UpdateExpression="SET tariff_id = :t",
        ExpressionAttributeValues={":t": "dc-fast"},
    )
    assert api("PUT", f"/chargers/{charger}", {"site_id": site, "max_power_kw": "150"})[0] == 200
    stored = registry.record("charger", charger)
    assert (stored["tariff_id"], stored["max_power_kw"]) == ("dc-fast", "150")


# --- vehicles, drivers and tokens --------------------------------------------------------------


def test_vehicles_drivers_and_tokens_are_managed_and_kept_consistent(api, aws):
    vehicle, driver, tag = unique("van"), unique("drv"), unique("TAG")
    # Given a vehicle and a driver
    status, view = api(
        "PUT",
        f"/vehicles/{vehicle}",
        {"name": "Van 12", "battery_kwh": "75", "max_ac_kw": "11", "usual_departure": "07:30"},
    )
    assert status == 201
    assert (view["battery_kwh"], view["default_target_soc_percent"], view["usual_departure"]) == (
        "75",
        "80",
        "07:30",
    )
    assert api("PUT", f"/drivers/{driver}", {"name": "Alva", "email": "alva@nordvind.example"})[0] == 201
    assert api("GET", f"/drivers/{driver}") == (
        200,
        {"id": driver, "name": "Alva", "email": "alva@nordvind.example"},
    )
    # When a token names both
    status, token = api("PUT", f"/tokens/{tag}", {"vehicle_id": vehicle, "driver_id": driver})
    assert (status, token) == (
        201,
        {"id_tag": tag, "vehicle_id": vehicle, "driver_id": driver, "status": "Accepted"},
    )
    assert api("GET", f"/tokens/{tag}") == (200, token)
    # Then neither can be deleted while it names them
    for path, what in ((f"/vehicles/{vehicle}", vehicle), (f"/drivers/{driver}", driver)):
        status, problem = api("DELETE", path)
        assert status == 409 and tag in problem["detail"] and what in problem["detail"]
    # And once the token is blocked and then deleted, they can
    status, blocked = api("PUT", f"/tokens/{tag}", {"status": "Blocked"})
    assert (status, blocked["status"], blocked["vehicle_id"]) == (200, "Blocked", None)
    assert api("DELETE", f"/tokens/{tag}") == (204, None)
    departure = {"departure_at": (datetime.now(UTC) + timedelta(hours=8)).isoformat()}
    assert api("PUT", f"/vehicles/{vehicle}/charging-needs", departure)[0] == 201
    assert api("DELETE", f"/vehicles/{vehicle}") == (204, None)
    assert RegistryTable(aws.registry_table).charging_needs(vehicle) is None
    assert api("DELETE", f"/drivers/{driver}") == (204, None)
    assert api("GET", f"/drivers/{driver}")[0] == 404
    assert api("GET", f"/tokens/{tag}")[0] == 404


def test_a_token_naming_another_fleets_vehicle_and_driver_is_a_422_naming_both(api):
    status, problem = api("PUT", f"/tokens/{unique('TAG')}", {"vehicle_id": "kus-v11", "driver_id": "ghost"})
    assert status == 422
    assert (
        problem["detail"]
        == "vehicle_id: no vehicle 'kus-v11' in this fleet; driver_id: no driver 'ghost' in this fleet"
    )


def test_a_vehicle_body_out_of_range_is_a_422_naming_the_field(api):
    status, problem = api(
        "PUT", f"/vehicles/{unique('van')}", {"battery_kwh": "0", "usual_departure": "25:00"}
    )
    assert status == 422
    assert "battery_kwh" in problem["detail"] and "usual_departure" in problem["detail"]


def test_drivers_and_tokens_come_a_page_at_a_time(api):
    drivers = sorted(unique("pg") for _ in range(5))
    for driver in drivers:
        api("PUT", f"/drivers/{driver}", {"name": driver})
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        status, page = api("GET", "/drivers", limit=4, **({"cursor": cursor} if cursor else {}))
        assert status == 200 and len(page["drivers"]) <= 4
        seen += [d["id"] for d in page["drivers"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == sorted(seen) and set(drivers) <= set(seen)
    assert not any(d.startswith("kus-") for d in seen)
    status, tokens = api("GET", "/tokens", limit=500)
    assert status == 200 and "RFID0001" in {t["id_tag"] for t in tokens["tokens"]}
    assert "RFID0011" not in {t["id_tag"] for t in tokens["tokens"]}


def test_a_cursor_of_another_fleet_or_another_list_is_refused(api):
    _, page = api("GET", "/drivers", limit=1)
    status, problem = api("GET", "/drivers", fleet=OTHER, cursor=page["next_cursor"])
    assert (status, problem["title"]) == (400, "Bad Request")
    assert api("GET", "/tokens", cursor=page["next_cursor"])[0] == 400
    assert api("GET", "/sites", cursor="bm9wZQ==")[0] == 400


# --- charging needs ----------------------------------------------------------------------------


def test_a_fleet_manager_sets_and_clears_a_vehicles_charging_needs(api, aws):
    departure = (datetime.now(UTC) + timedelta(hours=10)).replace(microsecond=0)
    local = departure.astimezone(timezone(timedelta(hours=1)))
    # When the fleet manager says nor-v05 leaves at a time (given in local time), with no target
    status, needs = api(
        "PUT", "/vehicles/nor-v05/charging-needs", {"departure_at": local.isoformat()}, groups="fleet_manager"
    )
    # Then it is stored in UTC, with the vehicle's default target SoC
    assert status == 201
    assert datetime.fromisoformat(needs["departure_at"]) == departure
    assert (needs["target_soc_percent"], needs["target_energy_kwh"], needs["from_vehicle_default"]) == (
        "80",
        None,
        True,
    )
    # And the estimator can read it
    stored = RegistryTable(aws.registry_table).charging_needs("nor-v05")
    assert stored is not None and stored.departure_at == departure and stored.fleet_id == FLEET
    # When an energy target replaces it
    status, needs = api(
        "PUT",
        "/vehicles/nor-v05/charging-needs",
        {"departure_at": departure.isoformat(), "target_energy_kwh": "30"},
        groups="fleet_manager",
    )
    assert (status, needs["target_energy_kwh"], needs["target_soc_percent"]) == (200, "30", None)
    # When it is cleared, Then there is none left
    assert api("DELETE", "/vehicles/nor-v05/charging-needs", groups="fleet_manager") == (204, None)
    assert RegistryTable(aws.registry_table).charging_needs("nor-v05") is None
    assert api("DELETE", "/vehicles/nor-v05/charging-needs", groups="fleet_manager")[0] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"departure_at": "2026-11-23T07:30:00", "target_soc_percent": "90"}, "departure_at"),
        ({"departure_at": "2020-01-01T07:30:00Z"}, "departure_at"),
        ({"departure_at": "2999-01-01T07:30:00Z"}, "departure_at"),
        ({"departure_at": "9999-12-31T23:59:59-12:00"}, "departure_at"),
        (
            {"departure_at": "2026-11-23T07:30:00Z", "target_soc_percent": "90", "target_energy_kwh": "20"},
            "target",
        ),
        ({"departure_at": "2026-11-23T07:30:00Z", "target_soc_percent": "101"}, "target_soc_percent"),
        ({"target_soc_percent": "90"}, "departure_at"),
    ],
)
def test_charging_needs_that_cannot_be_met_are_a_422_naming_why(api, body, field):
    status, problem = api("PUT", "/vehicles/nor-v06/charging-needs", body, groups="fleet_manager")
    assert status == 422 and field in problem["detail"], problem


def test_charging_needs_need_a_planner_role_and_a_vehicle_of_the_fleet(api):
    body = {"departure_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat()}
    assert api("PUT", "/vehicles/nor-v07/charging-needs", body, groups="finance")[0] == 403
    assert api("PUT", "/vehicles/kus-v11/charging-needs", body, groups="fleet_manager")[0] == 404
    assert api("DELETE", "/vehicles/kus-v11/charging-needs", groups="admin")[0] == 404


# --- another fleet's things, and roles ---------------------------------------------------------

# Kust Taxi's records, as Nordvind's admin names them.
THEIRS = [
    ("/sites/gbg-taxi", {"name": "Taken"}),
    ("/chargers/LV-GBG-08", {"site_id": "sthlm-depot"}),
    ("/vehicles/kus-v11", {"name": "Taken"}),
    ("/drivers/kus-d11", {"name": "Taken"}),
    ("/tokens/RFID0011", {}),
]


@pytest.mark.parametrize(("path", "body"), THEIRS)
def test_another_fleets_id_is_in_use_to_a_put_and_missing_to_a_get_or_delete(api, aws, path, body):
    registry = RegistryTable(aws.registry_table)
    kind, record_id = path.strip("/").split("/")
    kind = kind.removesuffix("s")
    before = registry.record(kind, record_id)
    # When Nordvind's admin puts, reads and deletes it
    status, problem = api("PUT", path, body)
    # Then a put is refused without saying whose it is
    assert status == 409 and problem["detail"].endswith("is in use") and OTHER not in problem["detail"]
    # And a read or a delete answers as if it did not exist
    if kind not in ("charger", "vehicle"):
        status, problem = api("GET", path)
        assert status == 404 and OTHER not in problem["detail"]
    status, problem = api("DELETE", path)
    assert status == 404 and OTHER not in problem["detail"]
    # And Kust Taxi's record is exactly as it was
    assert registry.record(kind, record_id) == before


def test_the_other_fleet_lists_none_of_the_callers_records(api):
    site = unique("mine")
    api("PUT", f"/sites/{site}", {"name": "Mine"})
    _, page = api("GET", "/sites", fleet=OTHER, limit=500)
    assert {s["id"] for s in page["sites"]} == {"gbg-taxi"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/sites", None),
        ("PUT", "/sites/x", {"name": "x"}),
        ("DELETE", "/chargers/x", None),
        ("PUT", "/vehicles/x", {"name": "x"}),
        ("GET", "/drivers", None),
        ("PUT", "/tokens/x", {}),
    ],
)
@pytest.mark.parametrize("groups", ["fleet_manager", "finance"])
def test_only_an_admin_manages_the_registry(api, method, path, body, groups):
    status, problem = api(method, path, body, groups=groups)
    assert status == 403 and "admin" in problem["detail"]


# --- a site registered through the API, before the operator prices it --------------------------


def test_a_session_at_a_site_the_operator_has_not_priced_is_held_with_the_reason(api, handlers, context):
    # Given a site, a charger, a vehicle, a driver and a token, all registered through the API
    site, charger, tag = unique("new-depot"), unique("CP"), unique("TAG")[:20]
    vehicle, driver = unique("van"), unique("drv")
    assert api("PUT", f"/sites/{site}", {"name": "Ny depå"})[1]["priced"] is False
    api("PUT", f"/chargers/{charger}", {"site_id": site, "max_power_kw": "11"})
    api("PUT", f"/vehicles/{vehicle}", {"battery_kwh": "60"})
    api("PUT", f"/drivers/{driver}", {"name": "Nils"})
    api("PUT", f"/tokens/{tag}", {"vehicle_id": vehicle, "driver_id": driver})
    # When a session runs on the charger
    start = {"connectorId": 1, "idTag": tag, "meterStart": 1000, "timestamp": "2026-11-24T08:00:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(frame("s", "StartTransaction", start), charge_point_id=charger), context
    )
    reply = published(f"{charger}/out")[-1][2]
    assert reply["idTagInfo"]["status"] == "Accepted"
    session_id = f"{charger}:{reply['transactionId']}"
    # Then the charger cannot be deleted while it runs
    status, problem = api("DELETE", f"/chargers/{charger}")
    assert status == 409 and session_id in problem["detail"]
    stop = {"transactionId": reply["transactionId"], "meterStop": 6000, "timestamp": "2026-11-24T09:00:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(frame("x", "StopTransaction", stop), charge_point_id=charger), context
    )
    # And when it is billed, it is held (not invoiced, not failed) with the reason
    closed = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    with pytest.raises(NotPriceable, match="no tariff yet"):
        handlers["price_session"].lambda_handler(closed, context)
    status, detail = api("GET", f"/sessions/{session_id}", groups="fleet_manager")
    assert (status, detail["status"], detail["invoice_key"]) == (200, "held", None)
    assert f"site {site!r} has no tariff yet" in detail["hold_reason"]
    # And once it ended, the charger can be deleted
    assert api("DELETE", f"/chargers/{charger}") == (204, None)


def test_an_admins_write_is_seen_at_once_by_the_same_containers_cached_reads(aws):
    # Given a container whose registry cached a site and a token
    registry = RegistryTable(aws.registry_table)
    admin = RegistryAdmin(registry, SessionsTable(aws.sessions_table))
    site, tag = unique("cached"), unique("TAG")[:20]
    admin.put_site(FLEET, site, SiteInput(name="Before"))
    admin.put_token(FLEET, tag, TokenInput())
    assert registry.site(site).name == "Before" and registry.token(tag).status == "Accepted"
    # When the admin changes them through the same container
    admin.put_site(FLEET, site, SiteInput(name="After", time_zone="Europe/Oslo"))
    admin.put_token(FLEET, tag, TokenInput(status="Blocked"))
    # Then its next reads see the change, not the minute-old copy
    assert registry.site(site).time_zone == "Europe/Oslo"
    assert registry.token(tag).status == "Blocked"
    admin.delete_token(FLEET, tag)
    assert registry.token(tag).status == "Invalid"


def test_a_body_that_is_not_utf8_text_is_a_422_not_a_500(handlers, context):
    # Given a binary body, as API Gateway passes it on (base64-encoded)
    event = api_event("/drivers/d-bin", FLEET, groups="admin", method="PUT")
    event.update(body="gICA", isBase64Encoded=True)  # 0x80 0x80 0x80
    # When it is sent, Then it is refused as a problem, never a server error
    response = handlers["fleet_api"].lambda_handler(event, context)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["detail"] == "the body is not UTF-8 JSON"
