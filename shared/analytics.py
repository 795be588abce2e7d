"""Fleet analytics: the billing workflow's last step adds each priced session to its fleet's daily
rollups (`RollupRecorder`), and the fleet API answers every report from those rollups alone
(`AnalyticsQueries`: one dimension's day items, or its month items and the edge days), never from
the sessions' samples.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from shared.adapters.analytics_table import AnalyticsTable, TooManyRollups
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.domain import energy as energy_model
from shared.domain import rollups
from shared.models.analytics import (
    ArrivalsReport,
    ArrivalsRow,
    Cost,
    EnergyGroup,
    EnergyReport,
    EnergyRow,
    Granularity,
    RollupsRecorded,
    SiteLoadReport,
    SiteLoadRow,
    UtilisationGroup,
    UtilisationReport,
    UtilisationRow,
)
from shared.models.ocpi import CdrDimensionType, parse_cdr
from shared.models.sessions import PricedSession
from shared.settings import FleetApiSettings, RollupSettings

# What one request may read and answer: a Lambda has 30 s and answers at most 6 MB, and a rollup
# item takes some 30 µs to read and parse, a JSON row some 250 bytes.
MAX_ITEMS = 200_000
MAX_ROWS = 20_000
HOURS = Decimal("0.001")
SHARE = Decimal("0.0001")
KW = Decimal("0.001")
Row = TypeVar("Row", bound=BaseModel)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _now() -> datetime:
    return datetime.now(UTC)


class RollupRecorder:
    def __init__(self, sessions: SessionsTable, table: AnalyticsTable) -> None:
        self._sessions = sessions
        self._table = table

    @classmethod
    def from_settings(cls, settings: RollupSettings) -> RollupRecorder:
        return cls(SessionsTable(settings.sessions_table), AnalyticsTable(settings.analytics_table))

    def record(self, priced: PricedSession) -> RollupsRecorded:
        """Add the session, as it was priced and billed, to its fleet's days (a retry adds nothing,
        a correction replaces what its earlier attempt added)."""
        usage = usage_of(priced, self._sessions)
        days = rollups.split_by_day(usage)
        changed = self._table.record(
            usage.fleet_id,
            usage.session_id,
            usage.attempt,
            {day: rollups.counters(usage, part) for day, part in days.items()},
        )
        return RollupsRecorded(
            session_id=usage.session_id, attempt=usage.attempt, days=len(days), items_changed=changed
        )


def usage_of(priced: PricedSession, sessions: SessionsTable) -> rollups.SessionUsage:
    """The session's facts as billing fixed them: times and energy from the closed session, the
    meter readings from its samples, charging or not from its CDR's periods, cost from its total."""
    closed, facts = priced.session, priced.facts
    cdr = parse_cdr(priced.cdr_json)
    stored = sessions.get(closed.session_id)
    readings = energy_model.readings_of(
        closed.started_at, stored.meter_start_wh, stored.samples, closed.ended_at, stored.meter_stop_wh
    )
    total = cdr.total_cost
    net = total.excl_vat if total else Decimal(0)
    gross = total.incl_vat if total and total.incl_vat is not None else net
    return rollups.SessionUsage(
        session_id=closed.session_id,
        attempt=closed.attempt,
        fleet_id=closed.fleet_id,
        site_id=facts.site_id,
        charge_point_id=closed.charge_point_id,
        vehicle_id=closed.vehicle_id,
        driver_id=closed.driver_id,
        time_zone=facts.time_zone,
        started_at=closed.started_at,
        ended_at=closed.ended_at,
        energy_wh=closed.energy_wh,
        readings=readings,
        charging_from=[
            (p.start_date_time, p.volume(CdrDimensionType.PARKING_TIME) is None) for p in cdr.charging_periods
        ],
        currency=cdr.currency,
        cost_net=Decimal(net),
        cost_gross=Decimal(gross),
    )


class AnalyticsQueries:
    def __init__(
        self, table: AnalyticsTable, registry: RegistryTable, clock: Callable[[], datetime] = _now
    ) -> None:
        self._table = table
        self._registry = registry
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: FleetApiSettings) -> AnalyticsQueries:
        return cls(AnalyticsTable(settings.analytics_table), RegistryTable(settings.registry_table))

    def energy(
        self, fleet_id: str, first: date, last: date, granularity: Granularity, group_by: EnergyGroup
    ) -> EnergyReport:
        sums: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        # Months sum whole months' items; days and ISO weeks need the days themselves.
        read = self._table.period if granularity == "month" else self._table.days
        for row in read(fleet_id, group_by, first, last, max_items=MAX_ITEMS):
            period = rollups.period_start(row.day, granularity)
            for name, amount in row.counters.items():
                sums[(period, row.key)][name] += amount
        rows = [
            EnergyRow(
                period=rollups.period_label(start, granularity),
                period_start=start,
                key=key or None,
                energy_kwh=energy_model.kwh(counters.get("energy_wh", Decimal(0))),
                sessions=int(counters.get("sessions", 0)),
                costs=_costs(counters),
            )
            for (start, key), counters in sorted(sums.items())
            if any(counters.values())
        ]
        return EnergyReport(
            fleet_id=fleet_id,
            from_date=first,
            to_date=last,
            granularity=granularity,
            group_by=group_by,
            rows=rows,
        )

    def utilisation(
        self, fleet_id: str, first: date, last: date, group_by: UtilisationGroup
    ) -> UtilisationReport:
        sites = self._registry.fleet_sites(fleet_id)
        chargers = self._registry.charger_directory(fleet_id).values()
        zones = {s.id: ZoneInfo(s.time_zone) for s in sites}
        # Each thing's connectors and site; a charger or site no longer registered still has its rows.
        connectors: dict[str, int] = defaultdict(int)
        site_of: dict[str, str] = {}
        for charger in chargers:
            key = charger.id if group_by == "charger" else charger.site_id
            connectors[key] += charger.connectors
            site_of[key] = charger.site_id
        for site in sites:
            if group_by == "site":
                connectors.setdefault(site.id, 0)
                site_of[site.id] = site.id
        totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for row in self._table.period(fleet_id, group_by, first, last, max_items=MAX_ITEMS):
            for name in ("plugged_s", "charging_s", "idle_s"):
                totals[row.key][name] += row.counters.get(name, Decimal(0))
        rows = []
        for key in sorted({*connectors, *totals}):
            used = totals.get(key, {})
            plugged, charging, idle = (used.get(n, Decimal(0)) for n in ("plugged_s", "charging_s", "idle_s"))
            site_id = site_of.get(key)
            available = None
            if key in connectors and site_id in zones:
                available = connectors[key] * self._open_seconds(first, last, zones[site_id])
            rows.append(
                UtilisationRow(
                    key=key,
                    site_id=site_id,
                    connectors=connectors.get(key),
                    available_hours=_hours(available) if available is not None else None,
                    plugged_hours=_hours(plugged),
                    charging_hours=_hours(charging),
                    idle_hours=_hours(idle),
                    occupied_share=_ratio(plugged, available),
                    charging_share=_ratio(charging, available),
                    idle_share=_ratio(idle, plugged),
                )
            )
        return UtilisationReport(
            fleet_id=fleet_id, from_date=first, to_date=last, group_by=group_by, rows=rows
        )

    def site_load(self, fleet_id: str, first: date, last: date) -> SiteLoadReport:
        sites = {s.id: s for s in self._registry.fleet_sites(fleet_id)}
        rows = []
        site_days = self._table.days(fleet_id, "site", first, last, max_items=MAX_ITEMS)
        for row in sorted(site_days, key=lambda r: (r.key, r.day)):
            site = sites.get(row.key)
            peak = rollups.peak(row.counters)
            if peak is None and not row.counters.get("energy_wh"):
                continue
            quarter, wh = peak or (0, Decimal(0))
            peak_kw = (wh / rollups.QUARTER_HOURS / 1000).quantize(KW)
            limit = site.grid_limit_kw if site else None
            zone = ZoneInfo(site.time_zone) if site else None
            rows.append(
                SiteLoadRow(
                    site_id=row.key,
                    day=row.day,
                    energy_kwh=energy_model.kwh(row.counters.get("energy_wh", Decimal(0))),
                    peak_kw=peak_kw,
                    peak_at=(rollups.day_start(row.day, zone) + quarter * rollups.QUARTER).astimezone(zone)
                    if zone and peak
                    else None,
                    grid_limit_kw=limit,
                    share_of_limit=_ratio(peak_kw, limit),
                )
            )
        return SiteLoadReport(fleet_id=fleet_id, from_date=first, to_date=last, rows=_bounded(rows))

    def arrivals(self, fleet_id: str, first: date, last: date) -> ArrivalsReport:
        counts: dict[tuple[int, int, str], int] = defaultdict(int)
        for row in self._table.period(fleet_id, "fleet", first, last, max_items=MAX_ITEMS):
            for weekday, hour, kind, sessions in rollups.hour_counts(row.day, row.counters, month=row.month):
                counts[(weekday, hour, kind)] += sessions
        rows = [
            ArrivalsRow(
                weekday=weekday,
                weekday_name=WEEKDAYS[weekday - 1],
                hour=hour,
                arrivals=counts[(weekday, hour, "a")],
                departures=counts[(weekday, hour, "d")],
            )
            for weekday in range(1, 8)
            for hour in range(24)
        ]
        return ArrivalsReport(fleet_id=fleet_id, from_date=first, to_date=last, rows=rows)

    def _open_seconds(self, first: date, last: date, zone: ZoneInfo) -> Decimal:
        """Seconds of the site's local days `first`…`last` that have begun, up to now."""
        begin = rollups.day_start(first, zone)
        end = min(rollups.day_start(last + timedelta(days=1), zone), self._clock())
        return max(rollups.seconds(end - begin), Decimal(0))


def _bounded(rows: list[Row]) -> list[Row]:
    if len(rows) > MAX_ROWS:
        raise TooManyRollups(
            f"the report has {len(rows)} rows, more than the {MAX_ROWS} one answer may carry"
        )
    return rows


def _costs(counters: dict[str, Decimal]) -> list[Cost]:
    currencies = sorted(n.removeprefix("net_") for n in counters if n.startswith("net_"))
    return [
        Cost(
            currency=c, net=counters.get(f"net_{c}", Decimal(0)), gross=counters.get(f"gross_{c}", Decimal(0))
        )
        for c in currencies
    ]


def _hours(seconds: Decimal) -> Decimal:
    return (seconds / 3600).quantize(HOURS)


def _ratio(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if whole is None or whole <= 0:
        return None
    return (part / whole).quantize(SHARE)


# --- CSV: every report as one table -------------------------------------------------------------


def to_csv(report: BaseModel) -> str:
    """The report's rows as CSV with a header row; Decimals as their exact text, null as empty."""
    header, rows = _table_of(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    return buffer.getvalue()


def _table_of(report: BaseModel) -> tuple[list[str], Iterable[Sequence[object]]]:
    if isinstance(report, EnergyReport):
        currencies = sorted({c.currency for r in report.rows for c in r.costs})
        header = ["period", "period_start", report.group_by, "energy_kwh", "sessions"]
        header += [f"cost_{kind}_{c}" for c in currencies for kind in ("net", "gross")]
        return header, (
            [r.period, r.period_start, r.key, r.energy_kwh, r.sessions]
            + [_cost(r.costs, c, kind) for c in currencies for kind in ("net", "gross")]
            for r in report.rows
        )
    if isinstance(report, UtilisationReport):
        return _columns(UtilisationRow, report.rows, first=report.group_by)
    if isinstance(report, SiteLoadReport):
        return _columns(SiteLoadRow, report.rows)
    if isinstance(report, ArrivalsReport):
        return _columns(ArrivalsRow, report.rows)
    raise TypeError(f"no table for {type(report).__name__}")


def _columns(
    model: type[BaseModel], rows: Sequence[BaseModel], first: str | None = None
) -> tuple[list[str], Iterable[Sequence[object]]]:
    """One column per field of the row model, in its order (the first renamed when asked)."""
    names = list(model.model_fields)
    header = [first, *names[1:]] if first else names
    return header, ([getattr(row, n) for n in names] for row in rows)


def _cost(costs: list[Cost], currency: str, kind: str) -> Decimal | None:
    for cost in costs:
        if cost.currency == currency:
            return cost.net if kind == "net" else cost.gross
    return None
