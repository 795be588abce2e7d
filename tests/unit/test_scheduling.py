"""The depot planner on small plans checked by hand: the most energy by each departure, never over
the site's limit or a vehicle's power, the cheapest such plan, and degenerate input answered
plainly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.scheduling import (
    ChargingDemand,
    ConnectorPlan,
    PowerStep,
    PricePeriod,
    SitePlan,
    SiteProblem,
    plan_site,
    price_at,
)

pytestmark = pytest.mark.unit

D = Decimal
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def demand(
    session_id: str, need: str, hours: float, max_kw: str, *, available_from: datetime | None = None
) -> ChargingDemand:
    return ChargingDemand(
        session_id=session_id,
        charge_point_id=f"CP-{session_id}",
        connector_id=1,
        energy_needed_kwh=D(need),
        departure_at=NOW + timedelta(hours=hours),
        max_power_kw=D(max_kw),
        available_from=available_from,
    )


def problem(
    limit: str, *demands: ChargingDemand, prices: tuple[PricePeriod, ...] = (), **extra: object
) -> SiteProblem:
    return SiteProblem("depot", NOW, STEP, D(limit), prices, demands, **extra)  # type: ignore[arg-type]


def powers(plan: ConnectorPlan, end: datetime) -> list[Decimal]:
    """The plan's limit in every 5-minute step from NOW until `end`."""
    out = []
    at = NOW
    while at < end:
        out.append(next(s.limit_kw for s in reversed(plan.steps) if s.starts_at <= at))
        at += STEP
    return out


def site_load(plan: SitePlan) -> list[Decimal]:
    assert plan.ends_at is not None
    rows = [powers(c, plan.ends_at) for c in plan.connectors]
    return [sum(column, D(0)) for column in zip(*rows, strict=True)]


def by_id(plan: SitePlan) -> dict[str, ConnectorPlan]:
    return {c.session_id: c for c in plan.connectors}


def test_two_vehicles_share_the_limit_and_both_get_what_they_need():
    # Given 10 kW for one hour, and two vehicles needing 5 kWh each, one of them limited to 5 kW
    plan = plan_site(problem("10", demand("A", "5", 1, "10"), demand("B", "5", 1, "5")))
    # Then both get all they need, and the site never draws more than 10 kW
    assert {c.session_id: c.planned_kwh for c in plan.connectors} == {"A": D("5.000"), "B": D("5.000")}
    assert all(c.unmet_kwh == 0 for c in plan.connectors)
    assert max(site_load(plan)) <= D(10)
    assert plan.feasible and plan.problem is None


def test_a_greedy_fill_of_the_fast_car_would_strand_the_slow_one():
    # Given 10 kW for two hours, a 10 kW car and a 5 kW car each needing 10 kWh, the first hour cheap
    prices = (PricePeriod(NOW, D("0.50")), PricePeriod(NOW + timedelta(hours=1), D("2.00")))
    plan = plan_site(
        problem("10", demand("fast", "10", 2, "10"), demand("slow", "10", 2, "5"), prices=prices)
    )
    # Then both get their 10 kWh (the slow car can only take 5 kWh an hour, so it needs both hours)
    assert by_id(plan)["fast"].planned_kwh == D("10.000")
    assert by_id(plan)["slow"].planned_kwh == D("10.000")
    # And the cheap hour is full: 10 kWh at 0.50 and 10 kWh at 2.00
    assert plan.cost == D("25.00")
    assert site_load(plan)[:12] == [D("10.000")] * 12


def test_energy_goes_to_the_cheapest_hours_before_departure():
    # Given one car needing 5 kWh within two hours at up to 10 kW, the second hour cheaper
    prices = (PricePeriod(NOW, D("2.00")), PricePeriod(NOW + timedelta(hours=1), D("1.00")))
    plan = plan_site(problem("22", demand("A", "5", 2, "10"), prices=prices))
    # Then nothing is drawn in the dear hour, and the cheap hour starts at full power
    steps = powers(plan.connectors[0], NOW + timedelta(hours=2))
    assert steps[:12] == [D(0)] * 12
    assert steps[12:18] == [D("10.000")] * 6
    assert plan.connectors[0].planned_kwh == D("5.000")
    assert plan.cost == D("5.00")


def test_without_prices_charging_starts_at_once_and_cost_is_unknown():
    plan = plan_site(problem("22", demand("A", "2", 3, "11")))
    steps = powers(plan.connectors[0], NOW + timedelta(hours=3))
    assert steps[0] == D("11.000")
    assert sum(steps, D(0)) * D(5) / D(60) == pytest.approx(D(2), abs=D("0.001"))
    assert plan.cost is None


def test_what_cannot_be_delivered_is_reported_as_unmet():
    # Given a car needing 30 kWh in one hour at 11 kW
    plan = plan_site(problem("50", demand("A", "30", 1, "11")))
    # Then 11 kWh are planned, 19 kWh unmet
    assert plan.connectors[0].planned_kwh == D("11.000")
    assert plan.connectors[0].unmet_kwh == D("19.000")


def test_the_uncontrolled_load_and_the_reserve_come_off_the_limit():
    # Given a 20 kW site with 8 kW drawn by a charger that refused its profile, and 5 kW held back
    # for later arrivals from 07:00
    reserve = (PowerStep(NOW + timedelta(hours=1), D(5)),)
    plan = plan_site(problem("20", demand("A", "100", 2, "50"), uncontrolled_kw=D(8), reserved_kw=reserve))
    load = site_load(plan)
    # Then the plan uses 12 kW in the first hour and 7 kW in the second
    assert load[:12] == [D("12.000")] * 12
    assert load[12:24] == [D("7.000")] * 12


def test_a_vehicle_known_to_arrive_later_gets_nothing_before_it_arrives():
    plan = plan_site(problem("22", demand("A", "5", 3, "11", available_from=NOW + timedelta(hours=1))))
    steps = powers(plan.connectors[0], NOW + timedelta(hours=3))
    assert steps[:12] == [D(0)] * 12
    assert plan.connectors[0].planned_kwh == D("5.000")


@pytest.mark.parametrize(
    ("bad", "note"),
    [
        (demand("A", "5", 0, "11"), "is not after"),
        (demand("A", "5", -1, "11"), "is not after"),
        (demand("A", "0", 2, "11"), "nothing needed"),
        (demand("A", "5", 2, "0"), "no power allowed"),
        (demand("A", "5", 2, "-3"), "no power allowed"),
        (demand("A", "-2", 2, "11"), "nothing needed"),
    ],
)
def test_a_demand_that_rules_charging_out_gets_nothing_and_says_why(bad: ChargingDemand, note: str):
    # Given a degenerate demand next to an ordinary one
    plan = plan_site(problem("22", bad, demand("B", "5", 2, "11")))
    odd = by_id(plan)["A"]
    # Then nothing is planned for it, its need is unmet, and the note tells why
    assert all(s.limit_kw == 0 for s in odd.steps)
    assert odd.planned_kwh == 0
    assert odd.unmet_kwh == max(D(0), bad.energy_needed_kwh)
    assert odd.note is not None and note in odd.note
    # And the ordinary one is planned as usual
    assert by_id(plan)["B"].planned_kwh == D("5.000")


def test_a_vehicle_leaving_within_the_step_keeps_full_power_in_it():
    # Given a car leaving in 3 minutes of a 5-minute step (an estimate: it may well stay longer)
    plan = plan_site(problem("22", demand("A", "5", 0.05, "11")))
    # Then the step it leaves in is planned at its full power, not cut to zero
    assert plan.connectors[0].steps == (PowerStep(NOW, D("11.000")),)


def test_a_limit_below_the_uncontrolled_load_holds_everything_at_zero_and_says_so():
    plan = plan_site(problem("10", demand("A", "5", 2, "11"), uncontrolled_kw=D(12)))
    assert not plan.feasible
    assert plan.problem is not None and "below the load" in plan.problem
    assert all(s.limit_kw == 0 for s in plan.connectors[0].steps)
    assert plan.connectors[0].unmet_kwh == D("5.000")


def test_no_demands_is_an_empty_plan():
    plan = plan_site(problem("10"))
    assert plan.connectors == () and plan.peak_kw == 0 and plan.feasible


def test_a_step_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="step must be positive"):
        plan_site(SiteProblem("depot", NOW, timedelta(0), D(10), (), (demand("A", "5", 2, "11"),)))


def test_the_price_in_force_is_the_latest_started_whatever_the_order_given():
    prices = (PricePeriod(NOW + timedelta(hours=2), D(3)), PricePeriod(NOW, D(1)))
    assert price_at(prices, NOW + timedelta(hours=1)) == D(1)
    assert price_at(prices, NOW + timedelta(hours=2)) == D(3)
    assert price_at(prices, NOW - timedelta(minutes=1)) is None


def test_a_departure_margin_plans_to_be_done_early_but_never_leaves_a_vehicle_without_steps():
    # Given a one-hour margin: a car leaving in 3 hours, and one leaving in 30 minutes
    plan = plan_site(
        problem(
            "50",
            demand("early", "5", 3, "11"),
            demand("soon", "5", 0.5, "11"),
            departure_margin=timedelta(hours=1),
        )
    )
    early, soon = by_id(plan)["early"], by_id(plan)["soon"]
    # Then the first is planned within two hours, the second in the half hour it has
    assert all(p == 0 for p in powers(early, NOW + timedelta(hours=3))[24:])
    assert early.planned_kwh == D("5.000")
    assert soon.planned_kwh == D("5.000")
    assert soon.note is None


def test_what_the_margin_leaves_unmet_is_planned_in_the_last_hour_with_capacity_no_one_sooner_needs():
    # Given one 11 kW outlet's worth of room, a van leaving in 2 hours needing 22 kWh, and a car
    # leaving in 3 hours needing 15 kWh, planned with a one-hour margin
    plan = plan_site(
        problem(
            "11",
            demand("van", "22", 2, "11"),
            demand("car", "15", 3, "11"),
            departure_margin=timedelta(hours=1),
        )
    )
    van, car = by_id(plan)["van"], by_id(plan)["car"]
    # Then the van keeps the first two hours whole: the car's margin takes nothing from it
    assert van.planned_kwh == D("22.000")
    assert powers(van, NOW + timedelta(hours=2)) == [D(11)] * 24
    # And the car's last hour, which only it can use, is in the plan (not left out until it begins)
    assert powers(car, NOW + timedelta(hours=3))[24:] == [D(11)] * 12
    assert car.planned_kwh == D("11.000")
    assert car.unmet_kwh == D("4.000")
    assert plan.peak_kw == D(11)
    assert plan.ends_at == NOW + timedelta(hours=3)
