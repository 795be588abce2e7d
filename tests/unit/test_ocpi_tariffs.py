"""OCPI 2.2.1 tariffs (with the 2.2.1-d2 errata), written from the spec text: step_size, VAT,
min/max price, restrictions and their edges, first matching element per dimension, reservations,
and refusing what cannot be read one way only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from laddvakt.cli import main
from shared.domain.tariffs import LineKind, price_periods, priced_cdr
from shared.models.ocpi import (
    CdrError,
    ChargingPeriod,
    Tariff,
    TariffError,
    parse_cdr,
    parse_tariff,
)

pytestmark = pytest.mark.unit

UTC_ZONE = ZoneInfo("UTC")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
D = Decimal


def tariff(*elements: dict[str, Any], **fields: Any) -> Tariff:
    return parse_tariff({"id": "T1", "currency": "EUR", "elements": list(elements), **fields})


def dumps(document: Any) -> str:
    """JSON for a file the command reads; Decimals written as JSON numbers."""
    return json.dumps(document, default=lambda value: float(value))


def component(kind: str, price: str, step: int = 1, vat: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "price": D(price), "step_size": step}
    if vat is not None:
        data["vat"] = D(vat)
    return data


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def period(start: datetime, **volumes: str) -> ChargingPeriod:
    return ChargingPeriod.model_validate(
        {
            "start_date_time": start,
            "dimensions": [{"type": kind, "volume": D(volume)} for kind, volume in volumes.items()],
        }
    )


def price(t: Tariff, periods: list[ChargingPeriod], end: datetime, tz: ZoneInfo = UTC_ZONE):
    return price_periods(t, periods, tz, session_start=periods[0].start_date_time, session_end=end)


T17 = datetime(2022, 1, 13, 16, 55, tzinfo=UTC)


# --- step_size ---------------------------------------------------------------------------------


def test_energy_step_size_rounds_the_session_total_once_and_bills_the_extra_in_the_last_period():
    # Given 0.30/kWh before 17:00 (step 1 Wh) and 0.40/kWh after (step 1000 Wh)
    t = tariff(
        element(component("ENERGY", "0.30", 1), start_time="00:00", end_time="17:00"),
        element(component("ENERGY", "0.40", 1000), start_time="17:00"),
    )
    # When 2.5 kWh are charged before 17:00 and 1.2 kWh after (3.7 kWh)
    totals = price(
        t,
        [period(T17, ENERGY="2.5"), period(T17 + timedelta(minutes=5), ENERGY="1.2")],
        T17 + timedelta(hours=1),
    )
    # Then the total is rounded once to 4 kWh with the last step size, the extra 0.3 kWh at 0.40
    assert totals.total_energy == D("3.7")
    assert totals.total_energy_cost.excl_vat == D("2.5") * D("0.30") + D("1.5") * D("0.40")


def test_charging_time_is_rounded_with_the_last_elements_step_size_when_nothing_is_parked():
    # Given the spec's step_size example: 1.20/h before 17:00 (step 30 min), 2.40/h after (15 min)
    t = tariff(
        element(component("TIME", "1.20", 1800), start_time="00:00", end_time="17:00"),
        element(component("TIME", "2.40", 900), start_time="17:00", end_time="20:00"),
    )
    start = datetime(2022, 1, 13, 16, 35, tzinfo=UTC)
    # When the driver charges from 16:35 for 35 minutes and leaves
    totals = price(
        t,
        [period(start, TIME=str(D(25) / 60)), period(start + timedelta(minutes=25), TIME=str(D(10) / 60))],
        start + timedelta(minutes=35),
    )
    # Then 45 minutes are billed: 25 before 17:00 (0.50) and 20 after (0.80), 1.30 in all
    assert totals.total_time_cost.excl_vat.quantize(D("0.0001")) == D("1.3000")


def test_when_parking_follows_charging_only_the_parking_time_is_rounded():
    # Given 1.00/h charging and 2.00/h parking, both with a step of 10 minutes (the d2 errata's example)
    t = tariff(element(component("TIME", "1.00", 600), component("PARKING_TIME", "2.00", 600)))
    start = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    # When the driver charges 21 minutes and stays plugged in, full, for 16 more
    totals = price(
        t,
        [
            period(start, TIME=str(D(21) / 60)),
            period(start + timedelta(minutes=21), PARKING_TIME=str(D(16) / 60)),
        ],
        start + timedelta(minutes=37),
    )
    # Then charging is billed for 21 minutes exactly and parking for 20
    assert totals.total_time_cost.excl_vat.quantize(D("0.0001")) == (D(21) / 60).quantize(D("0.0001"))
    assert totals.total_parking_cost.excl_vat.quantize(D("0.0001")) == (D(2) * D(20) / 60).quantize(
        D("0.0001")
    )
    assert totals.total_parking_time.quantize(D("0.0001")) == (D(16) / 60).quantize(D("0.0001"))


def test_charging_time_is_rounded_when_parking_has_no_price():
    # Given a TIME-only tariff ("the driver will not be billed for time they are not charging")
    t = tariff(element(component("TIME", "2.00", 900)))
    start = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    # When 21 minutes of charging are followed by 16 minutes of parking
    totals = price(
        t,
        [
            period(start, TIME=str(D(21) / 60)),
            period(start + timedelta(minutes=21), PARKING_TIME=str(D(16) / 60)),
        ],
        start + timedelta(minutes=37),
    )
    # Then the charging time is rounded up to 30 minutes, and parking costs nothing
    assert totals.total_time_cost.excl_vat.quantize(D("0.01")) == D("1.00")
    assert totals.total_parking_cost.excl_vat == 0


def test_a_step_size_of_zero_bills_the_exact_amount():
    t = tariff(element(component("ENERGY", "0.25", 0)))
    totals = price(t, [period(T17, ENERGY="1.2345")], T17 + timedelta(hours=1))
    assert totals.total_energy_cost.excl_vat == D("1.2345") * D("0.25")


# --- VAT --------------------------------------------------------------------------------------


def test_a_missing_vat_is_no_vat_applicable_and_is_kept_apart_from_zero_percent():
    # Given the same price once without vat and once with vat 0.0
    without = tariff(element(component("ENERGY", "0.25")))
    zero = tariff(element(component("ENERGY", "0.25", vat="0")))
    periods = [period(T17, ENERGY="10")]
    # When both price 10 kWh
    a, b = price(without, periods, T17 + timedelta(hours=1)), price(zero, periods, T17 + timedelta(hours=1))
    # Then both cost 2.50 including VAT, but the line says which: no VAT (None) or 0 %
    assert a.total_cost == b.total_cost
    assert a.total_cost.incl_vat == D("2.5")
    assert a.lines[0].vat_rate is None and b.lines[0].vat_rate == 0


def test_vat_is_per_component():
    # Given a start fee at 20 % VAT and energy at 10 % (the spec's "0.25 euro per kWh + start fee")
    t = tariff(element(component("FLAT", "0.50", vat="20"), component("ENERGY", "0.25", vat="10")))
    # When 20 kWh are charged
    totals = price(t, [period(T17, ENERGY="20")], T17 + timedelta(hours=1))
    # Then 5.50 excluding VAT, 6.10 including
    assert (totals.total_cost.excl_vat, totals.total_cost.incl_vat) == (D("5.50"), D("6.10"))
    assert (totals.total_fixed_cost.excl_vat, totals.total_fixed_cost.incl_vat) == (D("0.50"), D("0.60"))


# --- min_price / max_price ----------------------------------------------------------------------

MIN_PRICE = {"min_price": {"excl_vat": D("0.50"), "incl_vat": D("0.55")}}


def test_min_price_lifts_a_cheap_session_to_the_minimum():
    # Given 0.25/kWh at 10 % VAT with a minimum of 0.50 / 0.55 (the spec's min_price example)
    t = tariff(element(component("ENERGY", "0.25", vat="10")), **MIN_PRICE)
    # When 1.2 kWh are charged ("if less than 2 kWh is charged, 0.50 euro ... will be billed")
    totals = price(t, [period(T17, ENERGY="1.2")], T17 + timedelta(hours=1))
    # Then the session costs the minimum, shown as its own line; the energy cost stays what it was
    assert (totals.total_cost.excl_vat, totals.total_cost.incl_vat) == (D("0.50"), D("0.55"))
    assert totals.total_energy_cost.excl_vat == D("0.300")
    assert [line.kind for line in totals.lines] == [LineKind.ENERGY, LineKind.MIN_PRICE]


def test_min_price_does_not_touch_a_session_above_it():
    t = tariff(element(component("ENERGY", "0.25", vat="10")), **MIN_PRICE)
    totals = price(t, [period(T17, ENERGY="20")], T17 + timedelta(hours=1))
    assert (totals.total_cost.excl_vat, totals.total_cost.incl_vat) == (D("5.00"), D("5.500"))


@pytest.mark.parametrize(("kwh", "excl", "incl"), [("50", "10.00", "11.00"), ("30", "8.00", "8.85")])
def test_max_price_caps_excluding_and_including_vat_each_on_its_own(kwh: str, excl: str, incl: str):
    # Given the spec's "0.25 euro per kWh + start fee + max price" tariff (max 10.00 / 11.00)
    t = tariff(
        element(component("FLAT", "0.50", vat="20"), component("ENERGY", "0.25", vat="10")),
        max_price={"excl_vat": D("10.00"), "incl_vat": D("11.00")},
    )
    # When 50 kWh (capped) or 30 kWh (below the cap) are charged
    totals = price(t, [period(T17, ENERGY=kwh)], T17 + timedelta(hours=2))
    # Then "10.00 euro (excl. VAT) or 11.00 euro (incl. VAT)", and "8.00 ... and 8.85" for 30 kWh
    assert (totals.total_cost.excl_vat, totals.total_cost.incl_vat) == (D(excl), D(incl))
    assert totals.total_cost.excl_vat == sum(line.excl_vat for line in totals.lines)


# --- restrictions -------------------------------------------------------------------------------

FIRST_KWH_FREE = (
    element(component("ENERGY", "0.0"), max_kwh=D("1.0")),
    element(component("ENERGY", "0.2"), min_kwh=D("1.0")),
)


def test_min_kwh_is_inclusive_and_max_kwh_exclusive():
    # Given the first kWh free and every further kWh at 0.20
    t = tariff(*FIRST_KWH_FREE)
    # When a period starts with exactly 1.0 kWh already delivered
    totals = price(
        t,
        [period(T17, ENERGY="1.0"), period(T17 + timedelta(minutes=10), ENERGY="2")],
        T17 + timedelta(hours=1),
    )
    # Then that period is priced by the min_kwh element (1.0 is "from"), not the max_kwh one
    assert totals.total_energy_cost.excl_vat == D("0.40")


def test_a_period_starting_just_below_max_kwh_is_still_free():
    t = tariff(*FIRST_KWH_FREE)
    totals = price(
        t,
        [period(T17, ENERGY="0.999"), period(T17 + timedelta(minutes=10), ENERGY="2")],
        T17 + timedelta(hours=1),
    )
    assert totals.total_energy_cost.excl_vat == 0


@pytest.mark.parametrize(("offset_s", "expected"), [(1799, "0"), (1800, "3.0")])
def test_min_duration_is_inclusive_and_max_duration_exclusive(offset_s: int, expected: str):
    # Given parking free for the first 30 minutes of the session and 3.00/h after
    t = tariff(
        element(component("PARKING_TIME", "0.0"), min_duration=0, max_duration=1800),
        element(component("PARKING_TIME", "3.0"), min_duration=1800),
    )
    # When an hour of parking starts 1799 s or 1800 s into the session
    start = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    second = start + timedelta(seconds=offset_s)
    totals = price(
        t, [period(start, TIME="0.1"), period(second, PARKING_TIME="1")], second + timedelta(hours=1)
    )
    # Then at 1800 s the second element applies (max_duration excludes, min_duration includes)
    assert totals.total_parking_cost.excl_vat == D(expected)


NIGHT = (
    element(component("ENERGY", "0.10"), start_time="22:00", end_time="06:00"),
    element(component("ENERGY", "0.30")),
)


@pytest.mark.parametrize(
    ("local", "night"),
    [("21:59", False), ("22:00", True), ("23:30", True), ("00:00", True), ("05:59", True), ("06:00", False)],
)
def test_a_window_whose_end_is_before_its_start_wraps_past_midnight(local: str, night: bool):
    # Given a night price from 22:00 to 06:00 local time in Stockholm
    t = tariff(*NIGHT)
    hour, minute = map(int, local.split(":"))
    start = datetime(2026, 1, 15, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)
    # When a period of 1 kWh starts at that local time
    totals = price(t, [period(start, ENERGY="1")], start + timedelta(minutes=1), STOCKHOLM)
    # Then the night price applies from 22:00 (inclusive) until 06:00 (exclusive)
    assert totals.total_energy_cost.excl_vat == (D("0.10") if night else D("0.30"))


def test_time_windows_are_read_in_the_sites_local_time_not_utc():
    # Given a night price from 22:00 local; 21:30 UTC in January is 22:30 in Stockholm
    t = tariff(*NIGHT)
    start = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)
    periods = [period(start, ENERGY="1")]
    # Then it is night in Stockholm but not in UTC
    assert price(t, periods, start + timedelta(minutes=1), STOCKHOLM).total_energy_cost.excl_vat == D("0.10")
    assert price(t, periods, start + timedelta(minutes=1), UTC_ZONE).total_energy_cost.excl_vat == D("0.30")


@pytest.mark.parametrize(
    ("local_date", "weekend"),
    [
        ((2026, 1, 16, 23, 59), False),
        ((2026, 1, 17, 0, 0), True),
        ((2026, 1, 18, 23, 59), True),
        ((2026, 1, 19, 0, 0), False),
    ],
)
def test_day_of_week_is_the_local_weekday_at_the_periods_start(local_date: tuple[int, ...], weekend: bool):
    # Given a weekend price (Saturday, Sunday) in Stockholm
    t = tariff(
        element(component("TIME", "1.25"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(component("TIME", "2.00")),
    )
    start = datetime(*local_date, tzinfo=STOCKHOLM).astimezone(UTC)
    # When an hour of charging starts at that local moment (Friday 23:59, Saturday 00:00, ...)
    totals = price(t, [period(start, TIME="1")], start + timedelta(hours=1), STOCKHOLM)
    # Then the weekend price applies from Saturday 00:00 to Sunday 23:59 local
    assert totals.total_time_cost.excl_vat == (D("1.25") if weekend else D("2.00"))


@pytest.mark.parametrize(("day", "valid"), [(14, False), (15, True), (19, True), (20, False)])
def test_start_date_is_inclusive_and_end_date_exclusive(day: int, valid: bool):
    t = tariff(
        element(component("ENERGY", "0.10"), start_date="2026-01-15", end_date="2026-01-20"),
        element(component("ENERGY", "0.30")),
    )
    start = datetime(2026, 1, day, 0, 30, tzinfo=STOCKHOLM).astimezone(UTC)
    totals = price(t, [period(start, ENERGY="1")], start + timedelta(minutes=1), STOCKHOLM)
    assert totals.total_energy_cost.excl_vat == (D("0.10") if valid else D("0.30"))


def test_each_dimension_takes_the_first_element_that_matches_for_it():
    # Given: night energy (restricted), then a TIME-only element, then ENERGY + TIME as a fallback
    t = tariff(
        element(component("ENERGY", "0.20"), start_time="00:00", end_time="06:00"),
        element(component("TIME", "1.00")),
        element(component("ENERGY", "0.50"), component("TIME", "9.90")),
    )
    # When an hour with 10 kWh is charged at 10:00 (the night element does not match)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    totals = price(t, [period(start, ENERGY="10", TIME="1")], start + timedelta(hours=1))
    # Then ENERGY comes from the fallback and TIME from the TIME-only element: never 9.90
    assert totals.total_energy_cost.excl_vat == D("5.00")
    assert totals.total_time_cost.excl_vat == D("1.00")


def test_power_restrictions_are_judged_on_the_periods_power():
    # Given the spec's max_power example: < 16 kW 0.20, < 32 kW 0.35, else 0.50
    t = tariff(
        element(component("ENERGY", "0.20"), max_power=D(16)),
        element(component("ENERGY", "0.35"), max_power=D(32)),
        element(component("ENERGY", "0.50")),
    )
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    # When 1 kWh is charged at 6 kW, 40 kWh at 48 kW and 0.5 kWh at 4 kW
    periods = [
        period(start, ENERGY="1", MIN_POWER="6", MAX_POWER="6"),
        period(start + timedelta(minutes=10), ENERGY="40", MIN_POWER="48", MAX_POWER="48"),
        period(start + timedelta(minutes=60), ENERGY="0.5", MIN_POWER="4", MAX_POWER="4"),
    ]
    totals = price(t, periods, start + timedelta(minutes=68))
    # Then "this tariff will result in costs of 20.30 euro (excl. VAT)"
    assert totals.total_energy_cost.excl_vat == D("20.30")


def test_max_power_is_exclusive_and_min_power_inclusive():
    t = tariff(
        element(component("ENERGY", "0.50"), min_power=D(50)),
        element(component("ENERGY", "0.20"), max_power=D(16)),
        element(component("ENERGY", "0.35")),
    )
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    at_50 = price(t, [period(start, ENERGY="1", MIN_POWER="50", MAX_POWER="50")], start + timedelta(hours=1))
    at_16 = price(t, [period(start, ENERGY="1", MIN_POWER="16", MAX_POWER="16")], start + timedelta(hours=1))
    assert at_50.total_energy_cost.excl_vat == D("0.50")
    assert at_16.total_energy_cost.excl_vat == D("0.35")


def test_flat_is_charged_once_per_session_however_many_periods():
    t = tariff(element(component("FLAT", "1.00"), component("TIME", "0")))
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    periods = [period(start + timedelta(minutes=30 * i), TIME="0.5") for i in range(3)]
    assert price(t, periods, start + timedelta(minutes=90)).total_fixed_cost.excl_vat == D("1.00")


# --- reservations -------------------------------------------------------------------------------


def test_a_reservation_is_priced_by_its_own_elements():
    # Given the spec's "reservation price and fee" tariff: 2.00 fee + 5.00/h (per 5 min), then
    # a 0.50 start fee and 0.25/kWh
    t = tariff(
        element(
            component("FLAT", "2.00", vat="20"),
            component("TIME", "5.00", 300, vat="20"),
            reservation="RESERVATION",
        ),
        element(component("FLAT", "0.50", vat="20"), component("ENERGY", "0.25", vat="10")),
    )
    reserved = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    charging = reserved + timedelta(minutes=13)
    # When charging starts 13 minutes after the reservation and 20 kWh are charged
    totals = price_periods(
        t,
        [period(reserved, RESERVATION_TIME=str(D(13) / 60)), period(charging, ENERGY="20")],
        UTC_ZONE,
        session_start=reserved,
        session_end=charging + timedelta(hours=2),
    )
    # Then "8.75 euro (excl. VAT) or 10.00 euro (incl. VAT)"
    assert totals.total_cost.excl_vat.quantize(D("0.01")) == D("8.75")
    assert totals.total_cost.incl_vat is not None and totals.total_cost.incl_vat.quantize(D("0.01")) == D(
        "10.00"
    )
    assert totals.total_reservation_cost.excl_vat.quantize(D("0.01")) == D("3.25")


def test_an_expired_reservation_is_priced_by_the_reservation_expires_element_first():
    # Given the spec's "reservation time and expire time" tariff: 6.00/h when expired, 3.00/h else
    t = tariff(
        element(component("TIME", "6.00", 600, vat="20"), reservation="RESERVATION_EXPIRES"),
        element(component("TIME", "3.00", 600, vat="20"), reservation="RESERVATION"),
        element(component("FLAT", "0.50", vat="20"), component("ENERGY", "0.25", vat="10")),
    )
    reserved = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    # When the reservation of 1.5 hours expires without a charging session
    totals = price(t, [period(reserved, RESERVATION_TIME="1.5")], reserved + timedelta(hours=1.5))
    # Then "9.00 euro (excl. VAT) or 10.80 euro (incl. VAT)"
    assert (totals.total_cost.excl_vat, totals.total_cost.incl_vat) == (D("9.00"), D("10.8000"))


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        (
            {"elements": [{"price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}]}]},
            "elements[0].price_components[0].price",
            "must be a JSON number",
        ),
        (
            {"elements": [element(component("ENERGY", "0.25"), component("ENERGY", "0.30"))]},
            "elements[0].price_components[1].type",
            "ambiguous",
        ),
        (
            {"elements": [element(component("ENERGY", "0.25"), start_time="10:00", end_time="10:00")]},
            "elements[0].restrictions.end_time",
            "a whole day?",
        ),
        (
            {"elements": [element(component("ENERGY", "0.25"), min_kwh=D(5), max_kwh=D(2))]},
            "elements[0].restrictions.max_kwh",
            "never applies",
        ),
        (
            {
                "elements": [
                    {"price_components": [component("ENERGY", "0.25")], "restriction": {"max_kwh": 2}}
                ]
            },
            "elements[0].restriction",
            "not a field",
        ),
        (
            {"elements": [element(component("ENERGY", "0.25"), start_time="24:00")]},
            "elements[0].restrictions.start_time",
            "HH:MM",
        ),
        (
            {"min_price": {"excl_vat": D(1)}, "elements": [element(component("ENERGY", "0.25", vat="25"))]},
            "min_price.incl_vat",
            "unknown",
        ),
        ({"elements": []}, "elements", "at least 1"),
        (
            {"elements": [element(component("ENERGY", "0.25", step=D("1.5")))]},
            "elements[0].price_components[0].step_size",
            "integer",
        ),
    ],
)
def test_a_tariff_that_does_not_parse_or_is_ambiguous_is_refused_with_the_field(
    document: dict[str, Any], field: str, reason: str
):
    with pytest.raises(TariffError) as refused:
        parse_tariff({"id": "T1", "currency": "EUR", **document})
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_a_tariff_is_refused_for_a_session_that_starts_after_it_ended():
    t = tariff(element(component("ENERGY", "0.25")), end_date_time="2019-06-30T23:59:59Z")
    with pytest.raises(TariffError) as refused:
        price(t, [period(T17, ENERGY="1")], T17 + timedelta(hours=1))
    assert refused.value.field == "end_date_time"


def test_a_cdr_in_another_currency_than_the_tariff_is_refused():
    cdr = parse_cdr(
        dumps(
            {
                "start_date_time": "2022-01-13T14:30:00Z",
                "end_date_time": "2022-01-13T15:30:00Z",
                "currency": "SEK",
                "charging_periods": [
                    {
                        "start_date_time": "2022-01-13T14:30:00Z",
                        "dimensions": [{"type": "ENERGY", "volume": 1}],
                    }
                ],
            }
        )
    )
    with pytest.raises(CdrError) as refused:
        priced_cdr(cdr, tariff(element(component("ENERGY", "0.25"))), UTC_ZONE)
    assert refused.value.field == "currency"


def test_periods_out_of_order_are_refused():
    with pytest.raises(CdrError) as refused:
        parse_cdr(
            dumps(
                {
                    "start_date_time": "2022-01-13T14:30:00Z",
                    "end_date_time": "2022-01-13T15:30:00Z",
                    "currency": "EUR",
                    "charging_periods": [
                        {
                            "start_date_time": "2022-01-13T15:00:00Z",
                            "dimensions": [{"type": "ENERGY", "volume": 1}],
                        },
                        {
                            "start_date_time": "2022-01-13T14:30:00Z",
                            "dimensions": [{"type": "ENERGY", "volume": 1}],
                        },
                    ],
                }
            )
        )
    assert refused.value.field == "charging_periods[1].start_date_time"


# --- the command --------------------------------------------------------------------------------

CDR = {
    "id": "CDR-1",
    "start_date_time": "2022-01-13T14:30:00Z",
    "end_date_time": "2022-01-13T15:30:00Z",
    "currency": "EUR",
    "cdr_location": {"country": "SWE", "name": "Ladd & Co"},
    "charging_periods": [
        {"start_date_time": "2022-01-13T14:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 20.125}]}
    ],
    "total_cost": {"excl_vat": 0},
    "total_energy": 0,
    "total_time": 0,
}


def test_laddvakt_price_prints_the_cdr_priced_and_everything_else_unchanged(tmp_path, capsys):
    # Given a tariff and a CDR on disk
    (tmp_path / "t.json").write_text(
        dumps({"id": "T1", "currency": "EUR", "elements": [element(component("ENERGY", "0.25", vat="25"))]})
    )
    (tmp_path / "c.json").write_text(dumps(CDR))
    # When it is priced in Stockholm
    code = main(
        [
            "price",
            "--tariff",
            str(tmp_path / "t.json"),
            "--cdr",
            str(tmp_path / "c.json"),
            "--tz",
            "Europe/Stockholm",
        ]
    )
    # Then the totals are filled in as JSON numbers and the fields it does not price are as they were
    out = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert code == 0
    assert out["total_cost"] == {"excl_vat": D("5.0313"), "incl_vat": D("6.2891")}
    assert out["total_energy"] == D("20.125") and out["total_time"] == 1
    assert out["cdr_location"] == CDR["cdr_location"] and out["id"] == "CDR-1"
    assert out["charging_periods"][0]["dimensions"][0]["volume"] == D("20.125")


def test_laddvakt_price_check_refuses_a_bad_tariff_naming_the_field(tmp_path, capsys):
    (tmp_path / "t.json").write_text(
        dumps(
            {
                "id": "T1",
                "currency": "EUR",
                "elements": [{"price_components": [{"type": "ENERGY", "price": "x", "step_size": 1}]}],
            }
        )
    )
    code = main(["price", "--tariff", str(tmp_path / "t.json"), "--check"])
    assert code != 0
    assert "elements[0].price_components[0].price: must be a JSON number" in capsys.readouterr().err


def test_laddvakt_price_check_accepts_a_good_tariff(tmp_path, capsys):
    (tmp_path / "t.json").write_text(
        dumps({"id": "T1", "currency": "EUR", "elements": [element(component("FLAT", "0"))]})
    )
    assert main(["price", "--tariff", str(tmp_path / "t.json"), "--check"]) == 0
    assert "valid" in capsys.readouterr().out


def test_laddvakt_price_says_which_file_it_cannot_read(tmp_path, capsys):
    assert main(["price", "--tariff", str(tmp_path / "missing.json"), "--check"]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_a_credit_cdrs_negative_totals_are_read_but_a_negative_price_limit_is_refused():
    # Given a credit CDR ("the total_cost field SHALL contain the negative amounts")
    credit = {**CDR, "credit": True, "total_cost": {"excl_vat": D("-5.0"), "incl_vat": D("-5.5")}}
    assert parse_cdr(dumps(credit)).total_cost is not None
    # But a tariff's min_price cannot be negative
    with pytest.raises(TariffError) as refused:
        tariff(element(component("ENERGY", "0.25")), min_price={"excl_vat": D("-1")})
    assert refused.value.field == "min_price.excl_vat"


def test_the_noise_in_hours_that_are_not_finite_decimals_never_costs_an_extra_step():
    # Given parking billed per minute, and 1 + 148 minutes of parking written in hours
    t = tariff(element(component("PARKING_TIME", "60", 60)))
    start = datetime(2026, 3, 28, 18, 0, tzinfo=UTC)
    periods = [
        period(start, PARKING_TIME=str(D(1) / 60)),
        period(start + timedelta(minutes=1), PARKING_TIME=str(D(148) / 60)),
    ]
    # When it is priced
    totals = price(t, periods, start + timedelta(minutes=149))
    # Then exactly 149 minutes are billed, neither 148 nor 150
    assert totals.total_parking_cost.excl_vat.quantize(D("0.0001")) == D("149.0000")
