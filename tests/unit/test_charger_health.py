"""The charger health rules: when a charger is offline, what its faults are, and its uptime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.charger_health import (
    Availability,
    Outage,
    StatusEvent,
    current_faults,
    fault_history,
    is_online,
    offline_periods,
    outage_between,
    uptime,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
INTERVAL = 300  # seconds: offline after 2 × 300 s + 60 s = 11 minutes


def status(connector: int, value: str, hours: float, error: str = "NoError", **extra: str) -> StatusEvent:
    return StatusEvent(connector, value, error, T0 + hours * HOUR, **extra)  # type: ignore[arg-type]


def test_a_charger_is_online_until_two_heartbeats_and_the_grace_are_missed():
    seen = T0
    assert is_online(seen, seen + timedelta(minutes=11), INTERVAL)
    assert not is_online(seen, seen + timedelta(minutes=11, seconds=1), INTERVAL)
    assert not is_online(None, seen, INTERVAL)


def test_a_frame_after_a_long_silence_ends_an_outage_from_the_last_frame_before_it():
    assert outage_between(T0, T0 + timedelta(minutes=11), INTERVAL) is None
    assert outage_between(T0, T0 + HOUR, INTERVAL) == Outage(T0, T0 + HOUR)
    assert outage_between(None, T0, INTERVAL) is None


def test_a_charger_offline_now_has_an_open_outage_until_now():
    recorded = [Outage(T0, T0 + HOUR)]
    assert offline_periods(recorded, T0 + 2 * HOUR, T0 + 3 * HOUR, INTERVAL) == [
        Outage(T0, T0 + HOUR),
        Outage(T0 + 2 * HOUR, T0 + 3 * HOUR),
    ]
    assert offline_periods(recorded, T0 + 3 * HOUR, T0 + 3 * HOUR, INTERVAL) == recorded


def test_current_faults_are_faulted_connectors_and_error_codes_but_not_unavailable():
    latest = [
        status(0, "Available", 0),
        status(1, "Faulted", 1, "GroundFailure", vendor_error_code="E42", info="RCD tripped"),
        status(2, "Charging", 2, "HighTemperature"),
        status(3, "Unavailable", 2),
    ]
    assert [(f.connector_id, f.error_code, f.vendor_error_code) for f in current_faults(latest)] == [
        (1, "GroundFailure", "E42"),
        (2, "HighTemperature", None),
    ]


def test_fault_history_has_one_entry_per_problem_run_with_its_end_or_open():
    events = [
        status(1, "Available", 0),
        status(1, "Faulted", 1, "GroundFailure"),
        status(1, "Faulted", 1.5, "GroundFailure"),  # repeated: the same run
        status(1, "Available", 2),
        status(2, "Unavailable", 3),
    ]
    history = fault_history(events, T0, T0 + 10 * HOUR)
    assert [(e.connector_id, e.status, e.error_code, e.start, e.end, e.down) for e in history] == [
        (1, "Faulted", "GroundFailure", T0 + HOUR, T0 + 2 * HOUR, True),
        (2, "Unavailable", "NoError", T0 + 3 * HOUR, None, True),
    ]
    # A fault that ended before the period is not in it; one that began before it and lasts is
    assert [e.connector_id for e in fault_history(events, T0 + 2 * HOUR, T0 + 10 * HOUR)] == [2]


def test_uptime_counts_down_only_when_the_whole_charger_or_every_outlet_cannot_charge():
    # Given a two-outlet charger over ten hours
    events = [
        status(1, "Available", -1),
        status(2, "Available", -1),
        status(1, "Faulted", 1, "GroundFailure"),  # one outlet down: the other still charges
        status(2, "Charging", 2),  # in use is up
        status(2, "Unavailable", 3),  # now both are down: 3 h → 4 h
        status(1, "Available", 4),
        status(0, "Faulted", 6, "PowerSwitchFailure"),  # the whole charger: 6 h → 7 h
        status(0, "Available", 7),
        status(1, "SuspendedEVSE", 8),  # waiting for power is up
    ]
    result = uptime(events, [Outage(T0 + 9 * HOUR, T0 + 9.5 * HOUR)], [1, 2], T0, T0 + 10 * HOUR)
    # Then 2.5 of 10 hours were down
    assert result == Availability(up=7.5 * HOUR, total=10 * HOUR)
    assert result.percent == Decimal("75.00")


def test_uptime_is_rounded_down_so_it_never_claims_a_target_it_missed():
    result = Availability(up=timedelta(seconds=96_999), total=timedelta(seconds=100_000))
    assert result.percent == Decimal("96.99")
    assert Availability(up=timedelta(0), total=timedelta(0)).percent is None


def test_an_outlet_that_never_reported_keeps_the_charger_up():
    events = [status(1, "Faulted", 0, "OtherError")]
    assert uptime(events, [], [1, 2], T0, T0 + HOUR).percent == Decimal("100.00")
    assert uptime(events, [], [1], T0, T0 + HOUR).percent == Decimal("0.00")


def test_2_0_1_faulted_and_unavailable_evses_count_like_1_6_connectors():
    events = [status(1, "Faulted", 0, "Faulted"), status(1, "Available", 0.5)]
    assert uptime(events, [], [1], T0, T0 + HOUR).percent == Decimal("50.00")
