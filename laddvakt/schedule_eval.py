"""`laddvakt eval schedule`: Laddvakt's depot planner replayed on real ACN-Data weeks, next to
acnportal's algorithms (uncontrolled, round robin, earliest deadline first, least laxity first)
and the linear-programming optimum with perfect hindsight (HiGHS), all in one run.

One simulator for every online algorithm: acnportal's, with its ideal battery, 5-minute periods,
one continuous 32 A EVSE at 208 V (6.656 kW) per ACN station and a single site constraint (the
site's limit as aggregate current). Laddvakt's planner is wrapped as an acnportal algorithm and
rescheduled on every plug-in and unplug and every period, as it runs live.

The same information for every algorithm, of two kinds, each algorithm run with both: each
vehicle's energy demand is the energy it really took (ACN-Sim's convention: users' requests are
noisy, and what was delivered is what the car could take); its departure is either the real one,
told on plug-in (the `_known_departures` rows: ACN-Sim's convention and what the optimum knows, so
they measure the planner), or the user's declared estimate (`estimated_departure`) for claimed
sessions (what a live site knows, so they measure what wrong departures cost); unclaimed sessions
carry the truth there, so they are masked in `laddvakt.acn_data` and fall back to arrival + the
site's median stay over the training months (2019-05..08). A vehicle still plugged in after its
estimate is told it leaves at the next period. Weeks come from the tuning months (2019-09..12),
plus one from the 2020 drift period that neither the departure model nor the hedges saw; the
sealed 2021 files are never read.

Laddvakt is also run as the live system decides departures: re-estimated at every reschedule by
`estimate_departure` from what is known then (plug-in time, time plugged in, the declared departure
and requested energy of claimed sessions, the site's habits from its sessions that ended before
that hour), planning to a conservative quantile. A few quantile rules are run side by side and the
one delivering the most energy over these weeks is reported as chosen: the departure model's
hyperparameters were chosen on these same months, so this is not a held-out test.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from laddvakt.acn_data import DRIFT, PERIODS, SITE_ZONE, TRAIN, TUNE, AcnSite, load
from laddvakt.site_history import RecentStays
from shared.domain.arrival_reserve import ArrivalReserve, PastStay, learn_arrival_reserve, reserve_steps
from shared.domain.departure import (
    SITE_HISTORY_DAYS,
    DepartureEstimate,
    DepartureQuery,
    SiteHabits,
    estimate_departure,
    load_model,
)
from shared.domain.price_curve import energy_price_curve
from shared.domain.scheduling import (
    ChargingDemand,
    PricePeriod,
    SiteProblem,
    plan_site,
    price_at,
)
from shared.models.ocpi import Tariff, parse_tariff
from shared.models.profiles import MAX_SITE_STAYS

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "eval"
PERIOD_MINUTES = 5
STEP = timedelta(minutes=PERIOD_MINUTES)
STEP_HOURS = PERIOD_MINUTES / 60
VOLTAGE = 208.0
EVSE_AMPS = 32.0
EVSE_KW = EVSE_AMPS * VOLTAGE / 1000
ZONE = ZoneInfo(SITE_ZONE)
# Plan to be done this long before each declared departure: one in five ACN drivers leaves more
# than an hour before the time they gave (measured on 2019-10-14..16 at Caltech).
DEPARTURE_MARGIN = timedelta(hours=1)
# Mondays in the tuning months (2019-09..12), clear of US holidays, and one from the drift period
# (2020-02..05; before the pandemic emptied the sites in mid-March): the departure model never saw it.
WEEKS = (date(2019, 9, 9), date(2019, 10, 14), date(2019, 11, 4), date(2020, 2, 3))
# Monday to Friday: ACN's weekends are nearly empty, and the run must stay within ~10 minutes.
DAYS = 5
LIMITS: tuple[tuple[AcnSite, float], ...] = (("caltech", 20.0), ("caltech", 30.0), ("jpl", 40.0))
ALGORITHMS = (
    "laddvakt",
    "laddvakt_prices_only",
    "laddvakt_energy_only",
    "laddvakt_estimate_live_rule",
    "laddvakt_estimate_p10",
    "laddvakt_estimate_min_declared_p10",
    "laddvakt_estimate_p50",
    "uncontrolled",
    "round_robin",
    "earliest_deadline_first",
    "least_laxity_first",
    # The same algorithms told every vehicle's real departure on plug-in (ACN-Sim's own convention,
    # and the information the hindsight optimum has): what the planner does, apart from what a
    # departure the driver gets wrong costs.
    "laddvakt_known_departures",
    "round_robin_known_departures",
    "earliest_deadline_first_known_departures",
    "least_laxity_first_known_departures",
    "lp_optimum",
)
KNOWN = "_known_departures"
# The planning departure from the live estimate, rules tried side by side (`DepartureRule`): the
# live system's (`smart_charging.departure_at`: the declared departure while it is ahead, else P10),
# P10 always, and the earlier of the declared departure and P10.
ESTIMATE_RULES: dict[str, str] = {
    "laddvakt_estimate_live_rule": "declared departure while ahead, else the estimate's P10 (the live rule)",
    "laddvakt_estimate_p10": "the estimate's P10 (declared departure and requested energy as its inputs)",
    "laddvakt_estimate_min_declared_p10": "the earlier of the declared departure (while ahead) and P10",
}
# A diagnostic beside them, not a candidate (it is not conservative): the estimate's median, to show
# whether the conservative quantile costs energy when the limit, not the deadline, binds.
MEDIAN_RULE = "laddvakt_estimate_p50"
CHOICE_RULE = (
    "most energy delivered over all scenarios, then zero violations, then least cost; made on the "
    "replayed weeks themselves (2019-09..12, the months the departure model was tuned on): not held out"
)
TARIFF_NOTE = (
    "SCE-style time of use (the shape of SCE's TOU-EV-8, rounded rates, energy only, every day): "
    "on-peak 16:00-21:00 0.42 USD/kWh, super off-peak 08:00-16:00 0.14 USD/kWh, off-peak otherwise "
    "0.24 USD/kWh, in America/Los_Angeles local time"
)


def tou_tariff() -> Tariff:
    """The evaluation's tariff as an OCPI tariff, read through the same helper the site uses."""

    def energy(price: str, **restrictions: str) -> dict[str, Any]:
        element: dict[str, Any] = {
            "price_components": [{"type": "ENERGY", "price": Decimal(price), "step_size": 1}]
        }
        if restrictions:
            element["restrictions"] = restrictions
        return element

    return parse_tariff(
        {
            "id": "SCE-TOU",
            "currency": "USD",
            "elements": [
                energy("0.42", start_time="16:00", end_time="21:00"),
                energy("0.14", start_time="08:00", end_time="16:00"),
                energy("0.24"),
            ],
        }
    )


@dataclass(frozen=True)
class Scenario:
    site: AcnSite
    limit_kw: float
    week_start: date
    days: int = 7

    @property
    def name(self) -> str:
        return f"{self.site} {self.limit_kw:g} kW, {self.days} days from {self.week_start.isoformat()}"

    @property
    def epoch(self) -> datetime:
        return datetime.combine(self.week_start, datetime.min.time(), tzinfo=ZONE).astimezone(UTC)

    @property
    def periods(self) -> int:
        return self.days * 24 * 60 // PERIOD_MINUTES


@dataclass(frozen=True)
class Visit:
    """One ACN session in periods from the scenario's start: the simulator's EV."""

    session_id: str
    station_id: str
    arrival: int
    departure: int
    estimated_departure: int
    energy_kwh: float
    claimed: bool
    # What the live estimate may read: the real plug-in time, and the driver's claim (None if unclaimed).
    plugged_in_at: datetime
    declared_departure_at: datetime | None
    requested_kwh: float | None


@dataclass
class Outcome:
    algorithm: str
    energy_requested_kwh: float
    energy_delivered_kwh: float
    violations: int
    peak_kw: float
    cost_usd: float
    reschedules: int
    runtime_ms_mean: float | None
    runtime_ms_p95: float | None
    runtime_ms_max: float | None
    site_kw: list[float] = field(repr=False)

    @property
    def delivered_percent(self) -> float:
        return (
            100 * self.energy_delivered_kwh / self.energy_requested_kwh
            if self.energy_requested_kwh
            else 100.0
        )


def visits(scenario: Scenario, fallback_stay: timedelta) -> tuple[list[Visit], dict[str, int]]:
    """The scenario's sessions in periods, and how many were left out and why (none silently)."""
    start, end = scenario.epoch, scenario.epoch + timedelta(days=scenario.days)
    dropped = {"no_energy": 0, "station_busy": 0}
    chosen: list[Visit] = []
    busy_until: dict[str, int] = {}
    (period,) = (p for p in PERIODS[scenario.site] if p.first <= scenario.week_start <= p.last)
    for session in load(period):
        if not start <= session.arrival < end:
            continue
        if session.delivered_kwh <= 0:
            dropped["no_energy"] += 1
            continue
        arrival = math.floor((session.arrival - start) / STEP)
        departure = max(arrival + 1, math.floor((session.departure - start) / STEP))
        declared = session.declared_departure or (session.arrival + fallback_stay)
        estimated = max(arrival + 1, math.floor((declared - start) / STEP))
        if busy_until.get(session.station_id, -1) > arrival:
            dropped["station_busy"] += 1
            continue
        busy_until[session.station_id] = departure
        chosen.append(
            Visit(
                session.session_id,
                session.station_id,
                arrival,
                departure,
                estimated,
                session.delivered_kwh,
                session.claimed,
                session.arrival.astimezone(UTC),
                session.declared_departure.astimezone(UTC) if session.declared_departure else None,
                session.requested_energy_kwh,
            )
        )
    return chosen, dropped


def median_stay(site: AcnSite) -> timedelta:
    """The fallback for a missing declared departure: the site's median stay, training months only."""
    stays = [
        (s.departure - s.arrival).total_seconds()
        for s in load(PERIODS[site][TRAIN])
        if s.departure > s.arrival
    ]
    return timedelta(seconds=statistics.median(stays))


def arrival_reserve(site: AcnSite) -> ArrivalReserve:
    """The site's expected demand from vehicles not yet plugged in, learnt on the training months
    by the live scheduler's own code (`shared.domain.arrival_reserve`), each session's average
    power capped at the EVSE's."""
    return learn_arrival_reserve(
        (
            PastStay(s.arrival.astimezone(UTC), s.departure.astimezone(UTC), Decimal(repr(s.delivered_kwh)))
            for s in load(PERIODS[site][TRAIN])
        ),
        SITE_ZONE,
        slot=STEP,
        max_power_kw=Decimal(repr(EVSE_KW)),
    )


class LiveDepartures:
    """Each plugged-in vehicle's departure estimate as the live system would make it at `now`.

    Site habits are the site's history as the live system holds it at the start of the current hour
    (`RecentStays`: the training months' and the replayed months' own sessions that had ended by
    then, plugged in within `SITE_HISTORY_DAYS`), rebuilt once an hour. Nothing here depends on the
    algorithm being replayed, so an estimate is computed once per vehicle and period and shared by
    every rule and every limit of the same week.
    """

    def __init__(self, site: AcnSite, visits: Sequence[Visit]) -> None:
        self.site = site
        self.visits = {v.session_id: v for v in visits}
        past = [s for index in (TRAIN, TUNE, DRIFT) for s in load(PERIODS[site][index])]
        self._recent = RecentStays(((s.arrival, s.departure) for s in past), SITE_ZONE)
        self._habits: dict[datetime, SiteHabits] = {}
        self._estimates: dict[tuple[str, datetime], DepartureEstimate] = {}
        self.model = load_model()

    def habits(self, now: datetime) -> SiteHabits:
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour not in self._habits:
            self._habits = {hour: self._recent.habits(hour)}
        return self._habits[hour]

    def estimate(self, session_id: str, now: datetime) -> DepartureEstimate:
        key = (session_id, now)
        if key not in self._estimates:
            visit = self.visits[session_id]
            requested = visit.requested_kwh
            estimate = estimate_departure(
                DepartureQuery(
                    plugged_in_at=visit.plugged_in_at,
                    now=now,
                    time_zone=SITE_ZONE,
                    site_id=self.site,
                    declared_departure_at=visit.declared_departure_at,
                    requested_energy_kwh=Decimal(repr(requested)) if requested is not None else None,
                    site_habits=self.habits(now),
                ),
                self.model,
            )
            if estimate is None:  # the contract allows it; the model always answers
                raise ValueError(f"no departure estimate for {session_id}")
            self._estimates[key] = estimate
        return self._estimates[key]

    def departure(self, rule: str, session_id: str, now: datetime) -> datetime:
        """The planning departure under one of `ESTIMATE_RULES`, never before the next period."""
        estimate = self.estimate(session_id, now)
        p10 = estimate.p10_at
        declared = self.visits[session_id].declared_departure_at
        ahead = declared if declared is not None and declared > now else None
        if rule == "laddvakt_estimate_live_rule":
            at = ahead or p10
        elif rule == "laddvakt_estimate_p10":
            at = p10
        elif rule == "laddvakt_estimate_min_declared_p10":
            at = min(ahead, p10) if ahead else p10
        elif rule == MEDIAN_RULE:
            at = estimate.p50_at
        else:
            raise ValueError(f"unknown departure rule {rule!r}")
        return max(at, now + STEP)


def step_prices(scenario: Scenario, curve: tuple[PricePeriod, ...], periods: int) -> list[float]:
    return [float(price_at(curve, scenario.epoch + k * STEP) or 0) for k in range(periods)]


# ---------------------------------------------------------------------------------------------
# acnportal: the simulator, the yardsticks, and Laddvakt's planner as one of its algorithms


def _acnportal_algorithms(
    scenario: Scenario, tou: tuple[PricePeriod, ...], reserve: ArrivalReserve, live: LiveDepartures
) -> dict[str, Callable[[], Any]]:
    from acnportal import algorithms as acn

    # acnportal ships no type hints: its base classes are Any to mypy.
    class LaddvaktPlanner(acn.BaseAlgorithm):  # type: ignore[misc,name-defined]
        """`plan_site` behind acnportal's algorithm interface: the plan's whole horizon is
        handed over; acnportal replans on every plug-in and unplug and every period."""

        def __init__(
            self,
            curve: tuple[PricePeriod, ...],
            reserve: ArrivalReserve | None,
            *,
            margin: timedelta = timedelta(0),
            estimate_rule: str | None = None,
        ) -> None:
            super().__init__()
            self.max_recompute = 1
            self.curve = curve
            self.reserve = reserve
            self.margin = margin
            self.estimate_rule = estimate_rule

        def departure(self, session: Any, now: datetime) -> datetime:
            if self.estimate_rule is not None:
                return live.departure(self.estimate_rule, session.session_id, now)
            # The departure the simulator's interface tells (declared, or the real one; see `simulate`).
            return scenario.epoch + session.estimated_departure * STEP

        def schedule(self, active_sessions: Sequence[Any]) -> dict[str, list[float]]:
            now = scenario.epoch + self.interface.current_time * STEP
            demands = tuple(
                ChargingDemand(
                    session_id=s.session_id,
                    charge_point_id=s.station_id,
                    connector_id=1,
                    energy_needed_kwh=Decimal(str(max(0.0, float(s.remaining_demand)))),
                    departure_at=self.departure(s, now),
                    max_power_kw=Decimal(repr(EVSE_KW)),
                )
                for s in active_sessions
            )
            plan = plan_site(
                SiteProblem(
                    site_id=scenario.site,
                    now=now,
                    step=STEP,
                    limit_kw=Decimal(repr(scenario.limit_kw)),
                    prices=self.curve,
                    demands=demands,
                    reserved_kw=reserve_steps(self.reserve, now) if self.reserve else (),
                    departure_margin=self.margin,
                )
            )
            horizon = max(1, (plan.ends_at - now) // STEP if plan.ends_at else 1)
            schedule: dict[str, list[float]] = {}
            for connector in plan.connectors:
                amps = [0.0] * horizon
                bounds = [(step.starts_at - now) // STEP for step in connector.steps] + [horizon]
                for step, first, end in zip(connector.steps, bounds, bounds[1:], strict=False):
                    amps[first:end] = [float(step.limit_kw) * 1000 / VOLTAGE] * (end - first)
                schedule[connector.charge_point_id] = amps
            return schedule

    acnportal: dict[str, Callable[[], Any]] = {
        "round_robin": lambda: acn.RoundRobin(acn.earliest_deadline_first),
        "earliest_deadline_first": lambda: acn.SortedSchedulingAlgo(acn.earliest_deadline_first),
        "least_laxity_first": lambda: acn.SortedSchedulingAlgo(acn.least_laxity_first),
    }
    return {
        # Done an hour before each declared departure: one in five ACN drivers leaves that early.
        "laddvakt": lambda: LaddvaktPlanner(tou, reserve, margin=DEPARTURE_MARGIN),
        # The same planner without the reserve and the departure margin, and blind to prices too.
        "laddvakt_prices_only": lambda: LaddvaktPlanner(tou, None),
        "laddvakt_energy_only": lambda: LaddvaktPlanner((), None),
        # As the live system decides departures: its estimate, re-made at every reschedule (the
        # estimate's P10 is its own margin).
        **{
            # The default argument binds each rule now; mypy cannot infer a lambda default's type.
            rule: (lambda rule=rule: LaddvaktPlanner(tou, reserve, estimate_rule=rule))  # type: ignore[misc]
            for rule in (*ESTIMATE_RULES, MEDIAN_RULE)
        },
        "uncontrolled": acn.UncontrolledCharging,
        **acnportal,
        # Told the real departure, a margin has nothing left to hedge.
        f"laddvakt{KNOWN}": lambda: LaddvaktPlanner(tou, reserve),
        **{f"{name}{KNOWN}": factory for name, factory in acnportal.items()},
    }


def simulate(
    scenario: Scenario, chosen: list[Visit], algorithm: Any, name: str, prices: list[float]
) -> Outcome:
    import numpy as np
    from acnportal import acnsim

    known = name.endswith(KNOWN)

    # acnportal ships no type hints: its base classes are Any to mypy.
    class SameInformation(acnsim.Interface):  # type: ignore[misc,name-defined]
        """What every algorithm sees as a session's departure: the declared one, or the next
        period once that has passed; or, for the `_known_departures` rows, the real one."""

        def _active_sessions(self) -> list[Any]:
            sessions = super()._active_sessions()
            for s in sessions:
                if known:
                    s.estimated_departure = s.departure
                else:
                    s.estimated_departure = max(s.estimated_departure, self.current_time + 1)
            return sessions

    network = acnsim.ChargingNetwork()
    stations = sorted({v.station_id for v in chosen})
    for station in stations:
        network.register_evse(acnsim.EVSE(station, max_rate=EVSE_AMPS), VOLTAGE, 0)
    network.add_constraint(acnsim.Current(stations), scenario.limit_kw * 1000 / VOLTAGE, name="site")
    events = acnsim.EventQueue(
        [
            acnsim.PluginEvent(
                v.arrival,
                acnsim.EV(
                    v.arrival,
                    v.departure,
                    v.energy_kwh,
                    v.station_id,
                    v.session_id,
                    acnsim.Battery(100.0, 100.0 - v.energy_kwh, 1000.0),
                    estimated_departure=v.estimated_departure,
                ),
            )
            for v in chosen
        ]
    )
    runtimes: list[float] = []
    run = algorithm.run

    def timed() -> Any:
        began = time.perf_counter()
        try:
            return run()
        finally:
            runtimes.append(time.perf_counter() - began)

    algorithm.run = timed
    simulator = acnsim.Simulator(
        network,
        algorithm,
        events,
        scenario.epoch,
        period=PERIOD_MINUTES,
        verbose=False,
        interface_type=SameInformation,
    )
    with warnings.catch_warnings():
        # Uncontrolled charging breaks the limit by design; acnportal warns every period. Counted below.
        warnings.simplefilter("ignore", UserWarning)
        simulator.run()
    site_kw = simulator.charging_rates.sum(axis=0) * VOLTAGE / 1000
    delivered = sum(ev.energy_delivered for ev in simulator.ev_history.values())
    padded = np.zeros(len(site_kw))
    padded[: min(len(prices), len(site_kw))] = prices[: len(site_kw)]
    return _outcome(name, chosen, delivered, site_kw, padded, scenario.limit_kw, runtimes)


def _outcome(
    name: str,
    chosen: list[Visit],
    delivered: float,
    site_kw: Any,
    prices: Any,
    limit_kw: float,
    runtimes: list[float],
) -> Outcome:
    ms = sorted(r * 1000 for r in runtimes)
    return Outcome(
        algorithm=name,
        energy_requested_kwh=round(sum(v.energy_kwh for v in chosen), 3),
        energy_delivered_kwh=round(float(delivered), 3),
        violations=int((site_kw > limit_kw * (1 + 1e-6) + 1e-6).sum()),
        peak_kw=round(float(site_kw.max(initial=0.0)), 3),
        cost_usd=round(float((site_kw * prices).sum() * STEP_HOURS), 2),
        reschedules=len(ms),
        runtime_ms_mean=round(statistics.fmean(ms), 3) if ms else None,
        runtime_ms_p95=round(ms[int(0.95 * (len(ms) - 1))], 3) if ms else None,
        runtime_ms_max=round(ms[-1], 3) if ms else None,
        site_kw=[round(float(x), 3) for x in site_kw],
    )


def optimum(scenario: Scenario, chosen: list[Visit], prices: list[float]) -> Outcome:
    """The offline optimum: every arrival, departure and need known in advance (HiGHS)."""
    import numpy as np

    from laddvakt.schedule_lp import Job, solve

    horizon = max((v.departure for v in chosen), default=0)
    padded = np.array([prices[k] if k < len(prices) else prices[-1] for k in range(horizon)])
    began = time.perf_counter()
    lp = solve(
        [Job(v.arrival, v.departure, v.energy_kwh, EVSE_KW) for v in chosen],
        [scenario.limit_kw] * horizon,
        padded.tolist(),
        STEP_HOURS,
    )
    return _outcome(
        "lp_optimum",
        chosen,
        lp.energy_kwh,
        lp.site_kw,
        padded,
        scenario.limit_kw,
        [time.perf_counter() - began],
    )


# ---------------------------------------------------------------------------------------------
# The run


def evaluate(
    scenarios: Sequence[Scenario],
    progress: Callable[[str], None] = lambda _: None,
    *,
    workers: int = 1,
) -> dict[str, Any]:
    """Every algorithm on every scenario; the report `laddvakt eval schedule` writes. With
    `workers` > 1, the weeks run in that many processes (each week's limits stay together: they
    replay the same sessions and share its departure estimates); results keep the scenarios' order."""
    weeks: dict[tuple[AcnSite, date, int], list[int]] = {}
    for index, scenario in enumerate(scenarios):
        weeks.setdefault((scenario.site, scenario.week_start, scenario.days), []).append(index)
    jobs = [[(index, scenarios[index]) for index in indices] for indices in weeks.values()]
    results: list[dict[str, Any]] = [{} for _ in scenarios]
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            for index, result in _replay_week(job, len(scenarios), progress):
                results[index] = result
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            # Largest weeks first, so the last one to start is a short one.
            ordered = sorted(jobs, key=lambda job: -len(job) * (2 if job[0][1].site == "jpl" else 1))
            began = time.time()
            for done in pool.map(
                _replay_week_in_worker, ordered, [len(scenarios)] * len(ordered), [began] * len(ordered)
            ):
                for index, result in done:
                    results[index] = result
    table = summary(results)
    return {
        "scenarios": results,
        "summary": table,
        "departure_rule": departure_choice(table),
        "goals": goals(table),
    }


def _replay_week_in_worker(
    job: list[tuple[int, Scenario]], total: int, began: float
) -> list[tuple[int, dict[str, Any]]]:
    def progress(line: str) -> None:
        print(f"{time.time() - began:7.1f}s {line}", file=sys.stderr, flush=True)

    return _replay_week(job, total, progress)


def _replay_week(
    job: list[tuple[int, Scenario]], total: int, progress: Callable[[str], None]
) -> list[tuple[int, dict[str, Any]]]:
    """Every algorithm on each limit of one site's week."""
    site = job[0][1].site
    fallback_stay = median_stay(site)
    reserve = arrival_reserve(site)
    live: LiveDepartures | None = None
    out: list[tuple[int, dict[str, Any]]] = []
    for index, scenario in job:
        chosen, dropped = visits(scenario, fallback_stay)
        curve = energy_price_curve(
            tou_tariff(), ZONE, scenario.epoch, scenario.epoch + timedelta(days=scenario.days + 3)
        )
        horizon = max([v.departure for v in chosen] + [scenario.periods])
        prices = step_prices(scenario, curve, horizon + 1)
        if live is None:
            live = LiveDepartures(site, chosen)
        factories = _acnportal_algorithms(scenario, curve, reserve, live)
        outcomes: list[Outcome] = []
        for name in ALGORITHMS:
            began = time.perf_counter()
            if name == "lp_optimum":
                outcome = optimum(scenario, chosen, prices)
            else:
                outcome = simulate(scenario, chosen, factories[name](), name, prices)
            outcomes.append(outcome)
            progress(
                f"[{index + 1}/{total}] {scenario.name}: {name:<40} "
                f"{outcome.delivered_percent:6.2f}% delivered, {outcome.violations} violations, "
                f"peak {outcome.peak_kw:.1f} kW, {outcome.cost_usd:.2f} USD ({time.perf_counter() - began:.1f} s)"
            )
        best = next(o for o in outcomes if o.algorithm == "lp_optimum").energy_delivered_kwh
        out.append(
            (
                index,
                {
                    "site": scenario.site,
                    "limit_kw": scenario.limit_kw,
                    "week_start": scenario.week_start.isoformat(),
                    "days": scenario.days,
                    "sessions": len(chosen),
                    "claimed_sessions": sum(v.claimed for v in chosen),
                    "sessions_left_out": dropped,
                    "algorithms": [
                        {
                            **{k: v for k, v in asdict(o).items() if k != "site_kw"},
                            "departures": departures_told(o.algorithm),
                            "delivered_percent_of_requested": round(o.delivered_percent, 3),
                            "delivered_percent_of_optimum": round(100 * o.energy_delivered_kwh / best, 3)
                            if best
                            else 100.0,
                        }
                        for o in outcomes
                    ],
                    "_site_kw": {o.algorithm: o.site_kw for o in outcomes},
                },
            )
        )
    return out


def departures_told(name: str) -> str:
    """What an algorithm is told of departures: `known` (the real one, on plug-in; the optimum
    knows every one in advance), `declared` (the driver's estimate), `estimate` (Laddvakt's own
    estimate, from the declared one and the site's habits) or `none`."""
    if name.endswith(KNOWN) or name == "lp_optimum":
        return "known"
    if name == "uncontrolled":
        return "none"
    return "estimate" if name.startswith("laddvakt_estimate") else "declared"


# The goals for the planner, checked on both kinds of information: Laddvakt's row, and the
# acnportal rows it must undercut on cost, told the same.
GOAL_ENERGY_PERCENT_OF_OPTIMUM = 99.5
GOAL_ROWS = {
    "known": ("laddvakt_known_departures", f"earliest_deadline_first{KNOWN}", f"least_laxity_first{KNOWN}"),
    "declared": ("laddvakt", "earliest_deadline_first", "least_laxity_first"),
}


def goals(table: dict[str, Any]) -> dict[str, Any]:
    """Each goal of the evaluation, met or not, per kind of information (computed, never set)."""
    out: dict[str, Any] = {}
    for told, (ours, *others) in GOAL_ROWS.items():
        if not {ours, *others} <= table.keys():
            continue
        row = table[ours]
        out[told] = {
            "algorithm": ours,
            "energy_percent_of_optimum": row["delivered_percent_of_optimum"],
            "energy_goal_met": row["delivered_percent_of_optimum"] >= GOAL_ENERGY_PERCENT_OF_OPTIMUM,
            "violations": row["violations"],
            "cheaper_than": {
                other: {
                    "cost_usd": table[other]["cost_usd"],
                    "cost_usd_per_kwh": table[other]["cost_usd_per_kwh"],
                    "energy_percent_of_optimum": table[other]["delivered_percent_of_optimum"],
                    "cheaper_in_total": row["cost_usd"] < table[other]["cost_usd"],
                    "cheaper_per_kwh": (row["cost_usd_per_kwh"] or 0)
                    < (table[other]["cost_usd_per_kwh"] or 0),
                }
                for other in others
            },
        }
    return out


def departure_choice(table: dict[str, Any]) -> dict[str, Any]:
    """The estimate rule the report stands by, by `CHOICE_RULE`, with every rule tried (None
    when none of them ran)."""
    tried = [rule for rule in ESTIMATE_RULES if rule in table]
    chosen = max(
        tried,
        default=None,
        key=lambda rule: (
            table[rule]["delivered_percent_of_optimum"],
            -table[rule]["violations"],
            -table[rule]["cost_usd"],
        ),
    )
    return {"tried": ESTIMATE_RULES, "chosen": chosen, "how": CHOICE_RULE}


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per algorithm over every scenario: energy against the optimum, violations, cost, runtime."""
    table: dict[str, Any] = {}
    for name in ALGORITHMS:
        rows = [a for r in results for a in r["algorithms"] if a["algorithm"] == name]
        delivered = sum(a["energy_delivered_kwh"] for a in rows)
        optimum_kwh = sum(
            a["energy_delivered_kwh"]
            for r in results
            for a in r["algorithms"]
            if a["algorithm"] == "lp_optimum"
        )
        requested = sum(a["energy_requested_kwh"] for a in rows)
        table[name] = {
            "departures": departures_told(name),
            "delivered_percent_of_requested": round(100 * delivered / requested, 3) if requested else 100.0,
            "delivered_percent_of_optimum": round(100 * delivered / optimum_kwh, 3) if optimum_kwh else 100.0,
            "violations": sum(a["violations"] for a in rows),
            "peak_kw_max": max((a["peak_kw"] for a in rows), default=0.0),
            "cost_usd": round(sum(a["cost_usd"] for a in rows), 2),
            "cost_usd_per_kwh": round(sum(a["cost_usd"] for a in rows) / delivered, 4) if delivered else None,
            "runtime_ms_mean": round(
                statistics.fmean(
                    [a["runtime_ms_mean"] for a in rows if a["runtime_ms_mean"] is not None] or [0.0]
                ),
                3,
            ),
            "runtime_ms_max": max((a["runtime_ms_max"] or 0.0 for a in rows), default=0.0),
        }
    return table


def default_scenarios() -> list[Scenario]:
    return [Scenario(site, limit, week, DAYS) for site, limit in LIMITS for week in WEEKS]


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def write_report(report: dict[str, Any], command: str, out_dir: Path = OUT_DIR) -> dict[str, Any]:
    """docs/eval/schedule.json (and the chart beside it); returns what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = out_dir / "schedule.png"
    chart_day = _chart(report, chart)
    tradeoff = out_dir / "schedule-tradeoff.png"
    _tradeoff_chart(report["summary"], report["departure_rule"]["chosen"], tradeoff)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "git_commit": git_commit(),
        "weeks": sorted({r["week_start"] for r in report["scenarios"]}),
        "weeks_from": (
            "ACN-Data tuning months 2019-09..12 and one drift-period week of 2020-02 (Caltech, JPL); "
            "the sealed 2021 files are not read"
        ),
        "limits": [{"site": r["site"], "limit_kw": r["limit_kw"]} for r in report["scenarios"]],
        "period_minutes": PERIOD_MINUTES,
        "evse": f"one continuous EVSE per station, 0-{EVSE_AMPS:g} A at {VOLTAGE:g} V ({EVSE_KW:.3f} kW)",
        "tariff": TARIFF_NOTE,
        "information": (
            "energy demand = the energy the session really took; departure = the real one, told on "
            "plug-in (rows ending _known_departures, and the optimum), or the declared estimate "
            "(claimed sessions) or arrival + the site's median stay in 2019-05..08 (unclaimed, masked), "
            "a vehicle past its estimate told it leaves next period (every other row)"
        ),
        "chart": {"file": chart.name, "day": chart_day, "tradeoff": tradeoff.name},
        "departure_estimate": (
            "Laddvakt's estimate rows re-estimate each vehicle's departure at every reschedule with "
            "shared.domain.departure (trained on Caltech 2019-05..08, hyperparameters chosen on "
            "2019-09..12: the months of the 2019 weeks replayed here) from the plug-in time, the time plugged in, the "
            "declared departure and requested energy of claimed sessions, and the site's habits from "
            f"its sessions that had ended by the current hour and plugged in within the {SITE_HISTORY_DAYS} "
            f"days before it (at most the latest {MAX_SITE_STAYS:,}, as the live system keeps them)"
        ),
        "departure_rule": report["departure_rule"],
        "goals": report["goals"],
        "summary": report["summary"],
        "scenarios": [{k: v for k, v in r.items() if not k.startswith("_")} for r in report["scenarios"]],
    }
    (out_dir / "schedule.json").write_text(json.dumps(document, indent=2) + "\n")
    return document


CHARTED = (
    "laddvakt",
    "laddvakt_energy_only",
    "earliest_deadline_first",
    "least_laxity_first",
    "round_robin",
    "uncontrolled",
    "lp_optimum",
    "laddvakt_prices_only",
)


def _chart(report: dict[str, Any], path: Path) -> str:
    """Site load against the limit over one weekday, one panel per algorithm: the busiest day of
    the first scenario at 30 kW (where the algorithms differ in when they charge, not only how
    much), else of the first scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = report["scenarios"]
    chosen = next((r for r in scenarios if r["limit_kw"] == 30.0), scenarios[0])
    per_day = 24 * 60 // PERIOD_MINUTES
    loads = chosen["_site_kw"]
    days = max(1, min(chosen["days"], 5))
    busiest = max(range(days), key=lambda d: sum(loads["lp_optimum"][d * per_day : (d + 1) * per_day]))
    window = slice(busiest * per_day, (busiest + 1) * per_day)
    hours = [k * PERIOD_MINUTES / 60 for k in range(per_day)]
    names = [n for n in CHARTED if n in loads]
    figure, axes = plt.subplots(
        len(names) // 2 + len(names) % 2, 2, figsize=(12, 11), sharex=True, sharey=True
    )
    peak = max(max(loads[n][window], default=0.0) for n in names)
    for axis, name in zip(axes.flat, names, strict=False):
        series = loads[name][window]
        series = series + [0.0] * (per_day - len(series))
        axis.fill_between(hours, series, step="post", alpha=0.5)
        axis.step(hours, series, where="post", linewidth=0.8)
        axis.axhline(chosen["limit_kw"], color="black", linestyle="--", linewidth=1)
        axis.axvspan(16, 21, color="red", alpha=0.08)
        axis.axvspan(8, 16, color="green", alpha=0.06)
        kwh = sum(series) * STEP_HOURS
        axis.set_title(f"{name.replace('_', ' ')}: {kwh:.0f} kWh that day", fontsize=10)
        axis.set_xlim(0, 24)
        axis.set_ylim(0, min(peak * 1.05, chosen["limit_kw"] * 3))
        axis.set_xticks(range(0, 25, 3))
    for axis in axes.flat[len(names) :]:
        axis.set_visible(False)
    day = date.fromisoformat(chosen["week_start"]) + timedelta(days=busiest)
    figure.suptitle(
        f"{chosen['site'].upper()} site load (kW) vs its {chosen['limit_kw']:g} kW limit (dashed), {day.isoformat()}\n"
        "5-minute steps, hours in America/Los_Angeles; green: super off-peak 0.14, red: on-peak 0.42 USD/kWh "
        "(uncontrolled clipped at 3× the limit)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return day.isoformat()


def _tradeoff_chart(summary: dict[str, Any], chosen_rule: str | None, path: Path) -> None:
    """Energy (% of the optimum's) against cost over all scenarios for the contenders (Laddvakt,
    its chosen estimate rule, acnportal's controlled algorithms, each both ways, and the optimum;
    not the diagnostic rows), one marker per kind of departure information, the goal as a line."""
    contenders = {"laddvakt", "round_robin", "earliest_deadline_first", "least_laxity_first"}
    table = {
        name: row
        for name, row in summary.items()
        if name.removesuffix(KNOWN) in contenders or name in {chosen_rule, "lp_optimum"}
    }
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"known": ("o", "tab:green"), "declared": ("s", "tab:blue"), "estimate": ("^", "tab:purple")}
    figure, axis = plt.subplots(figsize=(10, 6.5))
    placed: list[tuple[float, float]] = []
    x_span = max(
        1.0, max(r["delivered_percent_of_optimum"] for r in table.values() if r["violations"] == 0) - 90
    )
    y_span = max(1.0, max(r["cost_usd"] for r in table.values() if r["violations"] == 0))
    for told, (marker, colour) in markers.items():
        rows = {n: r for n, r in table.items() if r["departures"] == told and r["violations"] == 0}
        axis.scatter(
            [r["delivered_percent_of_optimum"] for r in rows.values()],
            [r["cost_usd"] for r in rows.values()],
            marker=marker,
            color=colour,
            label=f"departures {told}",
            s=60,
        )
        for name, row in rows.items():
            label = name.replace(KNOWN, "").replace("_", " ")
            weight = "bold" if name.startswith("laddvakt") else "normal"
            x, y = row["delivered_percent_of_optimum"], row["cost_usd"]
            # Labels of points close together are stacked downwards instead of over each other.
            near = sum(abs(x - px) < 0.04 * x_span and abs(y - py) < 0.01 * y_span for px, py in placed)
            placed.append((x, y))
            axis.annotate(
                label,
                (x, y),
                xytext=(5, 4 - 11 * near),
                textcoords="offset points",
                fontsize=8,
                fontweight=weight,
            )
    axis.axvline(GOAL_ENERGY_PERCENT_OF_OPTIMUM, color="black", linestyle="--", linewidth=1)
    axis.annotate(
        f"goal: {GOAL_ENERGY_PERCENT_OF_OPTIMUM:g} % of the optimum",
        (GOAL_ENERGY_PERCENT_OF_OPTIMUM, axis.get_ylim()[0]),
        xytext=(-4, 6),
        textcoords="offset points",
        rotation=90,
        ha="right",
        fontsize=8,
    )
    axis.set_xlabel("energy delivered, % of the hindsight optimum's (all scenarios)")
    axis.set_ylabel("energy cost, USD (all scenarios)")
    axis.set_title(
        "Depot scheduling on real ACN weeks: more energy is right, less cost is lower\n"
        "(diagnostic rows left out; uncontrolled charging breaks the limit)",
        fontsize=10,
    )
    axis.legend(loc="upper left", fontsize=9)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(workers: int | None = None, *, out_dir: Path = OUT_DIR) -> int:
    started = time.perf_counter()

    def progress(line: str) -> None:
        print(f"{time.perf_counter() - started:7.1f}s {line}", file=sys.stderr, flush=True)

    workers = workers or os.cpu_count() or 1
    progress(f"replaying {len(default_scenarios())} scenarios in {workers} process(es)")
    report = evaluate(default_scenarios(), progress, workers=workers)
    document = write_report(report, "laddvakt eval schedule", out_dir)
    print(render(document))
    return 0


def render(document: dict[str, Any]) -> str:
    lines = [
        f"{'algorithm':<40} {'departures':>10} {'% of requested':>14} {'% of optimum':>12} {'violations':>10} "
        f"{'peak kW':>8} {'cost USD':>9} {'ms/reschedule':>13}"
    ]
    for name, row in document["summary"].items():
        lines.append(
            f"{name:<40} {row['departures']:>10} {row['delivered_percent_of_requested']:>14.2f} "
            f"{row['delivered_percent_of_optimum']:>12.2f} {row['violations']:>10} {row['peak_kw_max']:>8.1f} "
            f"{row['cost_usd']:>9.2f} {row['runtime_ms_mean']:>13.1f}"
        )
    for told, goal in document["goals"].items():
        cheaper = ", ".join(
            f"{'cheaper' if c['cheaper_in_total'] else 'NOT cheaper'} than {other} ({c['cost_usd']:.2f} USD)"
            for other, c in goal["cheaper_than"].items()
        )
        lines.append(
            f"departures {told}: {goal['algorithm']} delivers {goal['energy_percent_of_optimum']:.2f} % of the "
            f"optimum's energy (goal >= {GOAL_ENERGY_PERCENT_OF_OPTIMUM}: {'met' if goal['energy_goal_met'] else 'NOT met'}), "
            f"{goal['violations']} violations; {cheaper}"
        )
    return "\n".join(lines)
