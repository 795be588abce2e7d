"""From a closed session to its priced OCPI 2.2.1 CDR: the charging periods from the meter
samples, priced by the one pricing function with the tariff version in force at the start.

The energy billed is the energy the close step measured and trusted (or an operator decided),
so the periods' ENERGY volumes are made to add up to it: a meter reset or an ignored offline
baseline never reaches the bill through the back door of the periods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.domain import energy
from shared.domain.charging_periods import charging_periods
from shared.domain.errors import NotPriceable
from shared.domain.tariffs import CdrTotals, Moment, TariffLine, components_at, price_periods, tariff_in_force
from shared.models.billing_documents import UnitPrice
from shared.models.ocpi import (
    Cdr,
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    Price,
    Tariff,
    TariffDimensionType,
    parse_tariff,
)
from shared.models.registry import Operator, Site
from shared.models.sessions import ClosedSession, MeterSample, Session

WH_PER_KWH = Decimal(1000)
_CDR_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-]")
_UNITS: dict[TariffDimensionType, Literal["kWh", "hour", "session"]] = {
    TariffDimensionType.ENERGY: "kWh",
    TariffDimensionType.TIME: "hour",
    TariffDimensionType.PARKING_TIME: "hour",
    TariffDimensionType.FLAT: "session",
}


@dataclass(frozen=True)
class Rated:
    cdr: Cdr
    totals: CdrTotals


def rate(
    closed: ClosedSession,
    samples: list[MeterSample],
    tariff: Tariff,
    site: Site,
    seller: Operator,
    *,
    last_updated: datetime,
) -> Rated:
    """Price a closed session and write its CDR (never changed after: a correction is a credit)."""
    tz = ZoneInfo(site.time_zone)
    tariff_in_force(tariff, closed.started_at)
    periods = charging_periods(
        samples,
        closed.started_at,
        closed.ended_at,
        tariff,
        tz,
        meter_start_wh=closed.meter_start_wh,
        meter_stop_wh=closed.meter_stop_wh,
    )
    if not periods:
        # A session with no duration (start and stop in the same second) still delivered what
        # its registers say: one period at the start.
        periods = [
            ChargingPeriod(
                start_date_time=closed.started_at,
                dimensions=[CdrDimension(type=CdrDimensionType.ENERGY, volume=Decimal(0))],
            )
        ]
    periods = with_energy(periods, closed.energy_wh / WH_PER_KWH)
    totals = price_periods(tariff, periods, tz, session_start=closed.started_at, session_end=closed.ended_at)
    return Rated(_cdr(closed, tariff, periods, totals, site, seller, last_updated), totals)


def with_energy(periods: list[ChargingPeriod], energy_kwh: Decimal) -> list[ChargingPeriod]:
    """The periods with ENERGY volumes that add up to `energy_kwh`, shared in proportion to what
    each period measured (all of it in the first period when nothing was measured)."""
    if not periods:
        return periods
    measured = [p.volume(CdrDimensionType.ENERGY) or Decimal(0) for p in periods]
    total = sum(measured, Decimal(0))
    if total == energy_kwh:
        return periods
    if total > 0:
        shares = [energy_kwh * m / total for m in measured]
        # What division leaves over goes to the last period, so the sum is exact.
        shares[-1] = energy_kwh - sum(shares[:-1], Decimal(0))
    else:
        shares = [energy_kwh] + [Decimal(0)] * (len(periods) - 1)
    return [_set_energy(p, share) for p, share in zip(periods, shares, strict=True)]


def _set_energy(period: ChargingPeriod, kwh: Decimal) -> ChargingPeriod:
    others = [d for d in period.dimensions if d.type != CdrDimensionType.ENERGY]
    return period.model_copy(
        update={"dimensions": [CdrDimension(type=CdrDimensionType.ENERGY, volume=kwh), *others]}
    )


def unit_prices(tariff: Tariff, started_at: datetime, time_zone: str) -> list[UnitPrice]:
    """The prices in force when the session started, per unit, excluding and including VAT: what
    EU AFIR asks an operator to show before and after charging."""
    moment = Moment(at=started_at, duration_s=Decimal(0), energy_kwh=Decimal(0))
    selection = components_at(tariff, moment, ZoneInfo(time_zone))
    prices: list[UnitPrice] = []
    for dimension in (
        TariffDimensionType.ENERGY,
        TariffDimensionType.TIME,
        TariffDimensionType.PARKING_TIME,
        TariffDimensionType.FLAT,
    ):
        if dimension not in selection:
            continue
        component = selection[dimension][1]
        vat = component.vat
        incl = component.price * (1 + (vat or Decimal(0)) / 100)
        prices.append(
            UnitPrice(
                dimension=dimension.value,
                unit=_UNITS[dimension],
                excl_vat=component.price,
                incl_vat=incl.quantize(Decimal("0.0001")),
                vat_rate_percent=vat,
            )
        )
    return prices


def cdr_id(session_id: str, attempt: int = 0) -> str:
    """OCPI CDR ids are CiString(39): the session id with only letters, digits and dashes (and
    which correction it is)."""
    suffix = f"-C{attempt}" if attempt else ""
    return _CDR_ID_UNSAFE.sub("-", session_id)[: 39 - len(suffix)] + suffix


def credit_cdr(original: Cdr, attempt: int) -> Cdr:
    """The credit CDR that cancels `original` (OCPI: `credit` true, `credit_reference_id` the
    original's id, every cost negative); the periods stay as they were measured."""
    extra = dict(original.model_extra or {})
    original_id = str(extra.get("id", "cdr"))
    suffix = f"-CR{attempt}"
    fields: dict[str, Any] = original.model_dump(mode="python", exclude_none=True)
    fields.update(id=original_id[: 39 - len(suffix)] + suffix, credit=True, credit_reference_id=original_id)
    for name in ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost",
                 "total_parking_cost", "total_reservation_cost"):  # fmt: skip
        price = getattr(original, name)
        if price is not None:
            fields[name] = Price(
                excl_vat=-price.excl_vat, incl_vat=-price.incl_vat if price.incl_vat is not None else None
            )
    return Cdr.model_validate(fields)


def _cdr(
    closed: ClosedSession,
    tariff: Tariff,
    periods: list[ChargingPeriod],
    totals: CdrTotals,
    site: Site,
    seller: Operator,
    last_updated: datetime,
) -> Cdr:
    fields: dict[str, Any] = {
        "country_code": seller.address.country,
        "party_id": seller.ocpi_party_id,
        "id": cdr_id(closed.session_id, closed.attempt),
        "start_date_time": closed.started_at,
        "end_date_time": closed.ended_at,
        "session_id": closed.session_id,
        "cdr_token": {
            "country_code": seller.address.country,
            "party_id": seller.ocpi_party_id,
            "uid": closed.id_tag or "unknown",
            "type": "RFID",
            "contract_id": closed.id_tag or "unknown",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": site.id,
            "name": site.name,
            "address": site.address.street,
            "city": site.address.city,
            "postal_code": site.address.postal_code,
            "country": _alpha3(site.address.country),
            "evse_uid": f"{closed.charge_point_id}-{closed.connector_id}",
            "evse_id": f"{closed.charge_point_id}*{closed.connector_id}",
            "connector_id": str(closed.connector_id),
        },
        "currency": tariff.currency,
        "tariffs": [tariff.model_dump(mode="python", exclude_none=True)],
        "charging_periods": periods,
        "total_cost": totals.total_cost,
        "total_fixed_cost": _price_or_none(totals.total_fixed_cost),
        "total_energy": totals.total_energy,
        "total_energy_cost": _price_or_none(totals.total_energy_cost),
        "total_time": totals.total_time,
        "total_time_cost": _price_or_none(totals.total_time_cost),
        "total_parking_time": totals.total_parking_time,
        "total_parking_cost": _price_or_none(totals.total_parking_cost),
        "credit": False,
        "last_updated": last_updated,
    }
    return Cdr.model_validate({k: v for k, v in fields.items() if v is not None})


def _price_or_none(price: Price) -> Price | None:
    return None if price.excl_vat == 0 and (price.incl_vat or 0) == 0 else price


# OCPI locations use ISO 3166-1 alpha-3; the registry keeps alpha-2.
_ALPHA3 = {"SE": "SWE", "NO": "NOR", "DK": "DNK", "FI": "FIN", "DE": "DEU", "NL": "NLD", "GB": "GBR"}


def _alpha3(alpha2: str) -> str:
    return _ALPHA3.get(alpha2, alpha2)


def lines_of(cdr: Cdr, time_zone: str) -> tuple[TariffLine, ...]:
    """The priced lines of a sealed CDR, priced again from its own tariff and periods by the same
    function: what the invoice bills is what the CDR says, to the digit."""
    tariffs = (cdr.model_extra or {}).get("tariffs") or []
    if len(tariffs) != 1:
        raise NotPriceable(
            f"CDR {cdr.model_extra and cdr.model_extra.get('id')} names {len(tariffs)} tariffs, not one"
        )
    tariff = parse_tariff(tariffs[0])
    totals = price_periods(
        tariff,
        cdr.charging_periods,
        ZoneInfo(time_zone),
        session_start=cdr.start_date_time,
        session_end=cdr.end_date_time,
    )
    return totals.lines


def so_far(
    session: Session, tariff: Tariff, site: Site, seller: Operator, max_power_kw: Decimal, until: datetime
) -> Rated:
    """A session priced as if it closed at `until` (its end, once it has one): the live cost in the
    API and 2.0.1's totalCost, by the very function that will price the invoice."""
    ended_at = session.ended_at or until
    readings = energy.readings_of(
        session.started_at, session.meter_start_wh, session.samples, ended_at, session.meter_stop_wh
    )
    verdict = energy.session_energy(readings, max_power_kw, session.samples)
    measured = session.energy_override_wh if session.energy_override_wh is not None else verdict.energy_wh
    closed = closed_from(session, readings, measured, max(ended_at, session.started_at))
    return rate(closed, session.samples, tariff, site, seller, last_updated=closed.ended_at)


def closed_from(
    session: Session,
    readings: list[energy.Reading],
    energy_wh: Decimal,
    ended_at: datetime,
    held_reason: str | None = None,
) -> ClosedSession:
    """The facts of a session as billing fixes them: its register readings' first and last, the
    energy decided, and (for a correction) the invoice it credits."""
    return ClosedSession(
        session_id=session.session_id,
        transaction_id=session.transaction_id,
        charge_point_id=session.charge_point_id,
        connector_id=session.connector_id,
        id_tag=session.id_tag,
        fleet_id=session.fleet_id,
        site_id=session.site_id,
        driver_id=session.driver_id,
        vehicle_id=session.vehicle_id,
        started_at=session.started_at,
        ended_at=ended_at,
        meter_start_wh=readings[0].register_wh if readings else Decimal(0),
        meter_stop_wh=readings[-1].register_wh if readings else Decimal(0),
        energy_wh=energy_wh,
        stop_reason=session.stop_reason,
        held_reason=held_reason,
        attempt=session.correction_attempt,
        credit_invoice_key=session.credit_invoice_key,
        correction_reason=session.correction_reason,
    )
