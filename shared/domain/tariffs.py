"""The one pricing function: an OCPI 2.2.1 tariff (with the 2.2.1-d2 errata) applied to charging
periods, giving every CDR total and the priced lines an invoice is made of.

The live cost in the API, the CDR, the invoice and OCPP 2.0.1's `totalCost` all call
`price_periods`, so they cannot disagree. Amounts are exact Decimals; rounding to a currency or to
OCPI's 4 decimals belongs to whoever writes them out (`priced_cdr` does the latter).

How a tariff applies, in short (the spec text each rule rests on is quoted where it is applied):
- each period is priced by the elements whose restrictions hold at the period's start, in local
  time of the site; per dimension the first such element with a component of that dimension wins;
- FLAT is charged once per session;
- `step_size` rounds the session total up once for ENERGY and once for time: parking time when
  parking is priced, otherwise charging time; the step size is that of the last period's component
  and the extra volume is billed at that period's price;
- `min_price` and `max_price` bound the total, excluding and including VAT each on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum

from shared.models.ocpi import (
    Cdr,
    CdrDimensionType,
    CdrError,
    ChargingPeriod,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffError,
    TariffRestrictions,
)

ZERO = Decimal(0)
HOUR_S = Decimal(3600)
WH_PER_KWH = Decimal(1000)
OCPI_PLACES = Decimal("0.0001")
UNIT_RESOLUTION = Decimal("0.000001")  # of a second or a Wh, when rounding up to a step


class LineKind(StrEnum):
    """What a priced line is for; each kind adds to one CDR total."""

    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    FLAT = "FLAT"
    RESERVATION_TIME = "RESERVATION_TIME"
    RESERVATION_FLAT = "RESERVATION_FLAT"
    MIN_PRICE = "MIN_PRICE"
    MAX_PRICE = "MAX_PRICE"


UNITS = {
    LineKind.ENERGY: "kWh",
    LineKind.TIME: "h",
    LineKind.PARKING_TIME: "h",
    LineKind.RESERVATION_TIME: "h",
    LineKind.FLAT: "session",
    LineKind.RESERVATION_FLAT: "reservation",
    LineKind.MIN_PRICE: "session",
    LineKind.MAX_PRICE: "session",
}


@dataclass(frozen=True)
class TariffLine:
    """One priced line: a dimension at one price component (one tariff element), over the session.

    `quantity` is what is billed (after step_size), `measured` what was used. `vat_rate` None means
    "no VAT applicable", which the invoice must show differently from a 0 % rate.
    """

    kind: LineKind
    element_index: int | None
    quantity: Decimal
    measured: Decimal
    unit: str
    price_per_unit: Decimal
    vat_rate: Decimal | None
    excl_vat: Decimal
    incl_vat: Decimal


@dataclass(frozen=True)
class CdrTotals:
    """Every OCPI 2.2.1 CDR total, exact, plus the lines they are the sums of.

    Volumes (total_energy in kWh, the times in hours) are what was measured; costs are what is
    billed. total_cost is the sum of every line, min/max price adjustments included.
    """

    currency: str
    total_cost: Price
    total_fixed_cost: Price
    total_energy: Decimal
    total_energy_cost: Price
    total_time: Decimal
    total_time_cost: Price
    total_parking_time: Decimal
    total_parking_cost: Price
    total_reservation_cost: Price
    lines: tuple[TariffLine, ...] = field(default=())


@dataclass(frozen=True)
class Moment:
    """What a tariff restriction can look at, at one instant of a session."""

    at: datetime  # aware; restrictions read it in the site's local time
    duration_s: Decimal  # since the session started
    energy_kwh: Decimal  # delivered before this instant
    min_power_kw: Decimal | None = None
    max_power_kw: Decimal | None = None
    min_current_a: Decimal | None = None
    max_current_a: Decimal | None = None


Selection = dict[TariffDimensionType, tuple[int, PriceComponent]]


# ---------------------------------------------------------------------------------------------
# Which elements apply


def restrictions_hold(restrictions: TariffRestrictions | None, moment: Moment, tz: tzinfo) -> bool:
    """Whether an element's restrictions hold at this moment.

    Times and dates are read in the site's local time ("Start time of day in local time, the time
    zone is defined in the time_zone field of the Location"). end_time, end_date and every max_*
    are exclusive; start_time, start_date and every min_* inclusive (min_duration "(inclusive)",
    max_duration "(exclusive)", end_date "valid until this day (exclusive)"). A window whose
    end_time is before its start_time wraps past midnight. Power and current are judged on the
    period's MIN_/MAX_ dimensions, so they hold moment by moment; a period without them is not
    excluded by them (nothing says it is outside the range).
    """
    if restrictions is None:
        return True
    r = restrictions
    local = moment.at.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if r.start_time is not None and r.end_time is not None and r.end_time < r.start_time:
        if not (clock >= r.start_time or clock < r.end_time):
            return False
    else:
        if r.start_time is not None and clock < r.start_time:
            return False
        if r.end_time is not None and clock >= r.end_time:
            return False
    today = local.date()
    if r.start_date is not None and today < r.start_date:
        return False
    if r.end_date is not None and today >= r.end_date:
        return False
    if r.day_of_week and local.isoweekday() not in {day.iso_weekday for day in r.day_of_week}:
        return False
    if r.min_kwh is not None and moment.energy_kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and moment.energy_kwh >= r.max_kwh:
        return False
    if r.min_duration is not None and moment.duration_s < r.min_duration:
        return False
    if r.max_duration is not None and moment.duration_s >= r.max_duration:
        return False
    if r.min_power is not None and moment.min_power_kw is not None and moment.min_power_kw < r.min_power:
        return False
    if r.max_power is not None and moment.max_power_kw is not None and moment.max_power_kw >= r.max_power:
        return False
    if (
        r.min_current is not None
        and moment.min_current_a is not None
        and moment.min_current_a < r.min_current
    ):
        return False
    return not (
        r.max_current is not None
        and moment.max_current_a is not None
        and moment.max_current_a >= r.max_current
    )


def components_at(
    tariff: Tariff,
    moment: Moment,
    tz: tzinfo,
    *,
    reservation: Sequence[ReservationRestrictionType] = (),
) -> Selection:
    """The price component of each dimension at this moment, with the index of its element.

    "When the list of Tariff Elements contains more than one Element with the same Tariff
    Dimension (ENERGY/FLAT/TIME etc.), than the first Tariff Element with that Dimension in the
    list with matching Tariff Restrictions will be used." Elements with a `reservation`
    restriction price reservations only: pass the kinds that apply, in order of precedence.
    """
    if reservation:
        candidates = [
            (index, element)
            for kind in reservation
            for index, element in enumerate(tariff.elements)
            if element.restrictions is not None and element.restrictions.reservation == kind
        ]
    else:
        candidates = [
            (index, element)
            for index, element in enumerate(tariff.elements)
            if element.restrictions is None or element.restrictions.reservation is None
        ]
    selection: Selection = {}
    for index, element in candidates:
        if not restrictions_hold(element.restrictions, moment, tz):
            continue
        for component in element.price_components:
            selection.setdefault(component.type, (index, component))
    return selection


def tariff_in_force(tariff: Tariff, session_start: datetime) -> None:
    """Refuse a tariff that is not valid when the session starts ("a driver accepts the tariff
    which is valid when they start their charging session")."""
    if tariff.start_date_time is not None and session_start < tariff.start_date_time:
        raise TariffError(
            "start_date_time",
            f"the tariff starts at {tariff.start_date_time.isoformat()}, after the session started "
            f"({session_start.isoformat()})",
        )
    if tariff.end_date_time is not None and session_start >= tariff.end_date_time:
        raise TariffError(
            "end_date_time",
            f"the tariff ended at {tariff.end_date_time.isoformat()}, before the session started "
            f"({session_start.isoformat()})",
        )


# ---------------------------------------------------------------------------------------------
# Pricing


@dataclass
class _Use:
    """A volume of one period billed at one component."""

    period: int
    kind: LineKind
    element_index: int
    component: PriceComponent
    measured: Decimal
    billed: Decimal


def price_periods(
    tariff: Tariff,
    periods: Sequence[ChargingPeriod],
    tz: tzinfo,
    *,
    session_start: datetime,
    session_end: datetime,
) -> CdrTotals:
    """Price a session's charging periods (in time order) with a tariff, in the site's time zone.

    Raises TariffError when the tariff is not in force at session_start, CdrError when the
    periods are out of order or outside the session.
    """
    tariff_in_force(tariff, session_start)
    _check_periods(periods, session_start, session_end)
    reservation_period = [p.volume(CdrDimensionType.RESERVATION_TIME) is not None for p in periods]
    # An expired reservation is a CDR of reservation time only: "billed when a reservation expires
    # and is not followed by a charging session". Its RESERVATION_EXPIRES elements come first.
    expired = bool(periods) and all(reservation_period)
    reservation_kinds = (
        (ReservationRestrictionType.RESERVATION_EXPIRES, ReservationRestrictionType.RESERVATION)
        if expired
        else (ReservationRestrictionType.RESERVATION,)
    )

    uses: list[_Use] = []
    flat: tuple[int, PriceComponent] | None = None
    reservation_flat: tuple[int, PriceComponent] | None = None
    energy_before = ZERO
    total_energy = total_charging = total_parking = total_reserved = ZERO
    for index, period in enumerate(periods):
        moment = Moment(
            at=period.start_date_time,
            duration_s=Decimal(str((period.start_date_time - session_start).total_seconds())),
            energy_kwh=energy_before,
            min_power_kw=period.volume(CdrDimensionType.MIN_POWER),
            max_power_kw=period.volume(CdrDimensionType.MAX_POWER),
            min_current_a=period.volume(CdrDimensionType.MIN_CURRENT),
            max_current_a=period.volume(CdrDimensionType.MAX_CURRENT),
        )
        reserved = period.volume(CdrDimensionType.RESERVATION_TIME)
        if reserved is not None:
            total_reserved += reserved
            chosen = components_at(tariff, moment, tz, reservation=reservation_kinds)
            if TariffDimensionType.TIME in chosen and reserved > 0:
                element, component = chosen[TariffDimensionType.TIME]
                uses.append(_Use(index, LineKind.RESERVATION_TIME, element, component, reserved, reserved))
            if reservation_flat is None:
                reservation_flat = chosen.get(TariffDimensionType.FLAT)
        chosen = components_at(tariff, moment, tz)
        for dimension, kind in (
            (CdrDimensionType.ENERGY, LineKind.ENERGY),
            (CdrDimensionType.TIME, LineKind.TIME),
            (CdrDimensionType.PARKING_TIME, LineKind.PARKING_TIME),
        ):
            volume = period.volume(dimension)
            if volume is None:
                continue
            if dimension is CdrDimensionType.ENERGY:
                total_energy += volume
            elif dimension is CdrDimensionType.TIME:
                total_charging += volume
            else:
                total_parking += volume
            priced = chosen.get(TariffDimensionType(kind.value))
            if priced is not None and volume > 0:
                uses.append(_Use(index, kind, priced[0], priced[1], volume, volume))
        # FLAT is a fee per session, not per period: charged once, at the first period with one.
        if flat is None and not reservation_period[index]:
            flat = chosen.get(TariffDimensionType.FLAT)
        energy_before += period.volume(CdrDimensionType.ENERGY) or ZERO

    _round_up(uses, LineKind.ENERGY, total_energy * WH_PER_KWH, WH_PER_KWH)
    # d2 errata: "In the cases that TIME and PARKING_TIME Tariff Elements are both used, step_size
    # is only taken into account for the total parking duration".
    if any(use.kind is LineKind.PARKING_TIME for use in uses):
        _round_up(uses, LineKind.PARKING_TIME, total_parking * HOUR_S, HOUR_S)
    else:
        _round_up(uses, LineKind.TIME, total_charging * HOUR_S, HOUR_S)
    _round_up(uses, LineKind.RESERVATION_TIME, total_reserved * HOUR_S, HOUR_S)

    lines = _lines(uses)
    if flat is not None:
        lines.append(_flat_line(LineKind.FLAT, *flat))
    if reservation_flat is not None:
        lines.append(_flat_line(LineKind.RESERVATION_FLAT, *reservation_flat))
    lines.extend(_price_limits(tariff, lines))

    def cost(*kinds: LineKind) -> Price:
        chosen_lines = [line for line in lines if line.kind in kinds]
        return Price(
            excl_vat=sum((line.excl_vat for line in chosen_lines), ZERO),
            incl_vat=sum((line.incl_vat for line in chosen_lines), ZERO),
        )

    return CdrTotals(
        currency=tariff.currency,
        total_cost=cost(*LineKind),
        total_fixed_cost=cost(LineKind.FLAT),
        total_energy=total_energy,
        total_energy_cost=cost(LineKind.ENERGY),
        total_time=Decimal(str((session_end - session_start).total_seconds())) / HOUR_S,
        total_time_cost=cost(LineKind.TIME),
        total_parking_time=total_parking,
        total_parking_cost=cost(LineKind.PARKING_TIME),
        total_reservation_cost=cost(LineKind.RESERVATION_TIME, LineKind.RESERVATION_FLAT),
        lines=tuple(lines),
    )


def _check_periods(periods: Sequence[ChargingPeriod], start: datetime, end: datetime) -> None:
    if end < start:
        raise CdrError("end_date_time", "is before start_date_time")
    previous: datetime | None = None
    for index, period in enumerate(periods):
        if previous is not None and period.start_date_time < previous:
            raise CdrError(
                f"charging_periods[{index}].start_date_time", "is before the previous period's start"
            )
        if period.start_date_time > end:
            raise CdrError(f"charging_periods[{index}].start_date_time", "is after the session's end")
        previous = period.start_date_time


def _round_up(uses: list[_Use], kind: LineKind, total_units: Decimal, units_per_volume: Decimal) -> None:
    """Round a dimension's session total up to the step size of its last priced period.

    "step_size SHALL only be taken into account once per session"; the last Tariff Element's
    component decides, and the extra volume is billed in that last period at its price.
    """
    priced = [use for use in uses if use.kind is kind]
    if not priced:
        return
    last = priced[-1]
    step = last.component.step_size
    if step <= 0:
        return
    # Hours are often not finite decimals (1 minute is 0.01666... h): the last digits of a sum of
    # them are noise, which must not cost a whole extra step. Seconds and Wh are judged to the
    # millionth before rounding up, and the extra volume is never negative.
    measured = total_units.quantize(UNIT_RESOLUTION)
    billed_units = (measured / step).to_integral_value(rounding=ROUND_CEILING) * step
    last.billed += max(ZERO, billed_units - total_units) / units_per_volume


def _lines(uses: list[_Use]) -> list[TariffLine]:
    grouped: dict[tuple[LineKind, int], list[_Use]] = {}
    for use in uses:
        grouped.setdefault((use.kind, use.element_index), []).append(use)
    lines = []
    for (kind, element_index), group in grouped.items():
        component = group[0].component
        quantity = sum((use.billed for use in group), ZERO)
        excl = quantity * component.price
        lines.append(
            TariffLine(
                kind=kind,
                element_index=element_index,
                quantity=quantity,
                measured=sum((use.measured for use in group), ZERO),
                unit=UNITS[kind],
                price_per_unit=component.price,
                vat_rate=component.vat,
                excl_vat=excl,
                incl_vat=_with_vat(excl, component.vat),
            )
        )
    return lines


def _flat_line(kind: LineKind, element_index: int, component: PriceComponent) -> TariffLine:
    return TariffLine(
        kind=kind,
        element_index=element_index,
        quantity=Decimal(1),
        measured=Decimal(1),
        unit=UNITS[kind],
        price_per_unit=component.price,
        vat_rate=component.vat,
        excl_vat=component.price,
        incl_vat=_with_vat(component.price, component.vat),
    )


def _with_vat(amount: Decimal, vat: Decimal | None) -> Decimal:
    # "If omitted, no VAT is applicable": the amount including VAT is the amount itself.
    return amount if vat is None else amount * (100 + vat) / 100


def _price_limits(tariff: Tariff, lines: list[TariffLine]) -> list[TariffLine]:
    """The min_price / max_price adjustments, as lines. "As the VAT might be built up of different
    parts ... So as a rule, they both apply": excluding and including VAT are bounded separately."""
    excl = sum((line.excl_vat for line in lines), ZERO)
    incl = sum((line.incl_vat for line in lines), ZERO)
    adjustments = []
    if tariff.min_price is not None:
        floor_excl = tariff.min_price.excl_vat
        floor_incl = tariff.min_price.incl_vat if tariff.min_price.incl_vat is not None else floor_excl
        up_excl, up_incl = max(ZERO, floor_excl - excl), max(ZERO, floor_incl - incl)
        if up_excl or up_incl:
            adjustments.append(_adjustment(LineKind.MIN_PRICE, up_excl, up_incl))
            excl, incl = excl + up_excl, incl + up_incl
    if tariff.max_price is not None:
        cap_excl = tariff.max_price.excl_vat
        cap_incl = tariff.max_price.incl_vat if tariff.max_price.incl_vat is not None else cap_excl
        down_excl, down_incl = max(ZERO, excl - cap_excl), max(ZERO, incl - cap_incl)
        if down_excl or down_incl:
            adjustments.append(_adjustment(LineKind.MAX_PRICE, -down_excl, -down_incl))
    return adjustments


def _adjustment(kind: LineKind, excl: Decimal, incl: Decimal) -> TariffLine:
    return TariffLine(
        kind=kind,
        element_index=None,
        quantity=Decimal(1),
        measured=Decimal(1),
        unit=UNITS[kind],
        price_per_unit=excl,
        vat_rate=None,
        excl_vat=excl,
        incl_vat=incl,
    )


# ---------------------------------------------------------------------------------------------
# The priced CDR


def ocpi_number(value: Decimal) -> Decimal:
    """A value as an OCPI `number`: "Unless mentioned otherwise, numbers use 4 decimals"."""
    return value.quantize(OCPI_PLACES, rounding=ROUND_HALF_UP).normalize() + ZERO


def _ocpi_price(price: Price) -> Price:
    incl = price.incl_vat if price.incl_vat is not None else price.excl_vat
    return Price(excl_vat=ocpi_number(price.excl_vat), incl_vat=ocpi_number(incl))


def _optional_cost(price: Price) -> Price | None:
    # The per-dimension cost totals are optional in a CDR ("?"): a kind of cost the session did
    # not have is left out rather than written as 0.
    written = _ocpi_price(price)
    return None if written.excl_vat == 0 and written.incl_vat == 0 else written


def priced_cdr(cdr: Cdr, tariff: Tariff, tz: tzinfo) -> Cdr:
    """The CDR with every total filled from its charging periods; everything else unchanged."""
    if cdr.currency != tariff.currency:
        raise CdrError(
            "currency", f"the CDR is in {cdr.currency} but the tariff {tariff.id} in {tariff.currency}"
        )
    totals = price_periods(
        tariff, cdr.charging_periods, tz, session_start=cdr.start_date_time, session_end=cdr.end_date_time
    )
    return cdr.model_copy(
        update={
            "total_cost": _ocpi_price(totals.total_cost),
            "total_fixed_cost": _optional_cost(totals.total_fixed_cost),
            "total_energy": ocpi_number(totals.total_energy),
            "total_energy_cost": _optional_cost(totals.total_energy_cost),
            "total_time": ocpi_number(totals.total_time),
            "total_time_cost": _optional_cost(totals.total_time_cost),
            "total_parking_time": ocpi_number(totals.total_parking_time),
            "total_parking_cost": _optional_cost(totals.total_parking_cost),
            "total_reservation_cost": _optional_cost(totals.total_reservation_cost),
        }
    )
