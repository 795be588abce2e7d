"""`laddvakt eval departure` end to end on a small slice of TRAIN and TUNE (never the sealed 2021
files): it trains, exports, measures ours next to both baselines, and writes its JSON and chart."""

from __future__ import annotations

import json

import pytest

from laddvakt import departure_eval
from laddvakt.acn_data import SealedData

pytestmark = pytest.mark.integration
POINTS = {"0", "1", "2", "4", "6"}
METRICS = {"mae_min", "median_abs_error_min", "p90_abs_error_min", "p10_p90_coverage"}


def test_the_evaluation_reports_ours_and_both_baselines_at_every_point(tmp_path, monkeypatch):
    # Given the sealed 2021 files cannot be read by accident
    def sealed(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise SealedData("not in a smoke test")

    original_load = departure_eval.load
    monkeypatch.setattr(
        departure_eval, "load", lambda p, final=False: sealed() if p.sealed else original_load(p, final=final)
    )
    model = tmp_path / "model.json"

    # When the pipeline runs on the first 400 sessions of each period, TUNE only
    report = departure_eval.run(limit=400, model_out=model, docs=tmp_path, drift=False, command="smoke")

    # Then it says when, how and on what it ran
    assert report["command"] == "smoke" and report["final"] is False
    assert report["periods"]["final"] == "sealed, not read"
    assert report["counts"]["train caltech 2019-05-01..2019-08-31"] == 400
    # And each direction has ours and both baselines at plug-in and after 1, 2, 4 and 6 h
    for direction in ("caltech->caltech", "caltech->jpl"):
        points = report["results"][direction]["tune"]
        assert set(points) == POINTS
        for point in points.values():
            assert point["sessions"] > 0
            for name in (
                "ours",
                "ours_with_site_history",
                "ours_with_recent_site_history",
                "global_median",
                "site_weekend_hour_median",
            ):
                assert set(point[name]) == METRICS
                assert 0 <= point[name]["p10_p90_coverage"] <= 1
        # Only sessions still plugged in count after h hours
        assert [points[h]["sessions"] for h in ("0", "1", "2", "4", "6")] == sorted(
            (points[h]["sessions"] for h in ("0", "1", "2", "4", "6")), reverse=True
        )
    # And the export agrees with LightGBM, the reference figures are there, the files are written
    assert report["model"]["export_max_abs_difference"] == 0.0
    assert report["reference_lightgbm_plug_in_features_2021_caltech_mae_min"]["0"] == 146.0
    assert json.loads((tmp_path / "departure.json").read_text())["results"] == report["results"]
    assert (tmp_path / "departure.png").stat().st_size > 10_000
    assert json.loads(model.read_text())["trained_sessions"] == 400
