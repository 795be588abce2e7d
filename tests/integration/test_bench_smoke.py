"""`make bench`'s end-to-end path, checked for correctness only (how fast it is, is the bench's
business): MeterValues from registered chargers over MQTT are each answered with a CallResult
and end as their session's latest register, one Call at a time and pipelined.
"""

from __future__ import annotations

import pytest

from laddvakt.bench import bench_end_to_end, run_isolated

pytestmark = pytest.mark.e2e


def test_every_bench_frame_is_answered_and_its_register_recorded():
    # Given two chargers with an open session each, on a fresh local stack in its own interpreter
    # (the session's e2e stack and the integration tests' moto world share this one)
    # When each sends 10 MeterValues one at a time, then 10 more with 4 outstanding
    result = run_isolated(bench_end_to_end, frames=20, chargers=2, window=4)

    # Then every frame got a CallResult and every session's latest register is the last one sent
    assert result["problems"] == []
    assert result["one_at_a_time"]["call_results"] == result["frames_per_mode"] == 20
    assert result["pipelined"]["call_results"] == 20
