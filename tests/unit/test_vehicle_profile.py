"""A vehicle's profile after each closed session: one visit per session however often the step
runs, a bounded history, and the taper refit from the sessions that show it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from shared.domain.departure import SITE_HISTORY_DAYS, PastVisit
from shared.domain.vehicle_profile import past_visits, site_stays_with, taper_of, with_session
from shared.models.profiles import MAX_SITE_STAYS, MAX_TAPER_SESSIONS, MAX_VISITS, SiteStays, Stay
from shared.models.sessions import MeterSample, Session

START = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)


def closed(n: int, *, soc: bool = True, vehicle: str | None = "van-1") -> Session:
    started = START + timedelta(days=n)
    samples = [
        MeterSample(
            timestamp=started + timedelta(minutes=30 * i),
            energy_wh=D(1000 * i),
            power_w=D(11000) if level <= 80 else D(11000 * (100 - level) // 20),
            soc_percent=D(level) if soc else None,
        )
        for i, level in enumerate((30, 50, 70, 80, 90, 95))
    ]
    return Session(
        session_id=f"cp:{n}", transaction_id=str(n), charge_point_id="cp", connector_id=1, id_tag="T",
        fleet_id="f", site_id="depot", vehicle_id=vehicle, started_at=started,
        ended_at=started + timedelta(hours=10), meter_start_wh=D(0), meter_stop_wh=D(5000), samples=samples,
    )  # fmt: skip


def test_a_session_is_added_once_however_often_the_step_runs():
    profile = with_session(None, closed(1), "ac", START)
    assert profile is not None and profile.version == 1
    assert with_session(profile, closed(1), "ac", START) is None
    assert past_visits(profile) == (
        PastVisit(START + timedelta(days=1), START + timedelta(days=1, hours=10)),
    )


def test_a_session_without_a_vehicle_or_an_end_teaches_nothing():
    assert with_session(None, closed(1, vehicle=None), "ac", START) is None
    assert with_session(None, closed(1).model_copy(update={"ended_at": None}), "ac", START) is None


def test_the_history_keeps_the_latest_visits_and_taper_sessions_only():
    profile = None
    for n in range(MAX_VISITS + 5):
        profile = with_session(profile, closed(n), "ac", START) or profile
    assert profile is not None
    assert len(profile.visits) == MAX_VISITS and profile.visits[0].session_id == "cp:5"
    assert len(profile.taper_sessions) == MAX_TAPER_SESSIONS
    # And its taper is fit from them, near where its power starts falling
    taper = taper_of(profile, "ac")
    assert (
        taper is not None and taper.sessions == MAX_TAPER_SESSIONS and abs(taper.knee_soc_percent - 80) <= 2
    )
    # but a DC charger still gets the DC default until DC sessions show it
    assert taper_of(profile, "dc") is None


def test_sessions_without_soc_add_visits_but_no_taper():
    profile = None
    for n in range(4):
        profile = with_session(profile, closed(n, soc=False), "ac", START)
    assert profile is not None and len(profile.visits) == 4
    assert profile.taper_sessions == [] and taper_of(profile, "ac") is None


def test_every_closed_session_joins_its_sites_recent_stays_once():
    # Given a site's stays after one session, with or without a vehicle
    stays = site_stays_with(None, closed(1, vehicle=None), START + timedelta(days=2))
    assert stays is not None and stays.version == 1
    assert stays.stays == [("cp:1", int((START + timedelta(days=1)).timestamp()), 10 * 3600, D(5))]
    # When the step runs again for it, nothing changes; a session still open teaches nothing
    assert site_stays_with(stays, closed(1), START + timedelta(days=2)) is None
    assert site_stays_with(stays, closed(2).model_copy(update={"ended_at": None}), START) is None


def test_a_stay_keeps_its_energy_as_a_decimal_string_and_older_stays_read_as_unknown():
    # Given a site's stays after one 5 kWh session
    stays = site_stays_with(None, closed(1), START + timedelta(days=2))
    assert stays is not None
    # Then the stored document keeps the energy as a string, never a float
    start = int((START + timedelta(days=1)).timestamp())
    assert json.loads(stays.model_dump_json())["stays"] == [["cp:1", start, 10 * 3600, "5"]]
    # And the arrival reserve learns from it, plug-in to unplug
    (learnt,) = stays.past_stays()
    assert (learnt.plugged_in_at, learnt.unplugged_at) == (
        START + timedelta(days=1),
        START + timedelta(days=1, hours=10),
    )
    assert learnt.energy_kwh == D(5)
    # When a document written before the energy was kept is read (three elements a stay)
    old = SiteStays.model_validate_json(
        json.dumps(
            {"site_id": "depot", "fleet_id": "f", "stays": [["old", start - 86400, 3600]], "version": 3}
        )
    )
    # Then its stay reads as energy unknown: still a stay for the departure estimate, not for the reserve
    assert old.stays == [Stay("old", start - 86400, 3600, None)]
    assert old.past_stays() == []
    newer = site_stays_with(old, closed(1), START + timedelta(days=2))
    assert newer is not None and [s.energy_kwh for s in newer.stays] == [None, D(5)]
    assert len(newer.past_stays()) == 1


def test_a_sites_stays_keep_the_recent_window_and_a_bounded_count():
    now = START + timedelta(days=SITE_HISTORY_DAYS + 10)
    stays = None
    for n in range(SITE_HISTORY_DAYS + 10):
        stays = site_stays_with(stays, closed(n), now) or stays
    assert stays is not None
    oldest = min(s.plugged_in_s for s in stays.stays)
    assert oldest >= int((now - timedelta(days=SITE_HISTORY_DAYS)).timestamp())
    crowded = stays.model_copy(
        update={"stays": [Stay(f"x{i}", int(now.timestamp()), 60, D(1)) for i in range(MAX_SITE_STAYS)]}
    )
    after = site_stays_with(crowded, closed(SITE_HISTORY_DAYS + 9), now + timedelta(days=1))
    assert after is not None and len(after.stays) == MAX_SITE_STAYS
