"""Properties of depot plans that must hold for every site, not just the ones we thought of:
never over the site's limit or a vehicle's power, never more than needed, as much energy as the
linear-programming optimum (HiGHS), never dearer than earliest departure first at equal energy, and,
with a departure margin too, no vehicle left short while its outlet and the site had room."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laddvakt.schedule_lp import Job, earliest_departure_first, solve
from shared.domain.scheduling import ChargingDemand, PricePeriod, SitePlan, SiteProblem, plan_site, price_at

pytestmark = pytest.mark.property

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
HOURS = Decimal(5) / Decimal(60)
# The plan is in whole watts, rounded down: this much energy per vehicle and step may be lost.
ROUNDING_KWH = 0.001 * 5 / 60
MARGINS = st.sampled_from([timedelta(0), timedelta(minutes=15), timedelta(hours=1)])


@st.composite
def problems(draw: st.DrawFn) -> SiteProblem:
    count = draw(st.integers(1, 5))
    demands = tuple(
        ChargingDemand(
            session_id=f"s{i}",
            charge_point_id=f"CP{i}",
            connector_id=1,
            energy_needed_kwh=draw(st.decimals(min_value=0, max_value=30, places=2)),
            departure_at=NOW
            + STEP * draw(st.integers(-2, 36))
            + timedelta(minutes=draw(st.sampled_from([0, 0, 2]))),
            max_power_kw=draw(
                st.sampled_from([Decimal(0), Decimal("3.7"), Decimal("7.4"), Decimal(11), Decimal(22)])
            ),
        )
        for i in range(count)
    )
    prices = tuple(
        PricePeriod(
            NOW + STEP * draw(st.integers(0, 36)), draw(st.decimals(min_value=0, max_value=3, places=2))
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    if prices:
        prices = (PricePeriod(NOW, draw(st.decimals(min_value=0, max_value=3, places=2))), *prices)
    limit = draw(st.decimals(min_value=0, max_value=40, places=1))
    uncontrolled = draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(2)]))
    return SiteProblem("depot", NOW, STEP, limit, prices, demands, uncontrolled_kw=uncontrolled)


def grid(plan: SitePlan) -> list[list[Decimal]]:
    """kW per connector per step, from the plan's merged steps."""
    assert plan.ends_at is not None
    count = (plan.ends_at - plan.computed_at) // STEP
    rows = []
    for connector in plan.connectors:
        row = []
        for k in range(count):
            at = plan.computed_at + k * STEP
            row.append(next(s.limit_kw for s in reversed(connector.steps) if s.starts_at <= at))
        rows.append(row)
    return rows


def whole_steps(problem: SiteProblem, demand: ChargingDemand) -> int:
    """Every step that starts before the departure."""
    return max(0, -((problem.now - demand.departure_at) // problem.step))


def step_prices(problem: SiteProblem, steps: int) -> list[float]:
    return [float(price_at(problem.prices, problem.now + k * STEP) or 0) for k in range(steps)]


@settings(max_examples=150, deadline=None)
@given(problems(), MARGINS)
def test_never_over_the_limit_a_vehicles_power_or_its_need(problem: SiteProblem, margin: timedelta):
    plan = plan_site(replace(problem, departure_margin=margin))
    rows = grid(plan)
    room = max(Decimal(0), problem.limit_kw - problem.uncontrolled_kw)
    for k in range(len(rows[0]) if rows else 0):
        assert sum(row[k] for row in rows) <= room
    for demand, row, connector in zip(problem.demands, rows, plan.connectors, strict=True):
        assert all(Decimal(0) <= p <= demand.max_power_kw for p in row)
        assert all(p == 0 for p in row[whole_steps(problem, demand) :])
        assert sum(row, Decimal(0)) * HOURS <= max(Decimal(0), demand.energy_needed_kwh) + Decimal("1e-20")
        assert connector.planned_kwh + connector.unmet_kwh == max(Decimal(0), demand.energy_needed_kwh)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_as_much_energy_as_the_lp_optimum(problem: SiteProblem):
    plan = plan_site(problem)
    steps = max([whole_steps(problem, d) for d in problem.demands] + [0])
    jobs = [
        Job(0, whole_steps(problem, d), max(0.0, float(d.energy_needed_kwh)), float(d.max_power_kw))
        for d in problem.demands
    ]
    room = max(0.0, float(problem.limit_kw - problem.uncontrolled_kw))
    optimum = solve(jobs, [room] * steps, step_prices(problem, steps), 5 / 60)
    planned = float(sum((c.planned_kwh for c in plan.connectors), Decimal(0)))
    tolerance = ROUNDING_KWH * len(problem.demands) * steps + 0.001 * len(problem.demands) + 1e-6
    assert planned == pytest.approx(optimum.energy_kwh, abs=tolerance)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_never_dearer_than_earliest_departure_first_at_equal_energy(problem: SiteProblem):
    plan = plan_site(problem)
    edf = earliest_departure_first(problem)
    edf_energy = sum((sum(row, Decimal(0)) for row in edf), Decimal(0)) * HOURS
    planned = sum((c.planned_kwh for c in plan.connectors), Decimal(0))
    # The plan delivers the most energy there is, so at least what EDF does (less its rounding).
    steps = len(edf)
    assert planned >= edf_energy - Decimal(str(ROUNDING_KWH * len(problem.demands) * steps)) - Decimal(
        "0.001"
    ) * len(problem.demands)
    if plan.cost is None or abs(planned - edf_energy) > Decimal("0.01"):
        return
    edf_cost = sum(
        (
            sum(row, Decimal(0)) * HOURS * (price_at(problem.prices, problem.now + k * STEP) or 0)
            for k, row in enumerate(edf)
        ),
        Decimal(0),
    )
    # Equal energy within a hundredth of a kWh: the price of that hundredth at most, plus a cent.
    assert plan.cost <= edf_cost + Decimal("0.04")


@settings(max_examples=150, deadline=None)
@given(problems(), MARGINS)
def test_no_vehicle_is_left_short_while_its_outlet_and_the_site_had_room(
    problem: SiteProblem, margin: timedelta
):
    # Given any site, planned with or without a departure margin
    plan = plan_site(replace(problem, departure_margin=margin))
    rows = grid(plan)
    room = max(Decimal(0), problem.limit_kw - problem.uncontrolled_kw)
    slack = Decimal("0.001") * (len(rows) + 1)
    for demand, row, connector in zip(problem.demands, rows, plan.connectors, strict=True):
        steps = whole_steps(problem, demand)
        if connector.unmet_kwh <= Decimal(str(ROUNDING_KWH * steps)) + Decimal("0.002"):
            continue
        # Then a vehicle still short ran at its full power, or the site at its limit, in every step
        # of its stay, the margin's steps included
        for k in range(min(steps, len(row))):
            site = sum(r[k] for r in rows)
            assert row[k] >= demand.max_power_kw - Decimal("0.001") or site >= room - slack, (
                f"{demand.session_id} short by {connector.unmet_kwh} kWh, idle room at step {k}"
            )
