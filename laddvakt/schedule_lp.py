"""The yardsticks for depot plans. The linear program: per-step powers that deliver the most energy
by each departure without exceeding the site's limit, then cost least, solved by HiGHS
(`highspy`, a development dependency). The property tests check `plan_site` against it, and
`laddvakt eval schedule` uses it with perfect hindsight (every arrival known) as the optimum. And the first contract's planner, earliest
departure first step by step, that the planner must beat on cost and `make bench` on time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import highspy
import numpy as np

from shared.domain.scheduling import SiteProblem

# Energy the second (cheapest) round may give up against the first (most energy): solver noise.
_ENERGY_SLACK = 1e-7


@dataclass(frozen=True)
class Job:
    """A vehicle in steps: it may charge in steps [first, end), up to `max_kw`, `need_kwh` in all."""

    first: int
    end: int
    need_kwh: float
    max_kw: float


@dataclass(frozen=True)
class LpPlan:
    powers: list[np.ndarray]  # kW per job, one entry per step of its window
    energy_kwh: float
    cost: float
    site_kw: np.ndarray  # total kW per step


def solve(
    jobs: Sequence[Job], available_kw: Sequence[float], prices: Sequence[float], step_hours: float
) -> LpPlan:
    """Lexicographic: the most energy first, then the least cost among plans delivering it."""
    steps = len(available_kw)
    columns = [(i, k) for i, job in enumerate(jobs) for k in range(job.first, min(job.end, steps))]
    count = len(columns)
    site_kw = np.zeros(steps)
    if count == 0:
        return LpPlan([np.zeros(0) for _ in jobs], 0.0, 0.0, site_kw)
    job_of = np.fromiter((i for i, _ in columns), dtype=np.int32, count=count)
    step_of = np.fromiter((k for _, k in columns), dtype=np.int32, count=count)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_ = count
    lp.num_row_ = len(jobs) + steps
    lp.col_cost_ = np.full(count, -step_hours)
    lp.col_lower_ = np.zeros(count)
    lp.col_upper_ = np.array([jobs[i].max_kw for i in job_of], dtype=float)
    lp.row_lower_ = np.full(lp.num_row_, -highs.inf)
    lp.row_upper_ = np.concatenate(
        [np.array([job.need_kwh for job in jobs], dtype=float), np.asarray(available_kw, dtype=float)]
    )
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * count + 1, 2, dtype=np.int32)
    index = np.empty(2 * count, dtype=np.int32)
    index[0::2] = job_of
    index[1::2] = len(jobs) + step_of
    value = np.empty(2 * count)
    value[0::2] = step_hours
    value[1::2] = 1.0
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    highs.passModel(lp)
    highs.run()
    most = -highs.getInfo().objective_function_value
    price = np.asarray(prices, dtype=float)[step_of] * step_hours
    highs.changeColsCost(count, np.arange(count, dtype=np.int32), price)
    highs.addRow(
        most - _ENERGY_SLACK * max(1.0, most),
        highs.inf,
        count,
        np.arange(count, dtype=np.int32),
        np.full(count, step_hours),
    )
    highs.run()
    x = np.maximum(np.asarray(highs.getSolution().col_value), 0.0)
    np.add.at(site_kw, step_of, x)
    powers = [np.zeros(max(0, min(job.end, steps) - job.first)) for job in jobs]
    for (i, k), power in zip(columns, x, strict=True):
        powers[i][k - jobs[i].first] = power
    return LpPlan(powers, float(x.sum() * step_hours), float((x * price).sum()), site_kw)


def earliest_departure_first(problem: SiteProblem) -> list[list[Decimal]]:
    """The first contract's planner: in every step, the soonest leaving take what is left under
    the limit. One row of kW per step, one entry per demand in the problem's order."""
    step_hours = Decimal(problem.step / timedelta(hours=1))
    remaining = [d.energy_needed_kwh for d in problem.demands]
    last = max((d.departure_at for d in problem.demands), default=problem.now)
    order = sorted(range(len(problem.demands)), key=lambda i: (problem.demands[i].departure_at, i))
    plan: list[list[Decimal]] = []
    at = problem.now
    while at < last:
        left = problem.limit_kw - problem.uncontrolled_kw
        row = [Decimal(0)] * len(problem.demands)
        for i in order:
            demand = problem.demands[i]
            if demand.departure_at > at and left > 0 and remaining[i] > 0:
                power = min(demand.max_power_kw, left, remaining[i] / step_hours)
                row[i] = power.quantize(Decimal("0.001"), rounding=ROUND_FLOOR)
                remaining[i] -= row[i] * step_hours
                left -= row[i]
        plan.append(row)
        at += problem.step
    return plan
