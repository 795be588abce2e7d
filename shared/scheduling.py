"""Depot scheduling live: for one site with a grid limit, the vehicles plugged in become a
`SiteProblem`, `plan_site` plans it, the plan is stored over the version it was computed from,
and each connector whose limits changed gets an OCPP SetChargingProfile on `{chargePointId}/out`.

What triggers a recompute (arrival, departure, charging needs, a charger's answer) arrives from
the tables' change streams; a sweep every minute catches what no change announces: profiles
nobody answered, retries that are due, and meter drift. A connector whose charger refused its
profile counts at its full power outside the plan (`SiteProblem.uncontrolled_kw`), so the site
limit holds whatever that charger does; it keeps its place in the plan so the retry has a
profile to send (a conservative double reservation until the charger accepts).

The plan holds capacity back for the site's vehicles that usually arrive later (the arrival
reserve, `shared.domain.arrival_reserve`, learnt from the site's stays of the last
`SITE_HISTORY_DAYS`), from the next hour on and never in the current one: a vehicle that must
charge now is never starved by vehicles that may come. The sweep replans a site when an hour
with capacity held begins, so the hour in which the plan runs is always free of the reserve.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.adapters.change_streams import session_head
from shared.adapters.charger_link import ChargerLink
from shared.adapters.registry_table import RegistryTable
from shared.adapters.sessions_table import SessionsTable
from shared.adapters.site_schedules import COMMAND_KIND, SiteSchedules, command_of
from shared.domain import ocpp_framing as framing
from shared.domain import smart_charging as smart
from shared.domain.arrival_reserve import learn_arrival_reserve, reserve_steps
from shared.domain.departure import DepartureQuery, SiteHabits, estimate_departure
from shared.domain.errors import ScheduleConflict, SiteNotFound
from shared.domain.ports import ChargerLinkPort
from shared.domain.price_curve import energy_price_curve
from shared.domain.scheduling import (
    ChargingDemand,
    ConnectorPlan,
    PowerStep,
    PricePeriod,
    SiteProblem,
    plan_site,
)
from shared.domain.tariff_choice import tariff_id_for, version_in_force
from shared.domain.vehicle_profile import past_visits
from shared.models.ocpi import Tariff
from shared.models.profiles import LiveContext
from shared.models.registry import Charger, ChargingNeeds, Site, Vehicle
from shared.models.scheduling import (
    ConnectorInput,
    PendingCommand,
    ProfileState,
    StoredConnectorPlan,
    StoredSchedule,
    StoredStep,
)
from shared.models.sessions import Session, SessionStatus
from shared.settings import ScheduleSiteSettings

log = logging.getLogger(__name__)

# Connector states in which something draws (or may draw at once) power.
_DRAWING = {"Charging", "SuspendedEV", "SuspendedEVSE", "Occupied"}
# Recomputes of one site that lost the race to another before giving up (the stream retries).
_CONFLICT_RETRIES = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


def price_periods_for(
    site: Site, now: datetime, until: datetime, versions: Callable[[str], list[Tariff]]
) -> tuple[tuple[PricePeriod, ...], str | None]:
    """The site's energy price (excluding VAT) from now until `until`: what its own fleet pays
    there per kWh, from the tariff version in force now. A flat price is one period; an OCPI
    tariff's time-of-use restrictions (read in the site's zone, DST included) become a period
    wherever the price changes. A site without a price is planned without prices (cost None)."""
    if site.tariff is not None:
        return (PricePeriod(now, site.tariff.energy_price_per_kwh),), site.tariff.currency
    tariff_id = tariff_id_for(site, None, site.fleet_id)
    if tariff_id is None:
        return (), None
    tariff = version_in_force(versions(tariff_id), now)
    return energy_price_curve(
        tariff, ZoneInfo(site.time_zone), now, max(until, now + smart.PLAN_STEP)
    ), tariff.currency


@dataclass(frozen=True)
class Recompute:
    site_id: str
    trigger: str


class SchedulingService:
    def __init__(
        self,
        registry: RegistryTable,
        sessions: SessionsTable,
        schedules: SiteSchedules,
        link: ChargerLinkPort,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._registry = registry
        self._sessions = sessions
        self._schedules = schedules
        self._link = link
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: ScheduleSiteSettings) -> SchedulingService:
        return cls(
            # Short cache: a grid limit or a vehicle changed by an admin counts within seconds.
            RegistryTable(settings.registry_table, cache_seconds=5.0),
            SessionsTable(settings.sessions_table),
            SiteSchedules(settings.registry_table),
            ChargerLink(settings.iot_data_endpoint),
        )

    # --- triggers ------------------------------------------------------------------------------

    def triggered_by(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Recompute]:
        """Which sites one table change asks to recompute, and why."""
        before, after = session_head(old), session_head(new)
        if after is not None and before is None and after.status is SessionStatus.ACTIVE:
            return [Recompute(after.site_id, f"arrival of {after.session_id}")]
        if (
            before is not None
            and before.status is SessionStatus.ACTIVE
            and (after is None or after.status is not SessionStatus.ACTIVE)
        ):
            return [Recompute(before.site_id, f"departure of {before.session_id}")]
        image = new or old or {}
        kind = image.get("kind")
        if kind == "vehicle_charging_needs":
            return [
                Recompute(s.site_id, f"charging needs of {s.vehicle_id}")
                for s in self._sessions.active_for_fleet(str(image["fleet_id"]))
                if s.vehicle_id == image["vehicle_id"]
            ]
        if kind == "charging_needs":  # the EV's own, from OCPP 2.0.1 NotifyEVChargingNeeds
            placement = self._registry.placement(str(image["charge_point_id"]))
            return [] if placement is None else [Recompute(placement.site.id, "the EV's charging needs")]
        if kind == COMMAND_KIND and new is not None and new.get("status") in ("accepted", "rejected"):
            command = command_of(dict(new))
            return [Recompute(command.site_id, f"{command.charge_point_id} answered {command.status}")]
        return []

    def sweep(self) -> list[StoredSchedule]:
        """Once a minute: recompute the sites where a profile went unanswered, a retry is due, or
        delivered energy drifted off the plan."""
        now = self._clock()
        done = []
        by_fleet: dict[str, dict[str, Session]] = {}
        for schedule in self._schedules.every():
            if schedule.fleet_id not in by_fleet:
                by_fleet[schedule.fleet_id] = {
                    s.session_id: s for s in self._sessions.active_for_fleet(schedule.fleet_id)
                }
            trigger = self._due(schedule, by_fleet[schedule.fleet_id], now)
            if trigger is not None:
                stored = self.reschedule(schedule.site_id, trigger)
                if stored is not None:
                    done.append(stored)
        return done

    @staticmethod
    def _due(schedule: StoredSchedule, active: Mapping[str, Session], now: datetime) -> str | None:
        for plan in schedule.connectors:
            profile = plan.profile
            if (
                profile.status == "pending"
                and profile.sent_at
                and now - profile.sent_at >= smart.ANSWER_TIMEOUT
            ):
                return f"{plan.charge_point_id} did not answer"
            if profile.status == "rejected" and profile.next_retry_at and now >= profile.next_retry_at:
                return f"retry of {plan.charge_point_id}"
            session = active.get(plan.session_id)
            if session is None:
                return f"{plan.session_id} is no longer active"
            # Drift is judged up to the latest register reading: between two meter frames the
            # delivered energy stands still while the plan's allowance grows.
            read_at = session.latest_register_at
            if profile.status == "accepted" and read_at is not None and read_at > schedule.computed_at:
                steps = tuple(PowerStep(s.starts_at, s.limit_kw) for s in plan.steps)
                allowed = smart.allowed_kwh(steps, schedule.computed_at, read_at)
                delivered = session.energy_so_far_wh / 1000 - plan.delivered_at_plan_kwh
                if smart.drifted(allowed, delivered):
                    return f"meter drift at {plan.charge_point_id} ({delivered:.2f} of {allowed:.2f} kWh)"
        # An hour with capacity held for later arrivals has begun: it is the current hour now,
        # which the reserve leaves free, so plan it again with what is known.
        if any(schedule.computed_at < s.starts_at <= now and s.limit_kw > 0 for s in schedule.reserved):
            return "an hour with capacity held for later arrivals began"
        return None

    # --- one site --------------------------------------------------------------------------------

    def reschedule(self, site_id: str, trigger: str) -> StoredSchedule | None:
        """Plan the site again, store the plan and send the profiles that changed. None when the
        site has no grid limit (nothing to keep under) or no longer exists."""
        for _ in range(_CONFLICT_RETRIES):
            try:
                return self._reschedule_once(site_id, trigger)
            except ScheduleConflict:
                log.info("schedule of %s changed meanwhile; recomputing", site_id)
        raise ScheduleConflict(
            f"the schedule of {site_id} kept changing during {_CONFLICT_RETRIES} recomputes"
        )

    def _reschedule_once(self, site_id: str, trigger: str) -> StoredSchedule | None:
        try:
            site = self._registry.site(site_id)
        except SiteNotFound:
            return None
        if site.grid_limit_kw is None:
            return None
        now = self._clock()
        previous = self._schedules.get(site_id)
        earlier = {c.session_id: c for c in previous.connectors} if previous else {}
        inventory = self._registry.fleet_inventory(site.fleet_id)
        chargers = {c.id: c for c in inventory.chargers if c.site_id == site_id}
        vehicles = {v.id: v for v in inventory.vehicles}
        sessions = [
            s
            for s in self._sessions.active_for_fleet(site.fleet_id)
            if s.site_id == site_id and s.charge_point_id in chargers
        ]
        profiles = {s.session_id: self._settled(earlier.get(s.session_id), s, now) for s in sessions}
        # The vehicles' past visits and the site's recent stays, for the departure estimates: one
        # batched read of what the workflow's profile step keeps, not a query per vehicle.
        learned = (
            self._registry.live_context(
                (s.vehicle_id for s in sessions if s.vehicle_id), (), (site.id,), stay_energy=True
            )
            if sessions
            else LiveContext()
        )
        inputs = {
            s.session_id: self._input(s, chargers[s.charge_point_id], vehicles, site, learned, now)
            for s in sessions
        }
        refused = [s for s in sessions if _uncontrolled(profiles[s.session_id])]
        steered = [s for s in sessions if not _uncontrolled(profiles[s.session_id])]
        # A refused connector is load, not a demand: it may draw its full power, which the others
        # share what is left around; planning it as well would reserve its power twice.
        uncontrolled_kw = sum(
            (inputs[s.session_id].max_power_kw for s in refused), Decimal(0)
        ) + self._unknown_load(inventory.connectors, chargers, sessions)
        prices, currency = price_periods_for(
            site,
            now,
            max((i.departure_at for i in inputs.values()), default=now),
            self._registry.tariff_versions,
        )
        problem = SiteProblem(
            site_id=site_id,
            now=now,
            step=smart.PLAN_STEP,
            limit_kw=site.grid_limit_kw,
            prices=prices,
            demands=tuple(
                ChargingDemand(
                    session_id=s.session_id,
                    charge_point_id=s.charge_point_id,
                    connector_id=s.connector_id,
                    energy_needed_kwh=inputs[s.session_id].energy_needed_kwh,
                    departure_at=inputs[s.session_id].departure_at,
                    max_power_kw=inputs[s.session_id].max_power_kw,
                )
                for s in steered
            ),
            uncontrolled_kw=uncontrolled_kw,
            reserved_kw=self._arrival_reserve(learned, site, chargers, now),
            departure_margin=smart.DEPARTURE_MARGIN,
        )
        plan = plan_site(problem)
        by_session = {s.session_id: s for s in sessions}
        to_send: list[tuple[StoredConnectorPlan, str]] = []
        connectors = []
        at_full_power = tuple(_at_full_power(s, inputs[s.session_id], now) for s in refused)
        for planned in (*plan.connectors, *at_full_power):
            session = by_session[planned.session_id]
            profile = profiles[planned.session_id]
            steps = tuple(StoredStep(starts_at=s.starts_at, limit_kw=s.limit_kw) for s in planned.steps)
            if _should_send(profile, planned.steps, now):
                message_id = uuid.uuid4().hex
                profile = profile.model_copy(
                    update={
                        "status": "pending",
                        "message_id": message_id,
                        "sent_at": now,
                        "answered_at": None,
                        "next_retry_at": None,
                        "sent_steps": steps,
                    }
                )
            stored = StoredConnectorPlan(
                session_id=planned.session_id,
                charge_point_id=planned.charge_point_id,
                connector_id=planned.connector_id,
                transaction_id=session.transaction_id,
                ocpp_version="2.0.1" if session.ocpp_version == "2.0.1" else "1.6",
                steps=steps,
                planned_kwh=planned.planned_kwh,
                unmet_kwh=planned.unmet_kwh,
                delivered_at_plan_kwh=session.energy_so_far_wh / 1000,
                inputs=inputs[planned.session_id],
                profile=profile,
                uncontrolled=_uncontrolled(profile),
            )
            connectors.append(stored)
            if profile.sent_at == now and profile.message_id is not None:
                to_send.append((stored, profile.message_id))
        schedule = StoredSchedule(
            site_id=site_id,
            fleet_id=site.fleet_id,
            version=(previous.version + 1) if previous else 1,
            computed_at=now,
            trigger=trigger,
            limit_kw=site.grid_limit_kw,
            step_minutes=int(smart.PLAN_STEP / timedelta(minutes=1)),
            peak_kw=plan.peak_kw + uncontrolled_kw,
            cost=plan.cost,
            currency=currency if plan.cost is not None else None,
            uncontrolled_kw=uncontrolled_kw,
            reserved=_held_until(problem.reserved_kw, plan.ends_at),
            connectors=tuple(connectors),
        )
        # Stored before anything is sent: a charger's answer always finds its command and plan.
        self._schedules.put(schedule)
        for stored, message_id in to_send:
            self._send(site_id, stored, chargers[stored.charge_point_id], message_id, now)
        log.info(
            "site %s planned (%s): %d connectors, %d profiles sent, peak %s kW of %s kW",
            site_id, trigger, len(connectors), len(to_send), schedule.peak_kw, site.grid_limit_kw,
        )  # fmt: skip
        return schedule

    def _settled(self, earlier: StoredConnectorPlan | None, session: Session, now: datetime) -> ProfileState:
        """The connector's profile state with the charger's answer (or silence) taken in."""
        if earlier is None:
            return ProfileState()
        profile = earlier.profile
        if profile.status != "pending" or profile.message_id is None:
            return profile
        command = self._schedules.command(session.charge_point_id, profile.message_id)
        if command is not None and command.status == "accepted":
            return profile.model_copy(
                update={
                    "status": "accepted",
                    "answered_at": command.answered_at,
                    "attempts": 0,
                    "reason": None,
                }
            )
        if command is not None and command.status == "rejected":
            return refused(profile, command.reason or "rejected", command.answered_at or now)
        if profile.sent_at is not None and now - profile.sent_at >= smart.ANSWER_TIMEOUT:
            return refused(profile, f"no answer within {smart.ANSWER_TIMEOUT.seconds} s", now)
        return profile

    def _input(
        self,
        session: Session,
        charger: Charger,
        vehicles: Mapping[str, Vehicle],
        site: Site,
        learned: LiveContext,
        now: datetime,
    ) -> ConnectorInput:
        vehicle = vehicles.get(session.vehicle_id or "")
        needs: ChargingNeeds | None = (
            self._registry.charging_needs(vehicle.id) if vehicle is not None else None
        )
        ev_needs = self._schedules.ev_charging_needs(
            session.charge_point_id, session.connector_id, session.started_at
        )
        delivered = session.energy_so_far_wh / 1000
        target_energy = needs.target_energy_kwh if needs is not None else None
        if target_energy is None and ev_needs.energy_kwh is not None:
            target_energy = delivered + ev_needs.energy_kwh
        energy = smart.energy_needed_kwh(
            delivered_kwh=delivered,
            target_energy_kwh=target_energy,
            target_soc_percent=(
                (needs.target_soc_percent if needs is not None else None)
                or (vehicle.default_target_soc_percent if vehicle is not None else None)
            ),
            soc_percent=session.latest_soc_percent,
            battery_kwh=vehicle.battery_kwh if vehicle is not None else None,
        )
        declared = needs.departure_at if needs is not None else ev_needs.departure_at
        estimate = None
        if declared is None and (vehicle is None or vehicle.usual_departure is None):
            estimate = estimate_departure(
                DepartureQuery(
                    plugged_in_at=session.started_at,
                    now=now,
                    time_zone=site.time_zone,
                    site_id=site.id,
                    history=past_visits(learned.profiles.get(session.vehicle_id or "")),
                    site_habits=self._site_habits(learned, site, session),
                )
            )
        departure = smart.departure_at(
            now=now,
            declared_at=declared,
            usual_departure=vehicle.usual_departure if vehicle is not None else None,
            time_zone=site.time_zone,
            estimate=estimate,
        )
        connector_kw = charger.connector_power_kw(session.connector_id)
        vehicle_kw = None
        if vehicle is not None:
            vehicle_kw = vehicle.max_ac_kw if smart.rate_unit(connector_kw) == "A" else vehicle.max_dc_kw
        return ConnectorInput(
            energy_needed_kwh=energy.value,
            energy_basis=energy.basis,
            departure_at=departure.value,
            departure_basis=departure.basis,
            max_power_kw=min(connector_kw, vehicle_kw) if vehicle_kw is not None else connector_kw,
            vehicle_id=session.vehicle_id,
        )

    @staticmethod
    def _site_habits(learned: LiveContext, site: Site, session: Session) -> SiteHabits | None:
        """The site's recent stays (its own fleet's), for its own fleet's sessions only."""
        stays = learned.site_stays.get(site.id)
        if stays is None or stays.fleet_id != site.fleet_id or session.fleet_id != site.fleet_id:
            return None
        return learned.site_habits(site.id, site.time_zone)

    @staticmethod
    def _arrival_reserve(
        learned: LiveContext, site: Site, chargers: Mapping[str, Charger], now: datetime
    ) -> tuple[PowerStep, ...]:
        """Capacity to hold back for the site's own fleet's vehicles that usually arrive later,
        from its recent stays whose energy is known. Each stay's average power is capped at the
        site's largest outlet: no real stay averages more than the connector it used, so the cap
        only keeps a mistimed record (seconds long, with a session's energy) from counting as a
        huge load."""
        stays = learned.site_stays.get(site.id)
        if stays is None or stays.fleet_id != site.fleet_id or not chargers:
            return ()
        largest = max(c.connector_power_kw(0) for c in chargers.values())
        reserve = learn_arrival_reserve(stays.past_stays(), site.time_zone, max_power_kw=largest)
        return reserve_steps(reserve, now)

    @staticmethod
    def _unknown_load(
        connectors: Iterable[Any], chargers: Mapping[str, Charger], sessions: list[Session]
    ) -> Decimal:
        """Connectors of the site drawing power for a session Laddvakt cannot plan (another
        fleet's driver): their full power, so the limit holds anyway."""
        known = {(s.charge_point_id, s.connector_id) for s in sessions}
        return sum(
            (
                chargers[c.charge_point_id].connector_power_kw(c.connector_id)
                for c in connectors
                if c.charge_point_id in chargers
                and c.connector_id > 0
                and c.status in _DRAWING
                and (c.charge_point_id, c.connector_id) not in known
            ),
            Decimal(0),
        )

    def _send(
        self, site_id: str, plan: StoredConnectorPlan, charger: Charger, message_id: str, now: datetime
    ) -> None:
        frame = profile_frame(plan, charger, message_id, now)
        self._schedules.record_command(
            PendingCommand(
                charge_point_id=plan.charge_point_id,
                message_id=message_id,
                site_id=site_id,
                session_id=plan.session_id,
                connector_id=plan.connector_id,
                sent_at=now,
            )
        )
        self._link.send(plan.charge_point_id, frame)


def profile_frame(plan: StoredConnectorPlan, charger: Charger, message_id: str, now: datetime) -> str:
    """The SetChargingProfile Call for one connector's plan, checked against the official schema
    before it leaves (a bug here must show in our logs, not as a charger's FormationViolation)."""
    steps = tuple(PowerStep(s.starts_at, s.limit_kw) for s in plan.steps)
    unit = smart.rate_unit(charger.connector_power_kw(plan.connector_id))
    profile_id = smart.profile_id_for(plan.session_id)
    if plan.ocpp_version == "2.0.1":
        payload = smart.ocpp201_set_charging_profile(
            evse_id=plan.connector_id,
            transaction_id=plan.transaction_id,
            profile_id=profile_id,
            steps=steps,
            start=now,
            unit=unit,
        )
    else:
        payload = smart.ocpp16_set_charging_profile(
            connector_id=plan.connector_id,
            transaction_id=int(plan.transaction_id),
            profile_id=profile_id,
            steps=steps,
            start=now,
            unit=unit,
        )
    problem = framing.schema_problem(
        framing.CALL, "SetChargingProfile", payload, plan.ocpp_version, message_id
    )
    if problem is not None:
        raise ValueError(f"Laddvakt built an invalid SetChargingProfile: {problem.reason}")
    return framing.call(message_id, "SetChargingProfile", payload)


def refused(profile: ProfileState, reason: str, at: datetime) -> ProfileState:
    """A refusal (Rejected, a CallError, silence): counted, and the next try scheduled with
    backoff until the attempts run out."""
    attempts = profile.attempts + 1
    delay = smart.retry_delay(attempts)
    return profile.model_copy(
        update={
            "status": "rejected",
            "answered_at": at,
            "attempts": attempts,
            "reason": reason if delay is not None else f"{reason}; gave up after {attempts} attempts",
            "next_retry_at": at + delay if delay is not None else None,
        }
    )


def _at_full_power(session: Session, needs: ConnectorInput, now: datetime) -> ConnectorPlan:
    """What a connector whose charger refused its profile is expected to do: draw its full power
    until its need is met or it leaves. A retry sends it that limit (harmless to a charger that
    then accepts); its acceptance replans the site with the connector steered again."""
    hours = max(Decimal(0), Decimal((needs.departure_at - now) / timedelta(hours=1)))
    planned = min(needs.energy_needed_kwh, needs.max_power_kw * hours).quantize(Decimal("0.001"))
    return ConnectorPlan(
        session_id=session.session_id,
        charge_point_id=session.charge_point_id,
        connector_id=session.connector_id,
        steps=(PowerStep(now, needs.max_power_kw),),
        planned_kwh=planned,
        unmet_kwh=(needs.energy_needed_kwh - planned).quantize(Decimal("0.001")),
        note="the charger refused its profile: counted at its full power",
    )


def _held_until(reserved: tuple[PowerStep, ...], ends_at: datetime | None) -> tuple[StoredStep, ...]:
    """The reserve as the plan used it: its steps up to the plan's end, each a change of value."""
    held: list[StoredStep] = []
    for step in reserved:
        if ends_at is None or step.starts_at >= ends_at:
            break
        if not held or held[-1].limit_kw != step.limit_kw:
            held.append(StoredStep(starts_at=step.starts_at, limit_kw=step.limit_kw))
    return tuple(held)


def _uncontrolled(profile: ProfileState) -> bool:
    """Refused at least once and not accepted since: the charger may draw its full power."""
    return profile.attempts > 0 and profile.status != "accepted"


def _should_send(profile: ProfileState, steps: tuple[PowerStep, ...], now: datetime) -> bool:
    if profile.status == "rejected":
        return profile.next_retry_at is not None and now >= profile.next_retry_at
    sent = tuple(PowerStep(s.starts_at, s.limit_kw) for s in profile.sent_steps)
    return not sent or smart.limits_changed(sent, steps, now)
