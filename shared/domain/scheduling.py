"""Depot charging plans: per-connector power limits over time, for the vehicles plugged in at one
site, that deliver as much of what each needs by its departure as physically possible, never
exceed the site's grid limit, and among such plans cost least under the site's price curve.
Pure: no AWS imports, no dependencies beyond the standard library.

The plan is exact, not a heuristic: it is a minimum-cost maximum flow (source → vehicle, need;
vehicle → interval, its power limit × the interval's length; interval → sink, the site's limit ×
the length, priced per kWh). A maximum flow is the most energy any plan can deliver, and the
cheapest of those is the cheapest plan that delivers it (the per-step limits are linear, so the
flow and the linear program have the same optimum). Steps between breakpoints (a departure, an
arrival, a price change) are one interval: the flow has one node per interval, not per step,
which keeps 200 vehicles well under a second in pure Python (`make bench`, `--only schedule`).
HiGHS was the other option; its aarch64 wheels for Python 3.14 are manylinux_2_28 only, which the
Lambda layer build (manylinux2014) cannot install, so it stays a development yardstick.

Online, only the vehicles plugged in now are known. Within an interval of one price the energy
is front-loaded (least laxity first, step by step), so capacity frees up early for vehicles that
arrive later; `laddvakt eval schedule` measures what that is worth against the hindsight optimum.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import pairwise

_ZERO = Decimal(0)
_KW = Decimal("0.001")
_CENT = Decimal("0.01")
_HOUR_S = Decimal(3600)
# Flows are kWh in floats: anything below this is nothing.
_EPS = 1e-9
# Flow arithmetic leaves a float this far under a whole watt at most.
_NOISE_KW = 1e-7


@dataclass(frozen=True)
class PricePeriod:
    """From `starts_at` until the next period: this energy price (per kWh, the site's currency)."""

    starts_at: datetime
    price_per_kwh: Decimal


@dataclass(frozen=True)
class ChargingDemand:
    """One plugged-in vehicle: what it still needs, by when, and how fast it can take it."""

    session_id: str
    charge_point_id: str
    connector_id: int
    energy_needed_kwh: Decimal
    departure_at: datetime
    # The smaller of the connector's and the vehicle's limits.
    max_power_kw: Decimal
    # A vehicle known to arrive later (a booking, or the hindsight optimum in evaluation): nothing
    # is planned for it before then. None: plugged in now.
    available_from: datetime | None = None


@dataclass(frozen=True)
class SiteProblem:
    site_id: str
    now: datetime
    step: timedelta
    limit_kw: Decimal
    prices: tuple[PricePeriod, ...]
    demands: tuple[ChargingDemand, ...]
    # Load the plan cannot steer (a charger that rejected its profile draws its full power).
    uncontrolled_kw: Decimal = _ZERO
    # Capacity held back for vehicles expected to arrive later (e.g. the site's usual demand by
    # time of day): from each step's start until the next, this much of the limit is not planned
    # for the vehicles here now. It stops cheap hours from being filled with energy that could have
    # been delivered earlier, when later arrivals will need that capacity.
    reserved_kw: tuple[PowerStep, ...] = ()
    # Plan each vehicle to be done this long before its departure where it can be (drivers often
    # leave before the time they gave); a vehicle closer to its departure than that keeps as many
    # of its steps as it needs at full power, so it becomes the most urgent, not unplanned.
    departure_margin: timedelta = timedelta(0)


@dataclass(frozen=True)
class PowerStep:
    """From `starts_at` until the next step (or the plan's end): at most `limit_kw`."""

    starts_at: datetime
    limit_kw: Decimal


@dataclass(frozen=True)
class ConnectorPlan:
    session_id: str
    charge_point_id: str
    connector_id: int
    steps: tuple[PowerStep, ...]
    planned_kwh: Decimal
    unmet_kwh: Decimal
    # Why nothing (or less than needed) is planned, when the demand itself says so: a departure
    # that is not in the future, no power, nothing needed. None for an ordinary demand.
    note: str | None = None


@dataclass(frozen=True)
class SitePlan:
    site_id: str
    computed_at: datetime
    step: timedelta
    limit_kw: Decimal
    connectors: tuple[ConnectorPlan, ...]
    peak_kw: Decimal
    # Energy cost of the plan under `prices` (the site's currency), None without prices.
    cost: Decimal | None
    # False when no plan can respect the limit at all (the uncontrolled load alone exceeds it):
    # every connector then gets zero, and `problem` says why.
    feasible: bool = True
    problem: str | None = None
    # The end of the last step (the plan's horizon): the last step lasts until then.
    ends_at: datetime | None = field(default=None)


def price_at(prices: tuple[PricePeriod, ...], at: datetime) -> Decimal | None:
    """The price in force at `at`: that of the latest period started by then (None before any)."""
    current: PricePeriod | None = None
    for period in prices:
        if period.starts_at <= at and (current is None or period.starts_at >= current.starts_at):
            current = period
    return None if current is None else current.price_per_kwh


def plan_site(problem: SiteProblem) -> SitePlan:
    """The plan delivering the most energy by each departure, then costing least; see the module."""
    if problem.step <= timedelta(0):
        raise ValueError(f"the plan's step must be positive, got {problem.step}")
    available = problem.limit_kw - problem.uncontrolled_kw
    windows = [_window(problem, demand) for demand in problem.demands]
    whole = (
        [_window(problem, demand, margin=False) for demand in problem.demands]
        if problem.departure_margin > timedelta(0)
        else windows
    )
    horizon = max((end for _, end, _ in whole), default=0)
    starts = [problem.now + i * problem.step for i in range(horizon)]
    step_hours = problem.step / timedelta(hours=1)
    powers: list[list[float]] = [[0.0] * horizon for _ in problem.demands]
    reason = None
    if available < 0:
        reason = (
            f"the site's limit ({problem.limit_kw} kW) is below the load no plan can steer "
            f"({problem.uncontrolled_kw} kW): every connector is held at zero"
        )
    else:
        prices = _step_prices(problem.prices, starts)
        capacity = [
            max(0.0, float(available - (_limit_at(problem.reserved_kw, start) or _ZERO))) for start in starts
        ]
        _solve(problem, windows, capacity, prices, step_hours, powers)
        _fill_margins(problem, windows, whole, capacity, prices, step_hours, powers)
    return _site_plan(problem, windows, starts, step_hours, powers, reason)


def _limit_at(steps: tuple[PowerStep, ...], at: datetime) -> Decimal | None:
    """The value of a step curve at `at`: that of the latest step started by then."""
    current: PowerStep | None = None
    for step in steps:
        if step.starts_at <= at and (current is None or step.starts_at >= current.starts_at):
            current = step
    return None if current is None else current.limit_kw


def _window(
    problem: SiteProblem, demand: ChargingDemand, *, margin: bool = True
) -> tuple[int, int, str | None]:
    """The steps [first, end) this demand may charge in (every step that starts before its
    departure: a limit holds while the vehicle is there, so the step it leaves in counts whole,
    as a charger applies it; cut short by the departure margin unless `margin` is False), and
    why there are none when the demand itself rules charging out."""
    end = math.ceil((demand.departure_at - problem.now) / problem.step)
    first = 0
    if demand.available_from is not None and demand.available_from > problem.now:
        first = math.ceil((demand.available_from - problem.now) / problem.step)
    if demand.departure_at <= problem.now:
        return 0, 0, f"departure {demand.departure_at.isoformat()} is not after {problem.now.isoformat()}"
    if demand.energy_needed_kwh <= 0:
        return 0, 0, "nothing needed"
    if demand.max_power_kw <= 0:
        return 0, 0, "no power allowed"
    if end <= first:
        return 0, 0, "arrives after it departs"
    if margin and problem.departure_margin > timedelta(0):
        # Never shorter than it takes at full power: the margin hurries a plan, it does not cut it.
        step_hours = problem.step / timedelta(hours=1)
        at_full_power = math.ceil(float(demand.energy_needed_kwh / demand.max_power_kw) / step_hours - 1e-9)
        early = math.floor((demand.departure_at - problem.departure_margin - problem.now) / problem.step)
        end = max(early, min(end, first + at_full_power))
    return first, end, None


def _step_prices(prices: tuple[PricePeriod, ...], starts: list[datetime]) -> list[float]:
    """Each step's price relative to the cheapest (a constant shift does not change which plan
    delivering the most energy is cheapest, and keeps every arc cost non-negative)."""
    # Stable: of two periods starting at once, the later listed wins, as in `price_at`.
    ordered = sorted(prices, key=lambda p: p.starts_at)
    values: list[float] = []
    index, current = 0, None
    for start in starts:
        while index < len(ordered) and ordered[index].starts_at <= start:
            current = ordered[index].price_per_kwh
            index += 1
        values.append(0.0 if current is None else float(current))
    low = min(values, default=0.0)
    return [v - low for v in values]


def _solve(
    problem: SiteProblem,
    windows: list[tuple[int, int, str | None]],
    capacity: list[float],
    prices: list[float],
    step_hours: float,
    powers: list[list[float]],
) -> None:
    """Fill `powers` (kW per demand per step, under `capacity` kW per step) with the cheapest
    maximum-energy plan."""
    # Earliest departure first in the flow's search order: among equally cheap plans delivering
    # the most, the first steps go to the vehicles leaving soonest (declared departures are often
    # late; see `laddvakt eval schedule`).
    live = sorted(
        (i for i, (first, end, _) in enumerate(windows) if end > first),
        key=lambda i: (
            windows[i][1]
            - float(problem.demands[i].energy_needed_kwh)
            / float(problem.demands[i].max_power_kw)
            / step_hours,
            problem.demands[i].session_id,
        ),
    )
    horizon = len(prices)
    if not live:
        return
    cuts = {0, horizon}
    for i in live:
        cuts.update(windows[i][:2])
    cuts.update(k for k in range(1, horizon) if prices[k] != prices[k - 1] or capacity[k] != capacity[k - 1])
    bounds = sorted(cuts)
    intervals = list(pairwise(bounds))
    flow = _Flow(2 + len(live) + len(intervals))
    source, sink = 0, 1
    first_interval = 2 + len(live)
    arcs: list[list[tuple[int, int]]] = []  # per live demand: (interval index, arc id)
    for n, i in enumerate(live):
        demand = problem.demands[i]
        first, end, _ = windows[i]
        max_kw = float(demand.max_power_kw)
        flow.add(source, 2 + n, float(demand.energy_needed_kwh), 0.0)
        arcs.append(
            [
                (j, flow.add(2 + n, first_interval + j, max_kw * (b - a) * step_hours, 0.0))
                for j, (a, b) in enumerate(intervals)
                if first <= a and b <= end
            ]
        )
    for j, (a, b) in enumerate(intervals):
        flow.add(first_interval + j, sink, capacity[a] * (b - a) * step_hours, prices[a])
    flow.cheapest_maximum(source, sink)
    shares: list[dict[int, float]] = [{} for _ in intervals]
    for n, i in enumerate(live):
        for j, arc in arcs[n]:
            if (energy := flow.carried(arc)) > _EPS:
                shares[j][i] = energy
    for (a, b), share in zip(intervals, shares, strict=True):
        if share:
            _spread(share, problem, a, b, capacity[a], step_hours, powers)


def _fill_margins(
    problem: SiteProblem,
    windows: list[tuple[int, int, str | None]],
    whole: list[tuple[int, int, str | None]],
    capacity: list[float],
    prices: list[float],
    step_hours: float,
    powers: list[list[float]],
) -> None:
    """Plan what the hurried plan left unmet into the margins (the steps between the end a margin
    set and the departure), with the capacity that plan left over, cheapest first. It never
    takes capacity from the hurried plan, so a vehicle's margin cannot cost one leaving sooner
    its energy; it only shows what a vehicle will get in its last hour, which the plan would
    otherwise leave out until that hour begins (the current step is always in the hurried window,
    so what the chargers apply now does not change)."""
    rests: list[ChargingDemand] = []
    margins: list[tuple[int, int, str | None]] = []
    for demand, row, (_, hurried_end, note), (_, end, _) in zip(
        problem.demands, powers, windows, whole, strict=True
    ):
        rest = float(demand.energy_needed_kwh) - sum(row) * step_hours
        margin = (
            (hurried_end, end, None) if note is None and end > hurried_end and rest > _EPS else (0, 0, None)
        )
        margins.append(margin)
        rests.append(replace(demand, energy_needed_kwh=Decimal(repr(max(0.0, rest)))))
    if all(end <= first for first, end, _ in margins):
        return
    room = [max(0.0, capacity[k] - sum(row[k] for row in powers)) for k in range(len(capacity))]
    _solve(replace(problem, demands=tuple(rests)), margins, room, prices, step_hours, powers)


def _spread(
    shares: dict[int, float],
    problem: SiteProblem,
    first: int,
    end: int,
    available_kw: float,
    step_hours: float,
    powers: list[list[float]],
) -> None:
    """Lay each demand's energy for one interval onto its steps: as early as the limits allow
    (least laxity first, step by step), so capacity frees up for later arrivals; evenly when
    that cannot place it all."""
    left = dict(shares)
    front: dict[int, list[float]] = {i: [] for i in shares}
    for k in range(first, end):
        steps_left = end - k
        capacity = available_kw
        max_kw = {i: float(problem.demands[i].max_power_kw) for i in left}
        order = sorted(left, key=lambda i: steps_left - left[i] / (max_kw[i] * step_hours))
        for i in order:
            power = max(0.0, min(max_kw[i], left[i] / step_hours, capacity))
            front[i].append(power)
            left[i] -= power * step_hours
            capacity -= power
    if all(rest <= _EPS * max(1.0, shares[i]) for i, rest in left.items()):
        for i, row in front.items():
            powers[i][first:end] = row
        return
    for i, energy in shares.items():
        even = energy / ((end - first) * step_hours)
        powers[i][first:end] = [even] * (end - first)


class _Flow:
    """A residual network with float capacities and a minimum-cost maximum flow by the
    primal-dual method: Dijkstra on reduced costs sets the potentials, then Dinic's blocking
    flows fill every shortest path of that cost at once. Costs sit on few arcs (one per
    interval), so there are few distinct path costs and few rounds."""

    def __init__(self, nodes: int) -> None:
        self.out: list[list[int]] = [[] for _ in range(nodes)]
        self.head: list[int] = []
        self.cap: list[float] = []
        self.cost: list[float] = []
        self.original: list[float] = []

    def add(self, tail: int, head: int, capacity: float, cost: float) -> int:
        arc = len(self.head)
        for a, b, c, w in ((tail, head, capacity, cost), (head, tail, 0.0, -cost)):
            self.out[a].append(len(self.head))
            self.head.append(b)
            self.cap.append(c)
            self.cost.append(w)
            self.original.append(c)
        return arc

    def carried(self, arc: int) -> float:
        return self.original[arc] - self.cap[arc]

    def cheapest_maximum(self, source: int, sink: int) -> None:
        nodes = len(self.out)
        potential = [0.0] * nodes
        while True:
            distance = self._distances(source, potential)
            if math.isinf(distance[sink]):
                return
            reach = max(d for d in distance if not math.isinf(d))
            for v in range(nodes):
                potential[v] += distance[v] if not math.isinf(distance[v]) else reach
            while self._push_blocking(source, sink, potential):
                pass

    def _distances(self, source: int, potential: list[float]) -> list[float]:
        distance = [math.inf] * len(self.out)
        distance[source] = 0.0
        queue = [(0.0, source)]
        head, cap, cost, out = self.head, self.cap, self.cost, self.out
        while queue:
            d, v = heapq.heappop(queue)
            if d > distance[v]:
                continue
            base = d + potential[v]
            for arc in out[v]:
                if cap[arc] > _EPS:
                    w = head[arc]
                    nd = base + cost[arc] - potential[w]
                    if nd < distance[w] - 1e-12:
                        distance[w] = nd
                        heapq.heappush(queue, (nd, w))
        return distance

    def _admissible(self, arc: int, tail: int, potential: list[float]) -> bool:
        return (
            self.cap[arc] > _EPS and abs(self.cost[arc] + potential[tail] - potential[self.head[arc]]) <= 1e-9
        )

    def _push_blocking(self, source: int, sink: int, potential: list[float]) -> bool:
        """One Dinic phase on the arcs of zero reduced cost; False when none reaches the sink."""
        level = [-1] * len(self.out)
        level[source] = 0
        queue = deque([source])
        while queue:
            v = queue.popleft()
            for arc in self.out[v]:
                w = self.head[arc]
                if level[w] < 0 and self._admissible(arc, v, potential):
                    level[w] = level[v] + 1
                    queue.append(w)
        if level[sink] < 0:
            return False
        cursor = [0] * len(self.out)
        pushed = False
        while self._augment(source, sink, math.inf, level, cursor, potential) > _EPS:
            pushed = True
        return pushed

    def _augment(
        self, v: int, sink: int, limit: float, level: list[int], cursor: list[int], potential: list[float]
    ) -> float:
        if v == sink:
            return limit
        arcs = self.out[v]
        while cursor[v] < len(arcs):
            arc = arcs[cursor[v]]
            w = self.head[arc]
            if level[w] == level[v] + 1 and self._admissible(arc, v, potential):
                got = self._augment(w, sink, min(limit, self.cap[arc]), level, cursor, potential)
                if got > _EPS:
                    self.cap[arc] -= got
                    self.cap[arc ^ 1] += got
                    return got
            cursor[v] += 1
        return 0.0


def _site_plan(
    problem: SiteProblem,
    windows: list[tuple[int, int, str | None]],
    starts: list[datetime],
    step_hours: float,
    powers: list[list[float]],
    reason: str | None,
) -> SitePlan:
    seconds = Decimal(round(problem.step.total_seconds(), 6))
    limits = _rounded(problem, starts, powers)
    totals = [sum((row[k] for row in limits), _ZERO) for k in range(len(starts))]
    cost = None
    if problem.prices:
        cost = sum(
            (
                totals[k] * seconds / _HOUR_S * (price_at(problem.prices, start) or _ZERO)
                for k, start in enumerate(starts)
            ),
            _ZERO,
        ).quantize(_CENT)
    plans = []
    for demand, row, (_, _, note) in zip(problem.demands, limits, windows, strict=True):
        need = max(_ZERO, demand.energy_needed_kwh)
        planned = min(need, sum(row, _ZERO) * seconds / _HOUR_S).quantize(_KW, rounding=ROUND_FLOOR)
        plans.append(
            ConnectorPlan(
                session_id=demand.session_id,
                charge_point_id=demand.charge_point_id,
                connector_id=demand.connector_id,
                steps=_merged(starts, row),
                planned_kwh=planned,
                unmet_kwh=(need - planned).quantize(_KW),
                note=note,
            )
        )
    return SitePlan(
        site_id=problem.site_id,
        computed_at=problem.now,
        step=problem.step,
        limit_kw=problem.limit_kw,
        connectors=tuple(plans),
        peak_kw=max(totals, default=_ZERO),
        cost=cost,
        feasible=reason is None,
        problem=reason,
        ends_at=problem.now + len(starts) * problem.step,
    )


def _rounded(problem: SiteProblem, starts: list[datetime], powers: list[list[float]]) -> list[list[Decimal]]:
    """The float plan in whole watts, never above a vehicle's power or the site's room: rounded
    down, except that a float a hair under a whole watt (flow arithmetic) counts as that watt; a
    step that rounding lifts over the site's room gives the watts back from its largest entries."""
    limits = [
        [
            max(_ZERO, min(demand.max_power_kw, Decimal(p + _NOISE_KW).quantize(_KW, rounding=ROUND_FLOOR)))
            for p in row
        ]
        for demand, row in zip(problem.demands, powers, strict=True)
    ]
    room = problem.limit_kw - problem.uncontrolled_kw
    for k, start in enumerate(starts):
        left = max(_ZERO, room - (_limit_at(problem.reserved_kw, start) or _ZERO))
        over = sum((row[k] for row in limits), _ZERO) - left
        while over > 0:
            largest = max(limits, key=lambda row: row[k])
            cut = min(over, largest[k]).quantize(_KW, rounding=ROUND_CEILING)
            largest[k] -= cut
            over -= cut
    return limits


def _merged(starts: list[datetime], powers: list[Decimal]) -> tuple[PowerStep, ...]:
    steps: list[PowerStep] = []
    for start, power in zip(starts, powers, strict=True):
        if not steps or steps[-1].limit_kw != power:
            steps.append(PowerStep(start, power))
    return tuple(steps)
