"""Both estimates of an active session, from the records around it: when its battery reaches its
target (`shared.domain.charge_complete`) and when its vehicle unplugs (`shared.domain.departure`).

Gathers what each estimate rests on: the target (the fleet's charging needs, else what the EV
asked for in 2.0.1 NotifyEVChargingNeeds, else the vehicle's default), the battery size, the
connector's and the car's power limits, the vehicle's profile (taper fit, past visits) and any
declared departure. No AWS here: the caller reads the records (in batches) and hands them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.charge_complete import (
    ChargeCompleteEstimate,
    ChargeCompleteQuery,
    TaperModel,
    estimate_charge_complete,
    vehicle_class,
)
from shared.domain.departure import DepartureEstimate, DepartureQuery, estimate_departure
from shared.domain.vehicle_profile import past_visits, taper_of
from shared.models.api import ChargeCompleteView, DepartureView
from shared.models.profiles import EvChargingNeeds, LiveContext
from shared.models.registry import Charger, ChargingNeeds, Site, Vehicle
from shared.models.sessions import MeterSample, Session

_KILO = Decimal(1000)
# NotifyEVChargingNeeds may come a little before the transaction starts (the EV talks first).
_EV_NEEDS_LEAD = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionEstimates:
    charge_complete: ChargeCompleteEstimate
    departure: DepartureEstimate | None
    # What was declared (charging needs, the EV, the usual departure): an input of the estimate.
    declared_departure_at: datetime | None = None

    def charge_complete_view(self) -> ChargeCompleteView:
        c = self.charge_complete
        return ChargeCompleteView(
            at=c.at,
            done=c.done,
            confidence=c.confidence,
            basis=c.basis,
            missing=list(c.missing),
            remaining_kwh=c.remaining_kwh,
        )

    def departure_view(self) -> DepartureView | None:
        d = self.departure
        if d is None:
            return None
        return DepartureView(
            p10_at=d.p10_at,
            p50_at=d.p50_at,
            p90_at=d.p90_at,
            basis=d.basis,
            confidence=d.confidence,
            declared_departure_at=self.declared_departure_at,
        )

    @property
    def estimated_end_at(self) -> datetime | None:
        """The charge-complete time while the car charges toward it (the old `estimated_end_at`)."""
        return None if self.charge_complete.done else self.charge_complete.at


def _fleet_needs(needs: ChargingNeeds | None, session: Session) -> ChargingNeeds | None:
    """The fleet's charging needs, when they are for this session (their departure after plug-in)."""
    return needs if needs is not None and needs.departure_at > session.started_at else None


def _ev_needs(ev: EvChargingNeeds | None, session: Session) -> dict[str, Any]:
    if ev is None or session.ocpp_version != "2.0.1" or ev.at < session.started_at - _EV_NEEDS_LEAD:
        return {}
    return ev.needs


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _usual_departure(vehicle: Vehicle | None, session: Session, zone: str) -> datetime | None:
    """The vehicle's usual departure ("07:30" local) next after plug-in."""
    if vehicle is None or vehicle.usual_departure is None:
        return None
    local = session.started_at.astimezone(ZoneInfo(zone))
    hour, minute = (int(part) for part in vehicle.usual_departure.split(":"))
    at = datetime.combine(local.date(), time(hour, minute), tzinfo=local.tzinfo)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=local.tzinfo)
    return at


def estimates_for(
    session: Session,
    *,
    now: datetime,
    vehicle: Vehicle | None,
    charger: Charger | None,
    site: Site | None,
    context: LiveContext,
    connector_status: str | None = None,
    connector_status_at: datetime | None = None,
    samples: Sequence[MeterSample] = (),
) -> SessionEstimates:
    vehicle_id = session.vehicle_id or ""
    profile = context.profiles.get(vehicle_id)
    needs = _fleet_needs(context.needs.get(vehicle_id), session)
    ev = _ev_needs(context.ev_needs.get((session.charge_point_id, session.connector_id)), session)
    dc_needs = ev.get("dcChargingParameters") or {}
    ac_needs = ev.get("acChargingParameters") or {}
    connector_kw = charger.connector_power_kw(session.connector_id) if charger else None
    cls = vehicle_class(connector_kw)

    target_soc, target_energy, source = _target(vehicle, needs, ev)
    battery = vehicle.battery_kwh if vehicle and vehicle.battery_kwh else None
    if battery is None and dc_needs.get("evEnergyCapacity") is not None:
        battery = Decimal(str(dc_needs["evEnergyCapacity"])) / _KILO
    vehicle_max = None
    if vehicle is not None:
        vehicle_max = vehicle.max_dc_kw if cls == "dc" else vehicle.max_ac_kw
    if vehicle_max is None and dc_needs.get("evMaxPower") is not None:
        vehicle_max = Decimal(str(dc_needs["evMaxPower"])) / _KILO
    taper = taper_of(profile, cls)
    if taper is None and dc_needs.get("bulkSoC") is not None:
        # The EV's own word on where its fast phase ends.
        taper = TaperModel(float(dc_needs["bulkSoC"]), "dc")

    charge_complete = estimate_charge_complete(
        ChargeCompleteQuery(
            now=now,
            plugged_in_at=session.started_at,
            energy_delivered_kwh=session.energy_so_far_wh / _KILO,
            power_w=session.latest_power_w,
            power_at=session.latest_power_at or session.latest_sample_at,
            soc_percent=session.latest_soc_percent,
            soc_at=session.latest_soc_at,
            charging_state=session.latest_charging_state,
            charging_state_at=session.latest_charging_state_at,
            connector_status=connector_status,
            connector_status_at=connector_status_at,
            battery_kwh=battery,
            target_soc_percent=target_soc,
            target_energy_kwh=target_energy,
            target_source=source,
            connector_kw=connector_kw,
            vehicle_max_kw=vehicle_max,
            taper=taper,
            samples=tuple(samples),
        )
    )
    zone = site.time_zone if site else "Europe/Stockholm"
    declared = (
        needs.departure_at
        if needs
        else _ev_departure(ev, session) or _usual_departure(vehicle, session, zone)
    )
    requested = charge_complete.remaining_kwh
    if requested is not None:
        requested += session.energy_so_far_wh / _KILO
    elif target_energy is not None:
        requested = target_energy
    elif ac_needs.get("energyAmount") is not None:
        requested = Decimal(str(ac_needs["energyAmount"])) / _KILO
    departure = estimate_departure(
        DepartureQuery(
            plugged_in_at=session.started_at,
            now=now,
            time_zone=zone,
            site_id=session.site_id,
            declared_departure_at=declared,
            requested_energy_kwh=requested,
            history=past_visits(profile),
            site_habits=context.site_habits(session.site_id, zone)
            if _stays_of_fleet(context, session)
            else None,
        )
    )
    return SessionEstimates(charge_complete, departure, declared)


def _target(
    vehicle: Vehicle | None, needs: ChargingNeeds | None, ev: dict[str, Any]
) -> tuple[Decimal | None, Decimal | None, str]:
    """(target SoC, energy to add, where they come from)."""
    if needs is not None and (needs.target_soc_percent is not None or needs.target_energy_kwh is not None):
        return needs.target_soc_percent, needs.target_energy_kwh, "charging needs"
    dc = ev.get("dcChargingParameters") or {}
    ac = ev.get("acChargingParameters") or {}
    if dc.get("fullSoC") is not None:
        return _decimal(dc["fullSoC"]), None, "the car's charging needs"
    amount = dc.get("energyAmount", ac.get("energyAmount"))
    if amount is not None and (vehicle is None or vehicle.battery_kwh is None):
        return None, Decimal(str(amount)) / _KILO, "the car's charging needs"
    if vehicle is not None:
        return vehicle.default_target_soc_percent, None, "the vehicle's default"
    return None, None, "none known"


def _ev_departure(ev: dict[str, Any], session: Session) -> datetime | None:
    text = ev.get("departureTime")
    if not text:
        return None
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None  # the frame was kept as sent; a date that does not parse declares nothing
    if at.tzinfo is None:
        return None
    return at if at > session.started_at else None


def _stays_of_fleet(context: LiveContext, session: Session) -> bool:
    """A site's stays serve the sessions of the fleet they belong to, never another's."""
    stays = context.site_stays.get(session.site_id)
    return stays is not None and stays.fleet_id == session.fleet_id
