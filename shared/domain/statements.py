"""A fleet's month on one invoice: each session's priced lines kept beside its sealed CDR, summed
a day at a time (the statement workflow's Map), then summed again by what they bill.

Lines of different sessions are one statement line when they bill the same thing at the same
price and VAT rate (energy at 2.80, energy at the night price, parking at 30/h, the start fee).
Every sum is exact; the invoice rounds each statement line once, as EN 16931 asks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.tariffs import LineKind, TariffLine

_SUMMED = ("quantity", "measured", "excl_vat", "incl_vat")


def line_record(lines: Sequence[TariffLine]) -> list[dict[str, str]]:
    """A session's lines as plain text values (exact decimals), to keep with its statement entry."""
    return [
        {
            "kind": line.kind.value,
            "unit": line.unit,
            "price_per_unit": str(line.price_per_unit),
            "vat_rate": "" if line.vat_rate is None else str(line.vat_rate),
            **{name: str(getattr(line, name)) for name in _SUMMED},
        }
        for line in lines
    ]


def summed(records: Iterable[list[dict[str, str]]]) -> list[dict[str, str]]:
    """Lines of many sessions (or day sums) summed by what they bill, in a stable order."""
    totals: dict[tuple[str, str, str, str], dict[str, Decimal]] = {}
    for lines in records:
        for line in lines:
            key = (line["kind"], line["unit"], line["price_per_unit"], line["vat_rate"])
            sums = totals.setdefault(key, dict.fromkeys(_SUMMED, Decimal(0)))
            for name in _SUMMED:
                sums[name] += Decimal(line[name])
    order = list(LineKind)
    return [
        {
            "kind": kind,
            "unit": unit,
            "price_per_unit": price,
            "vat_rate": vat,
            **{n: str(v) for n, v in sums.items()},
        }
        for (kind, unit, price, vat), sums in sorted(
            totals.items(), key=lambda kv: (order.index(LineKind(kv[0][0])), Decimal(kv[0][2]))
        )
    ]


def tariff_lines(records: list[dict[str, str]]) -> list[TariffLine]:
    """Summed lines back as pricing lines, for the invoice to round and settle."""
    return [
        TariffLine(
            kind=LineKind(line["kind"]),
            element_index=None,
            quantity=Decimal(line["quantity"]),
            measured=Decimal(line["measured"]),
            unit=line["unit"],
            price_per_unit=Decimal(line["price_per_unit"]),
            vat_rate=Decimal(line["vat_rate"]) if line["vat_rate"] else None,
            excl_vat=Decimal(line["excl_vat"]),
            incl_vat=Decimal(line["incl_vat"]),
        )
        for line in records
    ]


SPECIFICATION_COLUMNS = (
    "session_id", "charge_point_id", "connector_id", "site_id", "started_local", "ended_local",
    "energy_kwh", "vehicle_id", "driver_id", "cdr_id", "amount_excl_vat", "amount_incl_vat",
)  # fmt: skip


def specification_csv(entries: Iterable[dict[str, Any]]) -> str:
    """The statement's specification: one row per session, in the order they ended."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SPECIFICATION_COLUMNS)
    for entry in sorted(entries, key=lambda e: (e["ended_local"], e["session_id"])):
        writer.writerow([entry.get(column, "") or "" for column in SPECIFICATION_COLUMNS])
    return out.getvalue()


def month_before(at: datetime, time_zone: str) -> str:
    """The month that ended before `at` in this time zone: the one a statement run on the 1st bills."""
    local = at.astimezone(ZoneInfo(time_zone))
    first = local.date().replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"
