"""Whatever a session head goes through, a fleet hears one start and at most one end.

Random lifecycles of one head, as its stream shows them: meter samples at any power (some late,
after the stop), the stop or an inferred end, billing moving it through closing, held, released,
invoiced and reopened for a correction, bookkeeping-only writes, and the same image delivered
again. Each change (image before, image after) goes through the real rule. Then:
- exactly one SessionStarted and at most one SessionEnded, the start first;
- Idle and Charging only between them, alternating (no two Idle in a row);
- every event belongs to the session's own fleet, and different facts never share an id;
- a change read again (a retried batch) means exactly the same events.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.fleet_events import session_events
from shared.models.events import FleetEvent, SessionCharging, SessionEnded, SessionIdle, SessionStarted
from shared.models.sessions import Session, SessionStatus

pytestmark = pytest.mark.property

START = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
Op = Callable[[Session], Session]

ACTIVE, CLOSING, HELD, INVOICED = (SessionStatus.ACTIVE, SessionStatus.CLOSING, SessionStatus.HELD,
                                   SessionStatus.INVOICED)  # fmt: skip


def sample(watts: int, minutes: int) -> Op:
    def apply(s: Session) -> Session:
        if s.status is not ACTIVE:  # ingest refuses samples for a session billing has taken
            return s
        at = max(s.latest_power_at or START, START) + timedelta(minutes=minutes)
        register = (s.latest_register_wh or s.meter_start_wh or Decimal(0)) + Decimal(watts) * minutes / 60
        return s.model_copy(
            update={"latest_power_w": Decimal(watts), "latest_power_at": at, "latest_sample_at": at,
                    "latest_register_wh": register, "latest_register_at": at}
        )  # fmt: skip

    return apply


def stop(inferred: bool) -> Op:
    def apply(s: Session) -> Session:
        if s.ended_at is not None or s.status is not ACTIVE:
            return s
        at = (s.latest_sample_at or START) + timedelta(minutes=1)
        return s.model_copy(
            update={"ended_at": at, "meter_stop_wh": s.latest_register_wh, "end_inferred": inferred}
        )

    return apply


def move(allowed: set[SessionStatus], to: SessionStatus, needs_end: bool = False) -> Op:
    def apply(s: Session) -> Session:
        if s.status not in allowed or (needs_end and s.ended_at is None):
            return s
        return s.model_copy(update={"status": to})

    return apply


def bookkeeping(seq_no: int) -> Op:
    return lambda s: s.model_copy(update={"seq_nos": s.seq_nos | {seq_no}})


def replay(s: Session) -> Session:
    return s


OPS = st.one_of(
    st.builds(sample, st.sampled_from([0, 40, 99, 100, 101, 3_700, 11_000]), st.integers(0, 30)),
    st.builds(stop, st.booleans()),
    st.just(move({ACTIVE, CLOSING}, CLOSING, needs_end=True)),  # mark_closing
    st.just(move({ACTIVE, CLOSING, HELD}, HELD)),  # mark_held
    st.just(move({HELD}, CLOSING)),  # release
    st.just(move({CLOSING}, INVOICED)),  # mark_invoiced
    st.just(move({INVOICED}, CLOSING)),  # reopen_for_correction
    st.builds(bookkeeping, st.integers(0, 50)),
    st.just(replay),
)


def fresh() -> Session:
    return Session(
        session_id="CP-1:7", transaction_id="7", charge_point_id="CP-1", connector_id=1, id_tag="TAG",
        fleet_id="nordvind", site_id="uppsala", started_at=START, meter_start_wh=Decimal(500_000),
    )  # fmt: skip


def lifecycle_events(ops: list[Op]) -> list[list[FleetEvent]]:
    """The events of each change, in stream order (the insert first)."""
    changes = [session_events(None, fresh())]
    state = fresh()
    for op in ops:
        after = op(state)
        changes.append(session_events(state, after))
        state = after
    return changes


@given(st.lists(OPS, max_size=40))
def test_one_start_at_most_one_end_and_idle_only_in_between(ops):
    events = [e for change in lifecycle_events(ops) for e in change]

    kinds = [type(e) for e in events]
    assert kinds.count(SessionStarted) == 1 and kinds[0] is SessionStarted
    assert kinds.count(SessionEnded) <= 1
    if SessionEnded in kinds:
        assert kinds.index(SessionEnded) == len(kinds) - 1, "nothing after the end"
    power = [k for k in kinds if k in (SessionIdle, SessionCharging)]
    assert all(a is not b for a, b in itertools.pairwise(power)), "idle and charging alternate"
    assert {e.fleet_id for e in events} == {"nordvind"}
    assert len({e.event_id for e in events}) == len(events), "different facts never share an id"


@given(st.lists(OPS, max_size=40))
def test_a_retried_change_announces_the_same_events_again(ops):
    # Lambda retries a failed batch: each change is read again and must mean exactly the same
    assert lifecycle_events(ops) == lifecycle_events(ops)
