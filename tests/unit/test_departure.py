"""The departure estimate a fleet manager reads: when a plugged-in vehicle will unplug, P10-P50-P90,
from the shipped model, the declared departure, the time already plugged in and the vehicle's own
past visits."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.domain.departure import (
    FEATURES,
    HISTORY_PRIOR_VISITS,
    SITE_PRIOR_VISITS,
    DepartureQuery,
    PastVisit,
    SiteHabits,
    estimate_departure,
    load_model,
    model_inputs,
)

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
ZONE = "Europe/Stockholm"
# A Tuesday, 08:30 in Stockholm.
PLUG_IN = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


def _query(**changes) -> DepartureQuery:  # type: ignore[no-untyped-def]
    return DepartureQuery(**{"plugged_in_at": PLUG_IN, "now": PLUG_IN, "time_zone": ZONE, **changes})


def _habit(stay: timedelta, visits: int) -> tuple[PastVisit, ...]:
    starts = (PLUG_IN - timedelta(days=day) for day in range(1, visits + 1))
    return tuple(PastVisit(start, start + stay) for start in starts)


def _ordered_and_ahead(estimate, now: datetime) -> None:  # type: ignore[no-untyped-def]
    assert now <= estimate.p10_at <= estimate.p50_at <= estimate.p90_at


def test_plug_in_time_alone_gives_a_low_confidence_estimate_that_says_what_is_missing():
    estimate = estimate_departure(_query())

    assert estimate is not None
    _ordered_and_ahead(estimate, PLUG_IN)
    assert estimate.p10_at < estimate.p90_at
    assert estimate.confidence == "low"
    assert "plug-in at 08:30 on a Tuesday" in estimate.basis
    assert "no declared departure" in estimate.basis
    assert "no requested energy" in estimate.basis
    assert "no past visits" in estimate.basis


def test_a_declared_departure_pulls_the_estimate_toward_it_and_raises_confidence():
    # Given one driver who says she leaves after 2 h and one who says after 10 h
    early = estimate_departure(_query(declared_departure_at=PLUG_IN + timedelta(hours=2)))
    late = estimate_departure(_query(declared_departure_at=PLUG_IN + timedelta(hours=10)))

    assert early is not None and late is not None
    assert early.p50_at < late.p50_at - timedelta(hours=3)
    assert early.confidence == late.confidence == "medium"
    assert "the declared departure" in early.basis


def test_a_declared_departure_already_past_is_ignored_and_said_so():
    now = PLUG_IN + timedelta(hours=3)
    passed = estimate_departure(_query(now=now, declared_departure_at=PLUG_IN + timedelta(hours=1)))
    none = estimate_departure(_query(now=now))

    assert passed is not None and none is not None
    assert (passed.p10_at, passed.p50_at, passed.p90_at) == (none.p10_at, none.p50_at, none.p90_at)
    assert "already passed and is ignored" in passed.basis
    assert passed.confidence == "low"


def test_the_estimate_moves_with_the_time_already_plugged_in_and_never_lies_in_the_past():
    # Given a session plugged in at 08:30 and looked at again and again until long after
    for hours in (0, 1, 2, 4, 6, 9, 14, 30):
        now = PLUG_IN + timedelta(hours=hours)
        estimate = estimate_departure(_query(now=now))
        # Then its quantiles stay ordered and never before now
        assert estimate is not None
        _ordered_and_ahead(estimate, now)
    # And the P90 of a vehicle still here after 6 h lies further out than at plug-in
    at_plug_in = estimate_departure(_query())
    after_six = estimate_departure(_query(now=PLUG_IN + timedelta(hours=6)))
    assert at_plug_in is not None and after_six is not None
    assert after_six.p90_at > at_plug_in.p90_at


def test_a_now_before_plug_in_counts_as_plug_in():
    estimate = estimate_departure(_query(now=PLUG_IN - timedelta(minutes=5)))

    assert estimate is not None
    _ordered_and_ahead(estimate, PLUG_IN)


def test_zero_or_missing_requested_energy_is_not_a_basis():
    estimate = estimate_departure(_query(requested_energy_kwh=Decimal("0")))
    given = estimate_departure(_query(requested_energy_kwh=Decimal("30.5")))

    assert estimate is not None and given is not None
    assert "no requested energy" in estimate.basis
    assert "the requested energy" in given.basis


def test_a_vehicle_with_a_long_habit_is_estimated_near_its_habit_as_visits_grow():
    # Given a vehicle that always stays 11 h, with ever more past visits
    stay = timedelta(hours=11)
    model_only = estimate_departure(_query())
    assert model_only is not None
    gaps = []
    for visits in (3, 8, 40, 400):
        estimate = estimate_departure(_query(history=_habit(stay, visits)))
        assert estimate is not None
        _ordered_and_ahead(estimate, PLUG_IN)
        gaps.append(abs(estimate.p50_at - (PLUG_IN + stay)))
        # Then the weight of its own visits is n / (n + prior), said in the basis
        assert (
            f"{visits} past visits of this vehicle (weight {visits / (visits + HISTORY_PRIOR_VISITS):.0%})"
            in (estimate.basis)
        )
    # And the estimate moves toward the habit as the visits grow, and ends close to it
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < timedelta(minutes=15)
    assert gaps[0] < abs(model_only.p50_at - (PLUG_IN + stay))


def test_habit_counts_only_visits_longer_than_the_time_already_plugged_in():
    # Given a vehicle with 10 short (1 h) and 10 long (9 h) stays, looked at after 2 h plugged in
    history = _habit(timedelta(hours=1), 10) + _habit(timedelta(hours=9), 10)
    now = PLUG_IN + timedelta(hours=2)
    estimate = estimate_departure(_query(now=now, history=history))

    # Then only the 10 long stays speak, and they pull the P50 toward 9 h
    assert estimate is not None
    assert "10 past visits of this vehicle" in estimate.basis
    _ordered_and_ahead(estimate, now)


def test_too_few_visits_fall_back_to_the_model_and_say_so():
    estimate = estimate_departure(_query(history=_habit(timedelta(hours=3), 2)))
    model_only = estimate_departure(_query())

    assert estimate is not None and model_only is not None
    assert estimate.p50_at == model_only.p50_at
    assert "too few past visits" in estimate.basis


def test_declared_departure_and_habits_together_give_high_confidence():
    estimate = estimate_departure(
        _query(declared_departure_at=PLUG_IN + timedelta(hours=8), history=_habit(timedelta(hours=8), 10))
    )

    assert estimate is not None
    assert estimate.confidence == "high"


def test_the_model_inputs_follow_the_local_clock_and_drop_a_passed_declaration():
    local = datetime(2026, 11, 28, 22, 45, tzinfo=UTC)  # a Saturday
    row = model_inputs(local, elapsed_minutes=120, declared_minutes=100, requested_kwh=None)

    assert len(row) == len(FEATURES)
    values = dict(zip(FEATURES, row, strict=True))
    assert values["arrival_hour"] == 22.75
    assert values["weekday"] == 5 and values["weekend"] == 1
    assert values["hour_now"] == 0.75  # past midnight
    assert values["declared_minutes"] != values["declared_minutes"]  # NaN: it already passed
    assert values["requested_kwh"] != values["requested_kwh"]


def test_the_shipped_model_is_small_and_matches_the_features_this_code_builds():
    model = load_model()

    assert model.trained_sessions > 1000
    assert set(model.trees) == {"p10", "p50", "p90"}


def test_a_site_whose_drivers_stay_long_at_this_hour_pulls_the_estimate_there():
    # Given a site where 600 weekday sessions plugged in around 08:30 local all stayed 10 h,
    # and 600 weekend ones 1 h
    weekdays = [PLUG_IN - timedelta(days=7 * week + day) for week in range(120) for day in (0, 1, 4, 5, 6)]
    weekends = [PLUG_IN + timedelta(days=4) - timedelta(days=7 * week) for week in range(600)]
    habits = SiteHabits.from_visits(
        [PastVisit(at, at + timedelta(hours=10)) for at in weekdays]
        + [PastVisit(at, at + timedelta(hours=1)) for at in weekends],
        ZONE,
    )
    model_only = estimate_departure(_query())
    estimate = estimate_departure(_query(site_habits=habits))

    # Then the weekday estimate moves toward 10 h by the site's weight, and says so
    assert model_only is not None and estimate is not None
    weight = 600 / (600 + SITE_PRIOR_VISITS)
    assert f"600 past sessions at this site around this hour (weight {weight:.0%})" in estimate.basis
    expected = (1 - weight) * (model_only.p50_at - PLUG_IN) + weight * timedelta(hours=10)
    assert abs((estimate.p50_at - PLUG_IN) - expected) < timedelta(seconds=1)
    _ordered_and_ahead(estimate, PLUG_IN)


def test_site_habits_count_only_the_same_kind_of_day_the_hours_around_and_stays_still_running():
    # Given sessions on Tuesdays at 06:30, 08:30, 10:30 and 14:30 local, and on a Saturday at 08:30
    tuesday = PLUG_IN - timedelta(days=7)
    starts = [tuesday + timedelta(hours=h) for h in (-2, 0, 2, 6)] + [tuesday + timedelta(days=4)]
    habits = SiteHabits.from_visits([PastVisit(at, at + timedelta(hours=5)) for at in starts], ZONE)
    local = PLUG_IN.astimezone(ZoneInfo(ZONE))

    # Then at 08:30 on a Tuesday only the 08:30 session counts (07-09 local hours, weekdays)
    assert habits.remaining(local, 0) == [300.0]
    # And after 6 h plugged in none of them is still running
    assert habits.remaining(local, 360) == []


def test_too_few_site_sessions_leave_the_model_alone_and_say_so():
    at = PLUG_IN - timedelta(days=7)
    habits = SiteHabits.from_visits([PastVisit(at, at + timedelta(hours=2))], ZONE)
    estimate = estimate_departure(_query(site_habits=habits))
    model_only = estimate_departure(_query())

    assert estimate is not None and model_only is not None
    assert estimate.p50_at == model_only.p50_at
    assert "no past sessions at this site around this hour" in estimate.basis


def test_serving_the_estimate_imports_neither_numpy_nor_lightgbm():
    # Given a fresh interpreter, as a Lambda's cold start
    probe = (
        "import sys; from datetime import UTC, datetime; from shared.domain import departure as d; "
        "t = datetime(2026, 11, 24, 7, 30, tzinfo=UTC); "
        "assert d.estimate_departure(d.DepartureQuery(t, t, 'Europe/Stockholm')) is not None; "
        "print(sorted(m for m in ('numpy', 'lightgbm', 'matplotlib') if m in sys.modules))"
    )
    # When it estimates a departure
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)

    # Then none of the training libraries was loaded
    assert done.stdout.strip() == "[]"
