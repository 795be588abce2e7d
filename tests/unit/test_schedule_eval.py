"""`laddvakt eval schedule` on one short replay: every algorithm runs on the same day, the report
says what was run and how, and the numbers hang together (no violation but uncontrolled, nothing
above the hindsight optimum but uncontrolled)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from laddvakt import schedule_eval
from laddvakt.schedule_eval import (
    ALGORITHMS,
    ESTIMATE_RULES,
    GOAL_ENERGY_PERCENT_OF_OPTIMUM,
    Scenario,
    evaluate,
    write_report,
)

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
    assert (tmp_path / "schedule-tradeoff.png").stat().st_size > 10_000
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
        "goals",
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
    # And each row says what it was told of departures; the acnportal algorithms and Laddvakt ran
    # both ways, and the goals are checked for each from the rows themselves
    assert rows["laddvakt"]["departures"] == "declared"
    assert rows["lp_optimum"]["departures"] == "known"
    for name in ("laddvakt", "earliest_deadline_first", "least_laxity_first", "round_robin"):
        assert rows[f"{name}_known_departures"]["departures"] == "known", name
    summary = document["summary"]
    for told, goal in document["goals"].items():
        row = summary[goal["algorithm"]]
        assert row["departures"] == told
        assert goal["energy_goal_met"] == (
            row["delivered_percent_of_optimum"] >= GOAL_ENERGY_PERCENT_OF_OPTIMUM
        )
        for other, check in goal["cheaper_than"].items():
            assert summary[other]["departures"] == told
            assert check["cheaper_in_total"] == (row["cost_usd"] < summary[other]["cost_usd"])
    # And told the real departures, the acnportal algorithms lose nothing against the declared ones
    assert (
        rows["earliest_deadline_first_known_departures"]["energy_delivered_kwh"]
        >= rows["earliest_deadline_first"]["energy_delivered_kwh"] - 1e-6
    )


def test_weeks_replayed_in_parallel_give_the_same_report_in_the_same_order(monkeypatch: pytest.MonkeyPatch):
    # Given two one-day scenarios (two weeks to the runner), and a short list of algorithms
    monkeypatch.setattr(
        schedule_eval,
        "ALGORITHMS",
        ("uncontrolled", "earliest_deadline_first_known_departures", "lp_optimum"),
    )
    scenarios = [
        Scenario("caltech", 30.0, date(2019, 9, 11), days=1),
        Scenario("caltech", 30.0, date(2019, 9, 10), days=1),
    ]
    # When they are replayed in one process and in two
    alone = evaluate(scenarios)
    together = evaluate(scenarios, workers=2)

    # Then the reports agree (but for the time each call took), scenario by scenario in the given order
    def numbers(report: dict) -> list:
        return [
            (
                r["week_start"],
                [{k: v for k, v in a.items() if not k.startswith("runtime")} for a in r["algorithms"]],
            )
            for r in report["scenarios"]
        ]

    assert [day for day, _ in numbers(together)] == ["2019-09-11", "2019-09-10"]
    assert numbers(together) == numbers(alone)
