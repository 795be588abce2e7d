"""A vehicle's profile after one more closed session: the visit added (plug-in and unplug
times), its taper points kept when it sent SoC, and the taper refit. Pure and idempotent: a
session the profile already holds changes nothing, so a workflow retry writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain.charge_complete import TaperModel, TaperPoint, VehicleClass, fit_taper, taper_points
from shared.domain.departure import SITE_HISTORY_DAYS, PastVisit
from shared.models.profiles import (
    MAX_SITE_STAYS,
    MAX_TAPER_SESSIONS,
    MAX_VISITS,
    SiteStays,
    Stay,
    TaperSession,
    VehicleProfile,
    Visit,
)
from shared.models.sessions import Session


def with_session(
    profile: VehicleProfile | None, session: Session, cls: VehicleClass, now: datetime
) -> VehicleProfile | None:
    """The profile with `session` (closed, with its samples) in it; None when it is in already or
    the session has no vehicle or no end."""
    if session.vehicle_id is None or session.ended_at is None:
        return None
    if profile is not None and profile.knows(session.session_id):
        return None
    base = profile or VehicleProfile(vehicle_id=session.vehicle_id, fleet_id=session.fleet_id)
    visit = Visit(
        session_id=session.session_id,
        site_id=session.site_id,
        driver_id=session.driver_id,
        plugged_in_at=session.started_at,
        unplugged_at=session.ended_at,
        energy_kwh=session.energy_so_far_wh / 1000,
    )
    visits = sorted([*base.visits, visit], key=lambda v: v.plugged_in_at)[-MAX_VISITS:]
    tapers = list(base.taper_sessions)
    points = taper_points(session.samples)
    if points:
        tapers.append(
            TaperSession(
                session_id=session.session_id,
                vehicle_class=cls,
                points=[(p.soc_percent, p.power_fraction) for p in points],
            )
        )
        tapers = tapers[-MAX_TAPER_SESSIONS:]
    knees, fitted = dict(base.taper_knees), dict(base.taper_fit_sessions)
    if points:
        model = fit_taper(
            [[TaperPoint(soc, f) for soc, f in t.points] for t in tapers if t.vehicle_class == cls], cls
        )
        if model.sessions:
            knees[cls], fitted[cls] = model.knee_soc_percent, model.sessions
    return base.model_copy(
        update={
            "fleet_id": session.fleet_id,
            "visits": visits,
            "taper_sessions": tapers,
            "taper_knees": knees,
            "taper_fit_sessions": fitted,
            "updated_at": now,
            "version": base.version + 1,
        }
    )


def taper_of(profile: VehicleProfile | None, cls: VehicleClass) -> TaperModel | None:
    """The vehicle's own taper for this class of charger, when fit; None: use the class default."""
    if profile is None or cls not in profile.taper_knees:
        return None
    return TaperModel(profile.taper_knees[cls], cls, profile.taper_fit_sessions.get(cls, 0))


def past_visits(profile: VehicleProfile | None) -> tuple[PastVisit, ...]:
    if profile is None:
        return ()
    return tuple(PastVisit(v.plugged_in_at, v.unplugged_at) for v in profile.visits)


def site_stays_with(stays: SiteStays | None, session: Session, now: datetime) -> SiteStays | None:
    """The site's recent stays with `session`'s in them, those older than `SITE_HISTORY_DAYS` (by
    plug-in, against `now`) and beyond `MAX_SITE_STAYS` dropped; None when it is in already or
    the session has no end. Every session counts, with a vehicle or without, with the energy it
    delivered (what the arrival reserve learns from)."""
    if session.ended_at is None:
        return None
    if stays is not None and stays.knows(session.session_id):
        return None
    base = stays or SiteStays(site_id=session.site_id, fleet_id=session.fleet_id)
    stay = Stay(
        session.session_id,
        int(session.started_at.timestamp()),
        (session.ended_at - session.started_at) // timedelta(seconds=1),
        session.energy_so_far_wh / 1000,
    )
    oldest = int((now - timedelta(days=SITE_HISTORY_DAYS)).timestamp())
    kept = sorted(
        (s for s in [*base.stays, stay] if s.plugged_in_s >= oldest),
        key=lambda s: (s.plugged_in_s, s.session_id),
    )[-MAX_SITE_STAYS:]
    return base.model_copy(update={"stays": kept, "updated_at": now, "version": base.version + 1})
