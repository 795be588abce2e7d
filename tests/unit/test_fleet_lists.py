"""How a session list's filters read: a date is a whole day where the fleet is (however long that
day is), a date-time with an offset is exact, and a range that runs backwards is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.adapters.sessions_table import SessionListing
from shared.fleet_lists import FleetLists
from shared.models.fleet_lists import SessionFilters
from shared.models.sessions import SessionStatus

pytestmark = pytest.mark.unit


class Sites:
    def __init__(self, *zones: str) -> None:
        self.zones = set(zones)
        self.asked = 0

    def site_time_zones(self, fleet_id: str) -> set[str]:
        self.asked += 1
        return self.zones


class Listings:
    """Keeps the listing it was asked for, and has no sessions."""

    listing: SessionListing

    def page(self, listing: SessionListing, limit: int, after: Any = None) -> tuple[list[Any], None]:
        self.listing = listing
        return [], None


def listing_for(sites: Sites, **filters: Any) -> SessionListing:
    sessions = Listings()
    FleetLists(sites, sessions).sessions("f1", SessionFilters(**filters))  # type: ignore[arg-type]
    return sessions.listing


def test_a_date_is_the_whole_day_in_the_fleets_time_zone_even_the_day_clocks_go_back():
    # Given a fleet in Stockholm, When it asks for 25 October 2026 (25 hours: summer time ends)
    listing = listing_for(Sites("Europe/Stockholm"), started_from="2026-10-25", started_to="2026-10-25")
    # Then the range is local midnight to the last millisecond before the next local midnight
    assert listing.bounds() == ("2026-10-24T22:00:00.000+00:00", "2026-10-25T22:59:59.999+00:00")


def test_a_date_time_with_an_offset_is_exact_and_needs_no_look_up():
    sites = Sites("Europe/Stockholm")
    listing = listing_for(sites, started_from="2026-10-01T06:00:00+02:00", started_to="2026-10-01T05:00:00Z")
    assert listing.bounds() == ("2026-10-01T04:00:00.000+00:00", "2026-10-01T05:00:00.000+00:00")
    assert sites.asked == 0


def test_days_are_utc_days_for_a_fleet_whose_sites_are_in_several_zones():
    listing = listing_for(Sites("Europe/Stockholm", "Europe/London"), started_from=date(2026, 3, 1))
    assert listing.bounds() == ("2026-03-01T00:00:00.000+00:00", None)


def test_filters_pick_the_most_selective_index_and_filter_the_rest():
    listing = listing_for(Sites(), vehicle_id="v1", charge_point_id="cp1", status="held")
    assert listing.index() == ("by_vehicle_started", "fleet_vehicle", "f1#v1")
    assert listing.statuses == {SessionStatus.HELD}
    assert listing_for(Sites(), charge_point_id="cp1").index() == (
        "by_charger_started",
        "fleet_charger",
        "f1#cp1",
    )
    assert listing_for(Sites(), driver_id="d1").index() == ("by_fleet_started", "fleet_id", "f1")


def test_a_range_that_becomes_empty_in_the_fleets_zone_reads_nothing():
    # Given `to` with an offset that, read against `from` in Stockholm, is before it
    sessions = Listings()
    page = FleetLists(Sites("Europe/Stockholm"), sessions).sessions(  # type: ignore[arg-type]
        "f1", SessionFilters(started_from="2026-10-01", started_to=datetime(2026, 9, 30, 21, 30, tzinfo=UTC))
    )
    assert page.sessions == [] and not hasattr(sessions, "listing")


@pytest.mark.parametrize(
    ("started_from", "started_to"),
    [
        ("2026-10-02", "2026-10-01"),
        ("2026-10-01T12:00:00Z", "2026-10-01T11:59:59Z"),
        ("2026-10-02T00:30:00", "2026-10-01"),
    ],
)
def test_a_range_that_runs_backwards_is_refused(started_from, started_to):
    with pytest.raises(ValidationError, match="`from` is after `to`"):
        SessionFilters(started_from=started_from, started_to=started_to)


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "0001-01-01", "9999-12-31", "10/01/2026"])
def test_a_start_that_is_no_date_or_out_of_range_is_refused(value):
    with pytest.raises(ValidationError):
        SessionFilters(started_from=value)


def test_a_date_and_the_same_days_times_are_in_order():
    filters = SessionFilters(started_from="2026-10-01", started_to="2026-10-01T23:00:00")
    assert filters.started_from == date(2026, 10, 1)
    assert filters.started_to.isoformat() == "2026-10-01T23:00:00"  # read in the fleet's zone later
