"""Uptime as a fleet's maintenance planner relies on it, for any history of statuses and outages:
a share between 0 and 100, the same however the period is cut or the frames arrived, and never
improved by more trouble."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.charger_health import Outage, StatusEvent, fault_history, uptime

pytestmark = pytest.mark.property

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = 10_000  # minutes
STATUSES = ["Available", "Charging", "SuspendedEVSE", "Preparing", "Faulted", "Unavailable"]
OUTLETS = [1, 2]


def _at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


events = st.lists(
    st.builds(
        lambda connector, value, error, minute: StatusEvent(connector, value, error, _at(minute)),
        st.sampled_from([0, 1, 2]),
        st.sampled_from(STATUSES),
        st.sampled_from(["NoError", "GroundFailure", "HighTemperature"]),
        st.integers(-500, SPAN + 500),
    ),
    max_size=40,
)
outages = st.lists(
    st.builds(
        lambda start, length: Outage(_at(start), _at(start + length)),
        st.integers(-500, SPAN),
        st.integers(1, 2_000),
    ),
    max_size=5,
)
cut = st.integers(0, SPAN)


@settings(max_examples=200, deadline=None)
@given(events, outages)
def test_uptime_is_a_share_between_0_and_100(history, gaps):
    result = uptime(history, gaps, OUTLETS, _at(0), _at(SPAN))
    assert result.percent is not None and 0 <= result.percent <= 100
    assert result.total == timedelta(minutes=SPAN)


@settings(max_examples=200, deadline=None)
@given(events, outages, cut, cut)
def test_cutting_a_period_in_two_and_adding_the_parts_gives_the_whole(history, gaps, a, b):
    first, middle = sorted((a, b))
    whole = uptime(history, gaps, OUTLETS, _at(first), _at(SPAN))
    left = uptime(history, gaps, OUTLETS, _at(first), _at(middle))
    right = uptime(history, gaps, OUTLETS, _at(middle), _at(SPAN))
    assert left.up + right.up == whole.up
    assert left.total + right.total == whole.total


@settings(max_examples=200, deadline=None)
@given(events, outages, st.randoms(use_true_random=False))
def test_the_order_frames_arrived_in_and_repeats_change_nothing(history, gaps, rnd: random.Random):
    shuffled = history + history[: len(history) // 2]
    rnd.shuffle(shuffled)
    assert uptime(shuffled, gaps, OUTLETS, _at(0), _at(SPAN)) == uptime(
        history, gaps, OUTLETS, _at(0), _at(SPAN)
    )
    assert fault_history(shuffled, _at(0), _at(SPAN)) == fault_history(history, _at(0), _at(SPAN))


@settings(max_examples=200, deadline=None)
@given(events, outages, outages)
def test_another_outage_never_raises_uptime(history, gaps, more):
    before = uptime(history, gaps, OUTLETS, _at(0), _at(SPAN))
    after = uptime(history, gaps + more, OUTLETS, _at(0), _at(SPAN))
    assert after.up <= before.up


@settings(max_examples=200, deadline=None)
@given(events, outages, st.integers(0, SPAN), st.sampled_from([0, 1, 2]))
def test_a_connector_faulting_never_raises_uptime(history, gaps, minute, connector):
    before = uptime(history, gaps, OUTLETS, _at(0), _at(SPAN))
    fault = StatusEvent(connector, "Faulted", "OtherError", _at(minute))
    # the fault lasts until whatever that connector reported next, so it only takes time away
    after = uptime([*history, fault], gaps, OUTLETS, _at(0), _at(SPAN))
    assert after.up <= before.up
