"""Analytics from the daily rollups: sessions go through the billing workflow's handlers, the last
step adds them to the rollups, and every analytics route answers from those (JSON and CSV); a
retried step counts once and a corrected session replaces its numbers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from shared.adapters.analytics_table import AnalyticsTable
from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.sessions_table import SessionsTable
from shared.operations import correct
from tests.frames import api_event, call, published, sqs_event

pytestmark = pytest.mark.integration

# March 2024 in Stockholm (UTC+1), at Nordvind's depot: 2.80 SEK/kWh + 25 % VAT. No other test
# charges in 2024, so these are the fleet's only sessions in the period.
PERIOD = {"from": "2024-03-01", "to": "2024-03-31"}


def charge(handlers, context, cp: str, id_tag: str, start: str, readings: list[tuple[str, int]]) -> str:
    """A 1.6 session from StartTransaction to StopTransaction (the last reading is the stop)."""
    begin = {"connectorId": 1, "idTag": id_tag, "meterStart": 0, "timestamp": start}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", begin), charge_point_id=cp), context
    )
    transaction_id = published(f"{cp}/out")[-1][2]["transactionId"]
    for at, wh in readings[:-1]:
        meter = {"connectorId": 1, "transactionId": transaction_id,
                 "meterValue": [{"timestamp": at, "sampledValue": [{"value": str(wh)}]}]}  # fmt: skip
        handlers["ingest"].lambda_handler(
            sqs_event(call("m", "MeterValues", meter), charge_point_id=cp), context
        )
    stop_at, stop_wh = readings[-1]
    stop = {"transactionId": transaction_id, "meterStop": stop_wh, "timestamp": stop_at}
    handlers["ingest"].lambda_handler(
        sqs_event(call("e", "StopTransaction", stop), charge_point_id=cp), context
    )
    return f"{cp}:{transaction_id}"


def run_workflow(handlers, context, session_id: str) -> tuple[dict, dict]:
    """The close-and-invoice steps as the state machine runs them: the priced session stays in the
    state past WriteInvoice and MarkInvoiced, and RecordRollups reads it all."""
    closed = handlers["finalize_session"].lambda_handler({"session_id": session_id}, context)
    priced = handlers["price_session"].lambda_handler(closed, context)
    ref = handlers["write_invoice"].lambda_handler(priced, context)
    invoiced = handlers["mark_invoiced"].lambda_handler(ref, context)
    state = {**priced, "invoice": ref, "invoiced": invoiced}
    return state, handlers["record_rollups"].lambda_handler(state, context)


def get(handlers, context, path: str, fleet: str = "nordvind", groups: str = "fleet_manager", **query: str):
    response = handlers["fleet_api"].lambda_handler(
        api_event(path, fleet, groups=groups, query={**PERIOD, **query}), context
    )
    headers = {k: ",".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
    return response["statusCode"], headers, response["body"]


def report(handlers, context, path: str, **query: str) -> dict:
    status, _, body = get(handlers, context, path, **query)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def billed(handlers, context, aws) -> dict[str, tuple[dict, dict]]:
    # Given nor-v01 charging overnight Monday to Tuesday, 21:00–06:00 local: 14 kWh by 23:00,
    # 6 kWh more by 00:30 (2 kWh of it after midnight), then plugged in until 06:00
    overnight = charge(
        handlers, context, "LV-STHLM-01", "RFID0001", "2024-03-04T20:00:00Z",
        [("2024-03-04T22:00:00Z", 14_000), ("2024-03-04T23:30:00Z", 20_000), ("2024-03-05T05:00:00Z", 20_000)],
    )  # fmt: skip
    # And nor-v02 charging 10 kWh on Monday morning, 09:00–10:00 local
    morning = charge(
        handlers,
        context,
        "LV-STHLM-02",
        "RFID0002",
        "2024-03-04T08:00:00Z",
        [("2024-03-04T09:00:00Z", 10_000)],
    )
    # When each goes through the close-and-invoice workflow
    return {
        "overnight": run_workflow(handlers, context, overnight),
        "morning": run_workflow(handlers, context, morning),
    }


def test_energy_and_cost_per_vehicle_and_day_split_at_local_midnight_by_the_meter(handlers, context, billed):
    rows = report(handlers, context, "/analytics/energy", group_by="vehicle")["rows"]
    # Then the overnight session counts 18 kWh on Monday and 2 kWh on Tuesday, its 56.00 + 14.00
    # VAT shared the same way, and counts as a session on the day it arrived
    assert [(r["period"], r["key"], r["energy_kwh"], r["sessions"], r["costs"]) for r in rows] == [
        ("2024-03-04", "nor-v01", "18.000", 1, [{"currency": "SEK", "net": "50.4000", "gross": "63.0000"}]),
        ("2024-03-04", "nor-v02", "10.000", 1, [{"currency": "SEK", "net": "28.0000", "gross": "35.0000"}]),
        ("2024-03-05", "nor-v01", "2.000", 0, [{"currency": "SEK", "net": "5.6000", "gross": "7.0000"}]),
    ]


def test_energy_per_iso_week_and_month_for_the_fleet_and_per_driver(handlers, context, billed):
    week = report(handlers, context, "/analytics/energy", granularity="week")["rows"]
    assert [(r["period"], r["period_start"], r["key"], r["energy_kwh"], r["sessions"]) for r in week] == [
        ("2024-W10", "2024-03-04", "nordvind", "30.000", 2)
    ]
    assert week[0]["costs"] == [{"currency": "SEK", "net": "84.0000", "gross": "105.0000"}]
    month = report(handlers, context, "/analytics/energy", granularity="month", group_by="driver")["rows"]
    assert [(r["period"], r["key"], r["energy_kwh"]) for r in month] == [
        ("2024-03", "nor-d01", "20.000"),
        ("2024-03", "nor-d02", "10.000"),
    ]


def test_utilisation_per_charger_and_site_with_the_idle_share(handlers, context, billed):
    by_charger = {r["key"]: r for r in report(handlers, context, "/analytics/utilisation")["rows"]}
    # Then LV-STHLM-01 was plugged in 9 h: charging 3.5 h, idle 5.5 h, out of 2 connectors × 743 h (March
    # ends with the clock going forward)
    first = by_charger["LV-STHLM-01"]
    assert (first["plugged_hours"], first["charging_hours"], first["idle_hours"]) == (
        "9.000",
        "3.500",
        "5.500",
    )
    assert (first["connectors"], first["available_hours"]) == (2, "1486.000")
    assert (first["idle_share"], first["occupied_share"]) == ("0.6111", "0.0061")
    # And a charger nobody used is there with nothing used; another fleet's chargers are not
    assert by_charger["LV-STHLM-04"]["plugged_hours"] == "0.000"
    assert by_charger["LV-STHLM-04"]["idle_share"] is None
    assert not any(key.startswith("LV-GBG") for key in by_charger)
    sites = {
        r["key"]: r for r in report(handlers, context, "/analytics/utilisation", group_by="site")["rows"]
    }
    assert set(sites) == {"sthlm-depot", "uppsala-hub"}
    assert (sites["sthlm-depot"]["connectors"], sites["sthlm-depot"]["plugged_hours"]) == (8, "10.000")


def test_site_load_peaks_per_day_against_the_grid_limit(handlers, context, billed):
    rows = report(handlers, context, "/analytics/site-load")["rows"]
    # Then Monday's busiest quarter hour is 09:00 local (10 kW: nor-v02's 10 kWh in an hour), not
    # 21:00 (7 kW); Tuesday's is 00:00 (4 kW: 6 kWh over 90 minutes). No grid limit is registered.
    assert all(r["grid_limit_kw"] is None and r["share_of_limit"] is None for r in rows)
    assert [(r["site_id"], r["day"], r["peak_kw"], r["peak_at"], r["energy_kwh"]) for r in rows] == [
        ("sthlm-depot", "2024-03-04", "10.000", "2024-03-04T09:00:00+01:00", "28.000"),
        ("sthlm-depot", "2024-03-05", "4.000", "2024-03-05T00:00:00+01:00", "2.000"),
    ]


def test_arrivals_and_departures_by_weekday_and_local_hour(handlers, context, billed):
    rows = report(handlers, context, "/analytics/arrivals")["rows"]
    assert len(rows) == 7 * 24
    counted = {
        (r["weekday_name"], r["hour"]): (r["arrivals"], r["departures"])
        for r in rows
        if r["arrivals"] or r["departures"]
    }
    assert counted == {
        ("Monday", 9): (1, 0),
        ("Monday", 10): (0, 1),
        ("Monday", 21): (1, 0),
        ("Tuesday", 6): (0, 1),
    }


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/analytics/energy", "period,period_start,fleet,energy_kwh,sessions,cost_net_SEK,cost_gross_SEK"),
        (
            "/analytics/utilisation",
            "charger,site_id,connectors,available_hours,plugged_hours,charging_hours,"
            "idle_hours,occupied_share,charging_share,idle_share",
        ),
        ("/analytics/site-load", "site_id,day,energy_kwh,peak_kw,peak_at,grid_limit_kw,share_of_limit"),
        ("/analytics/arrivals", "weekday,weekday_name,hour,arrivals,departures"),
    ],
)
def test_every_table_downloads_as_csv_with_the_same_rows(handlers, context, billed, path, header):
    status, headers, body = get(handlers, context, path, format="csv")
    assert status == 200 and headers["Content-Type"] == "text/csv"
    lines = list(csv.reader(io.StringIO(body)))
    assert ",".join(lines[0]) == header
    assert len(lines) - 1 == len(report(handlers, context, path)["rows"])
    assert "kusttaxi" not in body and "LV-GBG" not in body


def test_the_energy_csv_carries_decimals_as_their_exact_text(handlers, context, billed):
    _, _, body = get(handlers, context, "/analytics/energy", format="csv", granularity="month")
    assert body.splitlines()[1] == "2024-03,2024-03-01,nordvind,30.000,2,84.0000,105.0000"


def test_another_fleet_sees_none_of_it(handlers, context, billed):
    for path in ("/analytics/energy", "/analytics/site-load", "/analytics/utilisation"):
        status, _, text = get(handlers, context, path, fleet="kusttaxi")
        assert status == 200
        assert "nordvind" not in text and "nor-v" not in text and "sthlm" not in text
    rows = json.loads(get(handlers, context, "/analytics/energy", fleet="kusttaxi")[2])["rows"]
    assert rows == []


def test_a_retried_step_counts_the_session_once(handlers, context, billed):
    # Given the overnight session recorded once; When Step Functions retries the step
    state, first = billed["overnight"]
    before = report(handlers, context, "/analytics/energy", group_by="vehicle")["rows"]
    again = handlers["record_rollups"].lambda_handler(state, context)
    # Then it changes nothing and the numbers stay as they were
    assert (first["days"], first["items_changed"], again["items_changed"]) == (2, 10, 0)
    assert report(handlers, context, "/analytics/energy", group_by="vehicle")["rows"] == before


def test_a_corrected_session_replaces_its_numbers(handlers, context, aws, billed):
    # Given nor-v03's session closed at an inferred end after 10 kWh, invoiced and rolled up
    cp = "LV-STHLM-03"
    start = {"connectorId": 1, "idTag": "RFID0003", "meterStart": 0, "timestamp": "2024-03-12T06:00:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("s", "StartTransaction", start), charge_point_id=cp), context
    )
    transaction_id = published(f"{cp}/out")[-1][2]["transactionId"]
    meter = {"connectorId": 1, "transactionId": transaction_id,
             "meterValue": [{"timestamp": "2024-03-12T07:00:00Z", "sampledValue": [{"value": "10000"}]}]}  # fmt: skip
    handlers["ingest"].lambda_handler(sqs_event(call("m", "MeterValues", meter), charge_point_id=cp), context)
    session_id = f"{cp}:{transaction_id}"
    sessions = SessionsTable(aws.sessions_table)
    assert sessions.stop_inferred(session_id, datetime(2024, 3, 12, 7, tzinfo=UTC), Decimal(10_000), "silent")
    first_state, _ = run_workflow(handlers, context, session_id)
    week = {"from": "2024-03-11", "to": "2024-03-17"}
    before = report(handlers, context, "/analytics/energy", group_by="vehicle", **week)["rows"]
    assert [(r["key"], r["energy_kwh"], r["costs"][0]["gross"]) for r in before] == [
        ("nor-v03", "10.000", "35.0000")
    ]

    # When the real stop comes late (16 kWh at 08:40 local) and the session is corrected
    stop = {"transactionId": transaction_id, "meterStop": 16_000, "timestamp": "2024-03-12T07:40:00Z"}
    handlers["ingest"].lambda_handler(
        sqs_event(call("late", "StopTransaction", stop), charge_point_id=cp), context
    )
    correct(sessions, BillingWorkflow(aws.state_machine_arn), session_id, reason="the real stop came late")
    _, recorded = run_workflow(handlers, context, session_id)

    # Then its numbers are replaced, not added to: one session, 16 kWh, 44.80 + 11.20
    assert recorded["attempt"] == 1
    after = report(handlers, context, "/analytics/energy", group_by="vehicle", **week)["rows"]
    assert [(r["key"], r["energy_kwh"], r["sessions"], r["costs"][0]["gross"]) for r in after] == [
        ("nor-v03", "16.000", 1, "56.0000")
    ]
    departures = {
        r["hour"]: r["departures"]
        for r in report(handlers, context, "/analytics/arrivals", **week)["rows"]
        if r["weekday"] == 2
    }
    assert departures[8] == 1 and sum(departures.values()) == 1
    # And the first attempt's step, arriving late, changes nothing
    stale = handlers["record_rollups"].lambda_handler(first_state, context)
    assert stale["items_changed"] == 0
    assert report(handlers, context, "/analytics/energy", group_by="vehicle", **week)["rows"] == after


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2024-03-31", "to": "2024-03-01"},
        {"from": "2023-01-01", "to": "2024-03-01"},
        {"from": "2024-03-01", "to": "not-a-day"},
        {"from": "2024-03-01", "to": "2024-03-31", "granularity": "year"},
        {"from": "2024-03-01", "to": "2024-03-31", "format": "xml"},
        {"to": "2024-03-31"},
        {"from": "9999-12-01", "to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-02"},
    ],
)
def test_a_bad_period_or_option_is_a_422_problem(handlers, context, query):
    response = handlers["fleet_api"].lambda_handler(
        api_event("/analytics/energy", "nordvind", query=query), context
    )
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["status"] == 422


@pytest.mark.parametrize(
    ("groups", "status"), [("finance", 200), ("admin", 200), ("fleet_manager", 200), ("", 403)]
)
def test_analytics_is_for_managers_finance_and_admins(handlers, context, groups, status):
    assert get(handlers, context, "/analytics/arrivals", groups=groups)[0] == status


def test_a_session_of_many_days_is_written_in_parts_and_a_correction_clears_the_days_it_left(aws):
    # Given a car left plugged in for 20 days: more days than one transaction holds
    table = AnalyticsTable(aws.analytics_table)
    first = date(2024, 6, 1)
    long = {
        first + timedelta(days=n): {("charger", "cp-long"): {"plugged_s": Decimal(86400)}} for n in range(20)
    }
    # When it is recorded, and recorded again
    assert table.record("fleet-long", "cp-long:1", 0, long) == 20
    assert table.record("fleet-long", "cp-long:1", 0, long) == 0
    rows = table.days("fleet-long", "charger", first, first + timedelta(days=30))
    assert [r.counters["plugged_s"] for r in rows] == [86400] * 20
    # And when a correction says it ended after 3 days
    short = {day: counters for day, counters in long.items() if day < first + timedelta(days=3)}
    assert table.record("fleet-long", "cp-long:1", 1, short) == 17
    # Then the 17 days it left hold nothing, June's month item says so too, and the old attempt
    # cannot bring them back
    rows = table.days("fleet-long", "charger", first, first + timedelta(days=30))
    assert sum(r.counters["plugged_s"] for r in rows) == 3 * 86400
    (june,) = table.period("fleet-long", "charger", first, date(2024, 6, 30))
    assert (june.month, june.counters["plugged_s"]) == (True, 3 * 86400)
    assert table.record("fleet-long", "cp-long:1", 0, long) == 0
    assert (
        sum(
            r.counters["plugged_s"]
            for r in table.days("fleet-long", "charger", first, first + timedelta(days=30))
        )
        == 3 * 86400
    )


def test_whole_months_are_read_from_month_items_and_the_edges_from_days(aws, handlers, context, billed):
    table = AnalyticsTable(aws.analytics_table)
    # Given a period from mid-February to mid-April around March's sessions
    rows = table.period("nordvind", "charger", date(2024, 2, 15), date(2024, 4, 15))
    # Then March is one month item per charger, and the days at the edges are day items
    assert {(r.month, r.day) for r in rows} == {(True, date(2024, 3, 1))}
    by_charger = {r.key: r.counters for r in rows}
    days = table.days("nordvind", "charger", date(2024, 3, 1), date(2024, 3, 31))
    for key, counters in by_charger.items():
        summed = {}
        for row in (r for r in days if r.key == key):
            for name, amount in row.counters.items():
                summed[name] = summed.get(name, 0) + amount
        assert {n: v for n, v in counters.items() if v} == {n: v for n, v in summed.items() if v}
    # And a fleet app asking for those months gets March's days summed
    month = report(
        handlers,
        context,
        "/analytics/energy",
        granularity="month",
        **{"from": "2024-02-15", "to": "2024-04-15"},
    )["rows"]
    days = report(handlers, context, "/analytics/energy", granularity="day")["rows"]
    assert [(r["period"], r["energy_kwh"], r["sessions"]) for r in month] == [
        ("2024-03", str(sum(Decimal(r["energy_kwh"]) for r in days)), sum(r["sessions"] for r in days))
    ]


def test_a_report_too_large_for_one_answer_is_a_422_not_a_timeout(handlers, context, billed, monkeypatch):
    import shared.analytics

    monkeypatch.setattr(shared.analytics, "MAX_ITEMS", 2)
    status, headers, body = get(handlers, context, "/analytics/energy", group_by="vehicle")
    assert (status, headers["Content-Type"]) == (422, "application/problem+json")
    assert "shorter period" in json.loads(body)["detail"]


def test_sessions_whose_ids_share_a_prefix_keep_their_own_contributions(aws):
    # Given two 2.0.1 sessions whose charger-chosen transaction ids are `tx` and `tx#2`
    table = AnalyticsTable(aws.analytics_table)
    day = date(2024, 7, 1)
    assert table.record("fleet-ids", "cp:tx#2", 0, {day: {("charger", "cp"): {"sessions": Decimal(1)}}}) == 1
    # When the other one is recorded, and recorded again
    assert table.record("fleet-ids", "cp:tx", 0, {day: {("charger", "cp"): {"sessions": Decimal(1)}}}) == 1
    assert table.record("fleet-ids", "cp:tx", 0, {day: {("charger", "cp"): {"sessions": Decimal(1)}}}) == 0
    # Then both count, once each
    (row,) = table.days("fleet-ids", "charger", day, day)
    assert row.counters["sessions"] == 2
