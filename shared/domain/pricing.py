"""Turns a closed session and its site's tariff into priced invoice lines.

This is the one pricing function: the billing workflow calls it, and so will the live cost in the
API. Amounts follow EN 16931 habits: each line rounded to 2 decimals, VAT computed once per rate
on the sum of that rate's lines (not per line), totals summed exactly.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from shared.domain.errors import NotPriceable
from shared.models.registry import FlatTariff
from shared.models.sessions import ClosedSession, InvoiceLine, Totals, VatSubtotal

CENT = Decimal("0.01")
WH_PER_KWH = Decimal(1000)
KWH = Decimal("0.001")


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def energy_kwh(energy_wh: Decimal) -> Decimal:
    """kWh with Wh resolution: what a register in Wh can honestly tell."""
    return (energy_wh / WH_PER_KWH).quantize(KWH, rounding=ROUND_HALF_UP)


def price_lines(session: ClosedSession, tariff: FlatTariff) -> list[InvoiceLine]:
    if session.energy_wh < 0:
        raise NotPriceable(f"session {session.session_id} has negative energy {session.energy_wh} Wh")
    kwh = energy_kwh(session.energy_wh)
    net = money(kwh * tariff.energy_price_per_kwh)
    return [
        InvoiceLine(
            description=f"Energy, session {session.session_id}",
            quantity=kwh,
            unit="kWh",
            unit_price=tariff.energy_price_per_kwh,
            net_amount=net,
            vat_rate_percent=tariff.vat_rate_percent,
            vat_amount=money(net * tariff.vat_rate_percent / 100),
        )
    ]


def vat_breakdown(lines: list[InvoiceLine]) -> list[VatSubtotal]:
    taxable: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        taxable[line.vat_rate_percent] += line.net_amount
    return [
        VatSubtotal(vat_rate_percent=rate, taxable_amount=amount, vat_amount=money(amount * rate / 100))
        for rate, amount in sorted(taxable.items())
    ]


def totals(lines: list[InvoiceLine], vat: list[VatSubtotal]) -> Totals:
    net = sum((line.net_amount for line in lines), Decimal("0.00"))
    vat_total = sum((subtotal.vat_amount for subtotal in vat), Decimal("0.00"))
    return Totals(net=net, vat=vat_total, gross=net + vat_total)


def gross_for_energy(energy_wh: Decimal, tariff: FlatTariff) -> Decimal:
    """What a session of this energy costs including VAT, exactly as its invoice will total it."""
    lines = [
        InvoiceLine(
            description="Energy",
            quantity=energy_kwh(energy_wh),
            unit="kWh",
            unit_price=tariff.energy_price_per_kwh,
            net_amount=money(energy_kwh(energy_wh) * tariff.energy_price_per_kwh),
            vat_rate_percent=tariff.vat_rate_percent,
            vat_amount=Decimal(0),
        )
    ]
    return totals(lines, vat_breakdown(lines)).gross
