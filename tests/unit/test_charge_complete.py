"""The charge-complete estimate as a fleet manager relies on it: when the battery reaches its
target, what that rests on, what is missing, and the moment charging finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from shared.domain.charge_complete import (
    DEFAULT_TAPER,
    MIN_FIT_SESSIONS,
    ChargeCompleteQuery,
    TaperModel,
    TaperPoint,
    estimate_charge_complete,
    fit_taper,
    taper_points,
    vehicle_class,
)
from shared.models.sessions import MeterSample

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def query(**overrides) -> ChargeCompleteQuery:
    values = {
        "now": NOW,
        "plugged_in_at": NOW - timedelta(hours=1),
        "energy_delivered_kwh": D(10),
        "power_w": D(11000),
        "power_at": NOW,
        "soc_percent": D(50),
        "soc_at": NOW,
        "battery_kwh": D(60),
        "target_soc_percent": D(80),
        "connector_kw": D(22),
        "vehicle_max_kw": D(11),
    }
    return ChargeCompleteQuery(**{**values, **overrides})


def sample(
    minutes: float, power_kw: float | None, soc: float | None = None, wh: int | None = None
) -> MeterSample:
    return MeterSample(
        timestamp=NOW - timedelta(minutes=minutes),
        power_w=None if power_kw is None else D(str(power_kw * 1000)),
        soc_percent=None if soc is None else D(str(soc)),
        energy_wh=None if wh is None else D(wh),
    )


# --- the taper model ---------------------------------------------------------------------------


def test_power_is_flat_to_the_knee_then_falls_with_what_is_left_to_fill():
    taper = TaperModel(80.0, "ac")
    assert taper.fraction(50) == taper.fraction(80) == 1.0
    assert taper.fraction(90) == pytest.approx(0.5)
    # and a trickle remains at full, so a 100 % target is reached, not approached forever
    assert taper.fraction(100) == pytest.approx(0.05)


def test_a_connector_above_22_kw_is_dc_and_its_cars_taper_earlier():
    assert (vehicle_class(D(11)), vehicle_class(D(22)), vehicle_class(D(150))) == ("ac", "ac", "dc")
    assert DEFAULT_TAPER["dc"].knee_soc_percent < DEFAULT_TAPER["ac"].knee_soc_percent


def _session_points(knee: float, start: float = 40.0) -> tuple[TaperPoint, ...]:
    model = TaperModel(knee, "dc")
    readings = [sample(-i, 50 * model.fraction(start + i * 2.5), start + i * 2.5) for i in range(24)]
    return taper_points(readings)


def test_the_knee_is_fit_from_the_vehicles_own_sessions():
    # Given three past DC sessions of a car whose power starts falling at 72 %
    sessions = [_session_points(72.0, start) for start in (30.0, 40.0, 45.0)]
    # When its taper is fit
    fitted = fit_taper(sessions, "dc")
    # Then the knee is found, and the fit says how many sessions it rests on
    assert fitted.knee_soc_percent == pytest.approx(72.0, abs=1.0)
    assert fitted.sessions == 3
    assert "taper fit from 3 of its sessions" in fitted.described


def test_too_few_sessions_keep_the_class_default():
    sessions = [_session_points(72.0)] * (MIN_FIT_SESSIONS - 1)
    assert fit_taper(sessions, "dc") == DEFAULT_TAPER["dc"]


def test_a_session_that_started_nearly_full_cannot_show_its_plateau_and_is_not_used():
    started_full = [sample(-i, 5 - i * 0.2, 85 + i) for i in range(10)]
    assert taper_points(started_full) == ()


# --- with SoC ------------------------------------------------------------------------------------


def test_soc_battery_and_power_give_the_time_to_target():
    # Given 50 % of 60 kWh to 80 % at 11 kW on AC (knee 92 %, flat all the way)
    estimate = estimate_charge_complete(query())
    # Then 18 kWh into the battery, at 90 % of 11 kW reaching it, take 1 h 49 min
    assert estimate.at == NOW + timedelta(hours=18 / (11 * 0.9))
    assert (estimate.done, estimate.remaining_kwh) == (False, D("18.0"))
    assert estimate.basis.startswith("SoC 50% of 60 kWh to 80% (the vehicle's default), at 11.0 kW")
    # the class default taper is medium confidence, and says what would make it better
    assert estimate.confidence == "medium"
    assert any("past sessions with SoC" in m for m in estimate.missing)


def test_the_taper_near_full_makes_the_last_percent_slow():
    flat = estimate_charge_complete(query(target_soc_percent=D(90), taper=TaperModel(99.0, "ac", 5)))
    tapered = estimate_charge_complete(query(target_soc_percent=D(90), taper=TaperModel(70.0, "ac", 5)))
    assert flat.at is not None and tapered.at is not None
    assert tapered.at > flat.at + timedelta(minutes=30)


def test_a_car_already_in_its_taper_is_credited_with_its_plateau_up_to_the_limits():
    # Given a car at 90 % drawing 5.5 kW, half its plateau under a knee of 80 %
    estimate = estimate_charge_complete(
        query(soc_percent=D(90), power_w=D(5500), target_soc_percent=D(95), taper=TaperModel(80.0, "ac", 4))
    )
    # Then 3 kWh with power falling from 5.5 kW to 2.75 kW take about 50 minutes
    assert estimate.at is not None
    assert timedelta(minutes=40) < estimate.at - NOW < timedelta(minutes=60)
    assert estimate.confidence == "high" and "taper fit from 4 of its sessions" in estimate.basis


def test_without_a_battery_size_the_session_measures_it_from_its_own_readings():
    # Given no battery size, but readings 20 % of SoC and 13.3 kWh apart
    readings = (sample(90, 11, 30, 1000), sample(0, 11, 50, 14333))
    estimate = estimate_charge_complete(query(battery_kwh=None, samples=readings))
    # Then the battery is taken as about 60 kWh, and the estimate says it is measured
    assert "~60 kWh measured this session" in estimate.basis
    assert "battery capacity (the vehicle's battery_kwh)" in estimate.missing
    assert estimate.at is not None


def test_without_a_battery_size_or_readings_it_says_so_instead_of_guessing():
    estimate = estimate_charge_complete(query(battery_kwh=None))
    assert estimate.at is None and estimate.confidence == "low"
    assert "battery capacity (the vehicle's battery_kwh)" in estimate.missing


def test_an_old_soc_reading_lowers_confidence_and_says_how_old():
    estimate = estimate_charge_complete(query(soc_at=NOW - timedelta(hours=1), taper=TaperModel(92, "ac", 5)))
    assert estimate.confidence == "medium" and "last SoC reading 60 min old" in estimate.basis


# --- without SoC ---------------------------------------------------------------------------------


def test_without_soc_an_energy_target_and_the_power_give_the_time():
    # Given 30 kWh asked for, 10 delivered, at 10 kW
    estimate = estimate_charge_complete(
        query(
            soc_percent=None,
            soc_at=None,
            power_w=D(10000),
            target_energy_kwh=D(30),
            target_source="charging needs",
        )
    )
    assert estimate.at == NOW + timedelta(hours=2)
    assert estimate.remaining_kwh == D("20.0") and estimate.confidence == "medium"
    assert "SoC (the car does not send it)" in estimate.missing


def test_without_soc_a_sustained_fall_of_power_means_nearly_done():
    # Given a car that drew 11 kW and has been falling for half an hour (no SoC sent)
    readings = tuple(sample(m, kw) for m, kw in ((90, 11), (60, 11), (30, 8), (20, 6), (10, 4.4), (0, 3.2)))
    estimate = estimate_charge_complete(
        query(soc_percent=None, soc_at=None, power_w=D(3200), samples=readings)
    )
    # Then it is estimated from the decay: soon, with low confidence, and saying why
    assert estimate.at is not None and NOW < estimate.at < NOW + timedelta(hours=1)
    assert estimate.confidence == "low" and "the car is nearly done" in estimate.basis


def test_without_soc_steady_power_and_no_target_cannot_be_estimated_and_says_what_is_missing():
    readings = tuple(sample(m, 11) for m in (30, 20, 10, 0))
    estimate = estimate_charge_complete(
        query(soc_percent=None, soc_at=None, battery_kwh=None, samples=readings)
    )
    assert estimate.at is None and not estimate.done and estimate.confidence == "low"
    assert estimate.missing == (
        "SoC (the car does not send it)",
        "battery capacity (the vehicle's battery_kwh)",
    )


def test_a_car_drawing_nothing_gets_no_time_and_the_reason():
    estimate = estimate_charge_complete(query(power_w=D(0)))
    assert estimate.at is None and estimate.missing == ("charging power",)


# --- done ----------------------------------------------------------------------------------------


def test_soc_at_target_is_done_at_the_first_reading_that_reached_it():
    readings = (sample(30, 11, 76), sample(20, 11, 80), sample(0, 0.05, 80))
    estimate = estimate_charge_complete(query(soc_percent=D(80), power_w=D(50), samples=readings))
    assert estimate.done and estimate.at == NOW - timedelta(minutes=20) and estimate.confidence == "high"


def test_the_energy_asked_for_delivered_is_done():
    estimate = estimate_charge_complete(query(soc_percent=None, target_energy_kwh=D(10)))
    assert estimate.done and estimate.remaining_kwh == D(0)


def test_suspended_ev_after_energy_is_done_at_the_moment_the_car_stopped():
    stopped = NOW - timedelta(minutes=7)
    estimate = estimate_charge_complete(
        query(soc_percent=None, power_w=D(0), charging_state="SuspendedEV", charging_state_at=stopped)
    )
    assert estimate.done and estimate.at == stopped and "SuspendedEV" in estimate.basis


def test_power_near_zero_for_a_while_after_a_taper_is_done():
    readings = tuple(
        sample(m, kw) for m, kw in ((60, 11), (50, 11), (40, 7), (30, 4), (20, 0.05), (10, 0.05), (0, 0.05))
    )
    estimate = estimate_charge_complete(query(soc_percent=None, power_w=D(50), samples=readings))
    assert estimate.done and estimate.at == NOW - timedelta(minutes=20) and estimate.confidence == "medium"


def test_an_abrupt_stop_from_full_power_is_a_pause_not_done():
    # The charger or a schedule cut the power: the car is not full
    readings = tuple(sample(m, kw) for m, kw in ((60, 11), (50, 11), (40, 11), (30, 0), (20, 0), (0, 0)))
    estimate = estimate_charge_complete(query(soc_percent=None, power_w=D(0), samples=readings))
    assert not estimate.done and estimate.at is None


@pytest.mark.parametrize(
    ("soc", "target", "knee"), [(20, 80, 92), (50, 100, 65), (85, 99, 70), (96, 100, 60)]
)
def test_the_time_is_the_taper_integrated_over_the_soc_still_to_fill(soc, target, knee):
    # Given a car drawing its 50 kW plateau below the knee, 80 kWh battery
    taper = TaperModel(float(knee), "dc", 5)
    plateau = 50.0
    drawn = plateau * taper.fraction(soc)
    estimate = estimate_charge_complete(
        query(
            soc_percent=D(soc), target_soc_percent=D(target), battery_kwh=D(80), power_w=D(str(round(drawn * 1000))),
            connector_kw=D(150), vehicle_max_kw=None, taper=taper,
        )
    )  # fmt: skip
    # Then the time is the sum of small SoC steps, each at the taper's power there
    step, hours, level = 0.001, 0.0, float(soc)
    while level < target:
        hours += step / 100 * 80 / (plateau * taper.fraction(level + step / 2) * 0.9)
        level += step
    assert estimate.at is not None
    assert (estimate.at - NOW).total_seconds() / 3600 == pytest.approx(hours, rel=1e-3)


def test_a_16_connector_reporting_suspended_ev_is_done_since_its_status_changed():
    since = NOW - timedelta(minutes=12)
    estimate = estimate_charge_complete(
        query(soc_percent=None, power_w=D(0), connector_status="SuspendedEV", connector_status_at=since)
    )
    assert estimate.done and estimate.at == since
