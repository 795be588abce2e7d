"""Daily rollups: a session split by its site's local days, periods and peaks, and the reports
answered from rollup rows (with in-memory stand-ins for the table and the registry)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.adapters.analytics_table import RollupRow
from shared.analytics import AnalyticsQueries, to_csv
from shared.domain.energy import Reading
from shared.domain.rollups import (
    SessionUsage,
    hour_counts,
    month_counters,
    peak,
    period_label,
    period_start,
    split_by_day,
)
from shared.models.registry import Charger, FlatTariff, Site

FLAT = FlatTariff(energy_price_per_kwh=Decimal("2.80"), vat_rate_percent=Decimal(25))


def usage(
    start: datetime, end: datetime, energy_wh: Decimal, readings: list[Reading], **extra
) -> SessionUsage:
    fields = {
        "session_id": "cp:1",
        "attempt": 0,
        "fleet_id": "f",
        "site_id": "s",
        "charge_point_id": "cp",
        "vehicle_id": "v",
        "driver_id": None,
        "time_zone": "Europe/Stockholm",
        "started_at": start,
        "ended_at": end,
        "energy_wh": energy_wh,
        "readings": readings,
        "charging_from": [],
        "currency": "SEK",
        "cost_net": Decimal("100.00"),
        "cost_gross": Decimal("125.00"),
    }
    return SessionUsage(**(fields | extra))


def test_the_day_the_clock_goes_back_has_25_hours_and_100_quarter_hours():
    # Given a car charging at a steady 1 kW through Sunday 25 October 2026 in Stockholm (local
    # midnight to midnight: 22:00 UTC on the 24th to 23:00 UTC on the 25th)
    start, end = datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)
    session = usage(start, end, Decimal(25_000), [Reading(start, Decimal(0)), Reading(end, Decimal(25_000))])
    # When it is split by local days
    days = split_by_day(session)
    # Then that day holds all 25 hours and 100 quarter hours of 250 Wh, and the car left at the
    # first instant of the next
    day = days[date(2026, 10, 25)]
    assert day.plugged_s == 25 * 3600 and day.charging_s == day.plugged_s
    assert sorted(day.quarters) == list(range(100))
    assert set(day.quarters.values()) == {Decimal(250)}
    assert (day.arrivals, day.departures) == ({0: 1}, {})
    assert (days[date(2026, 10, 26)].plugged_s, days[date(2026, 10, 26)].departures) == (0, {0: 1})


def test_idle_time_follows_the_charging_periods_and_cost_follows_the_energy():
    # Given a session 22:00–02:00 local, charging until 23:00 (all its energy), then plugged in idle
    start = datetime(2026, 1, 14, 21, tzinfo=UTC)
    end = start + timedelta(hours=4)
    session = usage(
        start,
        end,
        Decimal(11_000),
        [
            Reading(start, Decimal(0)),
            Reading(start + timedelta(hours=1), Decimal(11_000)),
            Reading(end, Decimal(11_000)),
        ],
        charging_from=[(start, True), (start + timedelta(hours=1), False)],
    )
    monday, tuesday = split_by_day(session).values()
    # Then all energy and cost is on the first day, and the second day is idle time only
    assert (monday.energy_wh, monday.cost_net, monday.charging_s, monday.idle_s) == (11_000, 100, 3600, 3600)
    assert (tuesday.energy_wh, tuesday.cost_gross, tuesday.charging_s, tuesday.idle_s) == (0, 0, 0, 7200)
    assert tuesday.departures == {2: 1}


def test_billed_energy_that_differs_from_the_meter_is_shared_as_the_meter_shows():
    # Given an operator's decision of 9 kWh for a session whose meter says 6 kWh, 4 before midnight
    start = datetime(2026, 1, 14, 22, tzinfo=UTC)
    end = start + timedelta(hours=2)
    readings = [
        Reading(start, Decimal(0)),
        Reading(start + timedelta(hours=1), Decimal(4000)),
        Reading(end, Decimal(6000)),
    ]
    first, second = split_by_day(usage(start, end, Decimal(9000), readings)).values()
    assert (first.energy_wh, second.energy_wh) == (Decimal(6000), Decimal(3000))


def test_periods_are_days_iso_weeks_and_months():
    new_years_eve = date(2026, 12, 31)
    assert period_start(new_years_eve, "week") == date(2026, 12, 28)
    assert period_label(date(2026, 12, 28), "week") == "2026-W53"
    assert period_start(date(2027, 1, 3), "week") == date(2026, 12, 28)
    assert (period_start(new_years_eve, "month"), period_label(date(2026, 12, 1), "month")) == (
        date(2026, 12, 1),
        "2026-12",
    )
    assert period_label(period_start(new_years_eve, "day"), "day") == "2026-12-31"


def test_the_peak_is_the_busiest_quarter_hour_the_earliest_of_equals():
    assert peak(
        {"energy_wh": Decimal(900), "q010": Decimal(300), "q004": Decimal(300), "q099": Decimal(1)}
    ) == (
        4,
        Decimal(300),
    )
    assert peak({"energy_wh": Decimal(0)}) is None


class _Rollups:
    def __init__(self, rows: list[RollupRow]) -> None:
        self.rows = rows
        self.asked: list[tuple[str, str, date, date]] = []

    def days(
        self, fleet_id: str, dimension: str, first: date, last: date, *, max_items: int
    ) -> list[RollupRow]:
        self.asked.append((fleet_id, dimension, first, last))
        return [r for r in self.rows if r.dimension == dimension and first <= r.day <= last]

    period = days


class _Registry:
    def fleet_sites(self, fleet_id: str) -> list[Site]:
        return [Site(id="depot", fleet_id=fleet_id, name="Depot", tariff=FLAT, grid_limit_kw=Decimal(40))]

    def charger_directory(self, fleet_id: str) -> dict[str, Charger]:
        return {"cp": Charger(id="cp", site_id="depot", connectors=2)}


def queries(rows: list[RollupRow]) -> tuple[AnalyticsQueries, _Rollups]:
    table = _Rollups(rows)
    clock = lambda: datetime(2026, 2, 1, tzinfo=UTC)  # noqa: E731
    return AnalyticsQueries(table, _Registry(), clock), table  # type: ignore[arg-type]


def test_site_load_reports_the_peak_against_the_grid_limit():
    # Given a depot whose busiest quarter hour on 14 January took 7.5 kWh (30 kW) at 18:15 local
    day = RollupRow(
        date(2026, 1, 14),
        "site",
        "depot",
        {"energy_wh": Decimal(60_000), "q073": Decimal(7500), "q020": Decimal(10)},
    )
    analytics, table = queries([day])
    (row,) = analytics.site_load("f", date(2026, 1, 1), date(2026, 1, 31)).rows
    # Then the report says 30 kW of its 40 kW limit, at 18:15 Stockholm time, from one read
    assert (row.peak_kw, row.grid_limit_kw, row.share_of_limit) == (Decimal("30.000"), 40, Decimal("0.7500"))
    assert row.peak_at == datetime.fromisoformat("2026-01-14T18:15:00+01:00")
    assert table.asked == [("f", "site", date(2026, 1, 1), date(2026, 1, 31))]


def test_utilisation_counts_only_the_hours_that_have_begun():
    # Given a charger plugged in for 24 h over the first days of a month that is only 4 days old
    rows = [
        RollupRow(
            date(2026, 1, 29),
            "charger",
            "cp",
            {"plugged_s": Decimal(86400), "charging_s": Decimal(21600), "idle_s": Decimal(64800)},
        )
    ]
    analytics, _ = queries(rows)
    (row,) = analytics.utilisation("f", date(2026, 1, 28), date(2026, 2, 27), "charger").rows
    # Then 2 connectors × 97 h are available (28 Jan 00:00 local is 27 Jan 23:00 UTC; now is
    # 1 Feb 00:00 UTC), not the whole month
    assert row.available_hours == Decimal("194.000")
    assert (row.occupied_share, row.idle_share) == (Decimal("0.1237"), Decimal("0.7500"))


def test_energy_csv_has_a_column_pair_per_currency():
    rows = [
        RollupRow(date(2026, 1, 5), "vehicle", "v1", {"energy_wh": Decimal(1500), "sessions": Decimal(1), "net_SEK": Decimal("4.2"), "gross_SEK": Decimal("5.25")}),
        RollupRow(date(2026, 1, 6), "vehicle", "", {"energy_wh": Decimal(500), "sessions": Decimal(1), "net_NOK": Decimal("2"), "gross_NOK": Decimal("2.5")}),
    ]  # fmt: skip
    analytics, _ = queries(rows)
    text = to_csv(analytics.energy("f", date(2026, 1, 1), date(2026, 1, 31), "month", "vehicle"))
    assert list(csv.reader(io.StringIO(text))) == [
        ["period", "period_start", "vehicle", "energy_kwh", "sessions", "cost_net_NOK", "cost_gross_NOK", "cost_net_SEK", "cost_gross_SEK"],
        ["2026-01", "2026-01-01", "", "0.500", "1", "2", "2.5", "", ""],
        ["2026-01", "2026-01-01", "v1", "1.500", "1", "", "", "4.2", "5.25"],
    ]  # fmt: skip


def test_a_month_item_keeps_arrivals_by_weekday_and_drops_the_quarter_hours():
    # Given a Tuesday's fleet and site counters
    tuesday = date(2026, 1, 13)
    counters = {"energy_wh": Decimal(5), "a07": Decimal(2), "d17": Decimal(1), "q030": Decimal(5)}
    monthly = month_counters(tuesday, counters)
    assert monthly == {"energy_wh": Decimal(5), "a2_07": Decimal(2), "d2_17": Decimal(1)}
    # Then a day item and its month item tell the same weekday × hour counts
    assert sorted(hour_counts(tuesday, counters, month=False)) == [(2, 7, "a", 2), (2, 17, "d", 1)]
    assert sorted(hour_counts(date(2026, 1, 1), monthly, month=True)) == [(2, 7, "a", 2), (2, 17, "d", 1)]
