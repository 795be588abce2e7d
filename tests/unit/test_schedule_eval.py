"""`laddvakt eval schedule` on one short replay: every algorithm runs on the same day, the report
says what was run and how, and the numbers hang together (no violation but uncontrolled, nothing
above the hindsight optimum but uncontrolled)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from laddvakt.schedule_eval import ALGORITHMS, ESTIMATE_RULES, Scenario, evaluate, write_report

pytestmark = pytest.mark.unit


def test_one_day_replay_reports_every_algorithm_against_the_optimum(tmp_path: Path):
    # Given one Tuesday at Caltech with a 30 kW limit
    lines: list[str] = []
    report = evaluate([Scenario("caltech", 30.0, date(2019, 9, 10), days=1)], lines.append)
    # When the report is written
    document = write_report(report, "pytest", tmp_path)
    # Then progress was shown for every algorithm, and both files are there
    assert len(lines) == len(ALGORITHMS)
    assert (tmp_path / "schedule.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "schedule.json").read_text()) == json.loads(json.dumps(document))
    # And it says what was run and how
    assert {
        "date",
        "command",
        "git_commit",
        "weeks",
        "limits",
        "tariff",
        "information",
        "departure_estimate",
        "departure_rule",
    } <= document.keys()
    assert document["weeks"] == ["2019-09-10"] and document["limits"] == [
        {"site": "caltech", "limit_kw": 30.0}
    ]
    (scenario,) = document["scenarios"]
    assert scenario["sessions"] > 20
    rows = {row["algorithm"]: row for row in scenario["algorithms"]}
    assert set(rows) == set(ALGORITHMS) == set(document["summary"])
    # And only uncontrolled charging breaks the limit, or delivers more than the optimum
    for name, row in rows.items():
        if name != "uncontrolled":
            assert row["violations"] == 0, name
            assert row["peak_kw"] <= 30.0 + 1e-6, name
            assert row["delivered_percent_of_optimum"] <= 100.0 + 1e-6, name
        assert row["energy_delivered_kwh"] <= row["energy_requested_kwh"] + 1e-6, name
    assert rows["uncontrolled"]["violations"] > 0
    # And Laddvakt's planner was timed on every reschedule
    assert rows["laddvakt"]["reschedules"] > 200 and rows["laddvakt"]["runtime_ms_mean"] > 0
    # And every departure-estimate rule ran, and the one chosen is the best of them by energy
    rule = document["departure_rule"]
    assert set(rule["tried"]) == set(ESTIMATE_RULES) <= set(rows)
    assert "not held out" in rule["how"]
    best = max(document["summary"][name]["delivered_percent_of_optimum"] for name in ESTIMATE_RULES)
    assert document["summary"][rule["chosen"]]["delivered_percent_of_optimum"] == best
    for name in ESTIMATE_RULES:
        assert rows[name]["reschedules"] > 200, name
