"""`laddvakt eval departure`: train the departure estimate on real ACN-Data sessions, choose its
hyperparameters, export it to plain JSON trees, and measure it next to baselines from the same run.

Protocol (docs/eval/departure.md): train on Caltech 2019-05..08 (TRAIN), choose hyperparameters on
Caltech 2019-09..12 (TUNE), report TUNE and 2020 (DRIFT) for Caltech→Caltech and Caltech→JPL, and
the sealed 2021 files (FINAL) only with `--final`. Unclaimed sessions come with their request
fields masked (laddvakt/acn_data.py).

The time still to stay after h hours plugged in is learned from rows taken at several elapsed
times of each session still plugged in then, with the elapsed time as a feature: each row is a
sample of "still here after h, how much longer?", so the model conditions on being present.

Needs the dev dependencies (lightgbm, numpy, matplotlib); the shipped model needs none of them.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import lightgbm as lgb
import numpy as np

from laddvakt.acn_data import DRIFT, FINAL, PERIODS, SITE_ZONE, TRAIN, TUNE, AcnSession, AcnSite, Period, load
from laddvakt.site_history import RecentStays
from shared.domain.departure import (
    FEATURES,
    MIN_BLEND_VISITS,
    MODEL_PATH,
    QUANTILES,
    SITE_PRIOR_VISITS,
    DepartureModel,
    PastVisit,
    SiteHabits,
    blend,
    model_inputs,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "eval"
ALPHAS = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
# Elapsed times (minutes) at which training rows are taken from every session still plugged in.
TRAIN_ELAPSED = (0, 15, 30, 60, 90, 120, 180, 240, 300, 360, 420, 480, 600, 720, 900)
# The evaluation's points: at plug-in and after 1, 2, 4 and 6 hours plugged in.
EVAL_HOURS = (0, 1, 2, 4, 6)
# The yardstick: LightGBM with plug-in features only, 2021 Caltech, MAE in minutes.
REFERENCE_MAE = {"0": 146.0, "1": 143.0, "2": 129.0, "4": 107.0, "6": 88.0}
GRID = tuple(
    {"num_leaves": leaves, "min_child_samples": child, "learning_rate": 0.05}
    for leaves in (15, 31)
    for child in (50, 200)
)
MAX_TREES = 600
SEED = 6
# A site × weekend × hour cell needs this many sessions before its median is trusted.
MIN_CELL = 10


def _progress(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Visit:
    """An ACN session as the evaluation sees it: local plug-in time, stay and request, in minutes."""

    site: AcnSite
    arrival_local: datetime
    stay_minutes: float
    declared_minutes: float | None
    requested_kwh: float | None

    def row(self, elapsed: float) -> list[float]:
        return model_inputs(self.arrival_local, elapsed, self.declared_minutes, self.requested_kwh)

    def past(self) -> PastVisit:
        return PastVisit(*self.past_stay())

    def past_stay(self) -> tuple[datetime, datetime]:
        return self.arrival_local, self.arrival_local + timedelta(minutes=self.stay_minutes)


def visits(sessions: Iterable[AcnSession]) -> list[Visit]:
    zone = ZoneInfo(SITE_ZONE)
    out = []
    for s in sessions:
        stay = (s.departure - s.arrival).total_seconds() / 60
        if stay <= 0:
            continue
        declared = (
            (s.declared_departure - s.arrival).total_seconds() / 60
            if s.declared_departure is not None
            else None
        )
        out.append(Visit(s.site, s.arrival.astimezone(zone), stay, declared, s.requested_energy_kwh))
    return out


def rows(sample: Sequence[Visit], elapsed_grid: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and minutes still to stay, for each visit still plugged in at each elapsed time."""
    x, y = [], []
    for elapsed in elapsed_grid:
        for v in sample:
            if v.stay_minutes > elapsed:
                x.append(v.row(elapsed))
                y.append(v.stay_minutes - elapsed)
    return np.asarray(x, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(y, dtype=np.float64)


def _params(config: dict[str, Any], alpha: float) -> dict[str, Any]:
    return {
        "objective": "quantile",
        "alpha": alpha,
        "num_leaves": config["num_leaves"],
        "min_child_samples": config["min_child_samples"],
        "learning_rate": config["learning_rate"],
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "seed": SEED,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,  # small data: threads only wait on each other (and a shared machine)
        "verbose": -1,
    }


def _pinball(y: np.ndarray, q: np.ndarray, alpha: float) -> float:
    diff = y - q
    return float(np.mean(np.maximum(alpha * diff, (alpha - 1) * diff)))


@dataclass
class Trained:
    boosters: dict[str, lgb.Booster]
    chosen: dict[str, dict[str, Any]] = field(default_factory=dict)


def train(train_set: Sequence[Visit], tune_set: Sequence[Visit]) -> Trained:
    """One quantile model per quantile; each quantile's hyperparameters and tree count are the ones
    with the least pinball loss (in minutes) on TUNE at the evaluation's elapsed times."""
    x_train, y_train = rows(train_set, TRAIN_ELAPSED)
    x_tune, y_tune = rows(tune_set, [h * 60 for h in EVAL_HOURS])
    trained = Trained({})
    for q, alpha in ALPHAS.items():
        best: tuple[float, lgb.Booster, dict[str, Any]] | None = None
        for config in GRID:
            _progress(f"training {q} with {config} on {len(y_train)} rows")
            booster = lgb.train(
                _params(config, alpha),
                lgb.Dataset(x_train, np.log1p(y_train), free_raw_data=False),
                num_boost_round=MAX_TREES,
                valid_sets=[lgb.Dataset(x_tune, np.log1p(y_tune))],
                callbacks=[lgb.early_stopping(50, verbose=False)],
            )
            trees = booster.best_iteration or MAX_TREES
            loss = _pinball(y_tune, np.expm1(booster.predict(x_tune, num_iteration=trees)), alpha)
            if best is None or loss < best[0]:
                best = (loss, booster, {**config, "trees": trees, "tune_pinball_minutes": round(loss, 2)})
        assert best is not None
        loss, booster, chosen = best
        # Keep only the chosen trees, so the export and the booster are the same model.
        trimmed = lgb.Booster(model_str=booster.model_to_string(num_iteration=chosen["trees"]))
        trained.boosters[q] = trimmed
        trained.chosen[q] = chosen
    return trained


def refit(train_set: Sequence[Visit], chosen: dict[str, dict[str, Any]]) -> Trained:
    """The same models again from the hyperparameters and tree counts a model file records:
    training is deterministic, so this reproduces the shipped trees."""
    x_train, y_train = rows(train_set, TRAIN_ELAPSED)
    boosters = {
        q: lgb.train(
            _params(chosen[q], ALPHAS[q]),
            lgb.Dataset(x_train, np.log1p(y_train)),
            num_boost_round=chosen[q]["trees"],
        )
        for q in QUANTILES
    }
    return Trained(boosters, chosen)


def export(trained: Trained, sessions: int, description: str) -> dict[str, Any]:
    """The plain-data model `shared/domain/departure.py` walks: LightGBM's `dump_model()` trees as
    parallel arrays (feature, threshold, flags, children, leaf values)."""
    return {
        "format": 1,
        "description": description,
        "trained_sessions": sessions,
        "features": list(FEATURES),
        "target": "log1p(minutes still to stay)",
        "hyperparameters": trained.chosen,
        "quantiles": {
            q: [_tree(t["tree_structure"]) for t in trained.boosters[q].dump_model()["tree_info"]]
            for q in QUANTILES
        },
    }


def _tree(root: dict[str, Any]) -> dict[str, list[Any]]:
    arrays: dict[str, list[Any]] = {"f": [], "t": [], "d": [], "l": [], "r": [], "v": []}
    if "leaf_value" in root:
        arrays["v"].append(root["leaf_value"])
        return arrays

    def walk(node: dict[str, Any]) -> int:
        if "leaf_value" in node:
            arrays["v"].append(node["leaf_value"])
            return ~(len(arrays["v"]) - 1)
        if node["decision_type"] != "<=":
            raise ValueError(
                f"unsupported split {node['decision_type']}: only numerical features are exported"
            )
        index = len(arrays["f"])
        missing = {"None": 0, "Zero": 1, "NaN": 2}[node["missing_type"]]
        arrays["f"].append(node["split_feature"])
        arrays["t"].append(node["threshold"])
        arrays["d"].append(missing | (4 if node["default_left"] else 0))
        arrays["l"].append(0)
        arrays["r"].append(0)
        arrays["l"][index] = walk(node["left_child"])
        arrays["r"][index] = walk(node["right_child"])
        return index

    walk(root)
    return arrays


# ---- baselines -----------------------------------------------------------------------------------


class Baseline:
    """Quantiles of the time still to stay among training visits still plugged in, per cell."""

    def __init__(self, train_by_site: dict[AcnSite, list[Visit]], key: Callable[[Visit], tuple[Any, ...]]):
        self._cells: dict[tuple[Any, ...], list[float]] = defaultdict(list)
        self._key = key
        for sample in train_by_site.values():
            for v in sample:
                for depth in range(len(key(v)) + 1):
                    self._cells[key(v)[:depth]].append(v.stay_minutes)
        self._memo: dict[tuple[tuple[Any, ...], float], tuple[float, float, float] | None] = {}

    def remaining(self, v: Visit, elapsed: float) -> tuple[float, float, float]:
        full = self._key(v)
        for depth in range(len(full), -1, -1):
            cell = (full[:depth], elapsed)
            if cell not in self._memo:
                stays = [s - elapsed for s in self._cells.get(full[:depth], []) if s > elapsed]
                cuts = (
                    statistics.quantiles(stays, n=10, method="inclusive") if len(stays) >= MIN_CELL else None
                )
                self._memo[cell] = (cuts[0], statistics.median(stays), cuts[8]) if cuts else None
            found = self._memo[cell]
            if found is not None:
                return found
        raise ValueError("no training visit still plugged in at this time")


def global_median(train_set: list[Visit]) -> Baseline:
    return Baseline({"caltech": train_set}, lambda v: ())


def site_weekend_hour_median(train_by_site: dict[AcnSite, list[Visit]]) -> Baseline:
    # Falls back to site × weekend, then site, when a cell has fewer than MIN_CELL visits.
    return Baseline(train_by_site, lambda v: (v.site, v.arrival_local.weekday() >= 5, v.arrival_local.hour))


# ---- evaluation ----------------------------------------------------------------------------------


def metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, median and P90 absolute error of the P50 in minutes, and the P10-P90 coverage."""
    error = np.abs(actual - predicted[:, 1])
    inside = (predicted[:, 0] <= actual) & (actual <= predicted[:, 2])
    return {
        "mae_min": round(float(error.mean()), 1),
        "median_abs_error_min": round(float(np.median(error)), 1),
        "p90_abs_error_min": round(float(np.quantile(error, 0.9)), 1),
        "p10_p90_coverage": round(float(inside.mean()), 3),
    }


def predict(trained: Trained, x: np.ndarray) -> np.ndarray:
    """The shipped post-processing: per row the quantiles sorted, never negative."""
    raw = np.column_stack([trained.boosters[q].predict(x) for q in QUANTILES])
    return np.sort(np.maximum(np.expm1(raw), 0.0), axis=1)


def evaluate(
    trained: Trained,
    test_set: list[Visit],
    baselines: dict[str, Baseline],
    habits: SiteHabits,
    recent: RecentStays,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per point (plug-in, after 1/2/4/6 h): counts and metrics of ours, of ours blended with the
    site's own past stays (`habits`, the training months', as `estimate_departure` blends them),
    of ours blended with the site's stays as the live system holds them at that moment (`recent`,
    its last `SITE_HISTORY_DAYS`) and of each baseline; and the plug-in predictions, for the chart."""
    report: dict[str, Any] = {}
    plug_in: dict[str, Any] = {}
    for hours in EVAL_HOURS:
        elapsed = hours * 60.0
        present = [v for v in test_set if v.stay_minutes > elapsed]
        x, actual = rows(present, [elapsed])
        ours = predict(trained, x)
        with_site = np.asarray(
            [_with_site(tuple(q), habits, v, elapsed) for q, v in zip(ours.tolist(), present, strict=True)]
        )
        with_recent = np.asarray(
            [
                _with_site(tuple(q), recent.habits(v.arrival_local + timedelta(minutes=elapsed)), v, elapsed)
                for q, v in zip(ours.tolist(), present, strict=True)
            ]
        )
        point: dict[str, Any] = {
            "sessions": len(present),
            "ours": metrics(actual, ours),
            "ours_with_site_history": metrics(actual, with_site),
            "ours_with_recent_site_history": metrics(actual, with_recent),
        }
        for name, baseline in baselines.items():
            point[name] = metrics(actual, np.asarray([baseline.remaining(v, elapsed) for v in present]))
        report[str(hours)] = point
        if hours == 0:
            plug_in = {"actual": actual.tolist(), "p50": ours[:, 1].tolist()}
    return report, plug_in


def _with_site(model: tuple[float, ...], habits: SiteHabits, v: Visit, elapsed: float) -> tuple[float, ...]:
    site = habits.remaining(v.arrival_local, elapsed)
    if len(site) < MIN_BLEND_VISITS:
        return model
    low, mid, high = model
    return blend((low, mid, high), site, SITE_PRIOR_VISITS)[0]


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _period(p: Period) -> str:
    return f"{p.site} {p.first.isoformat()}..{p.last.isoformat()}"


def run(
    *,
    final: bool = False,
    limit: int | None = None,
    model_out: Path | None = MODEL_PATH,
    docs: Path | None = DOCS,
    command: str = "laddvakt eval departure",
    drift: bool = True,
) -> dict[str, Any]:
    """The whole evaluation. `limit` keeps the first N sessions of each period and `drift=False`
    leaves 2020 out (the smoke test); `model_out`/`docs` None write nothing there."""
    started = time.perf_counter()
    tests = [TUNE] + ([DRIFT] if drift else []) + ([FINAL] if final else [])

    loaded: dict[tuple[AcnSite, int], list[Visit]] = {}

    def sample(site: AcnSite, index: int) -> list[Visit]:
        if (site, index) not in loaded:
            period = PERIODS[site][index]
            _progress(f"loading {_period(period)}")
            got = visits(load(period, final=index == FINAL and final))
            loaded[(site, index)] = got[:limit] if limit else got
        return loaded[(site, index)]

    train_by_site: dict[AcnSite, list[Visit]] = {
        "caltech": sample("caltech", TRAIN),
        "jpl": sample("jpl", TRAIN),
    }
    caltech_tune = sample("caltech", TUNE)
    trained = train(train_by_site["caltech"], caltech_tune)
    baselines = {
        "global_median": global_median(train_by_site["caltech"]),
        "site_weekend_hour_median": site_weekend_hour_median(train_by_site),
    }
    names = {TUNE: "tune", DRIFT: "drift", FINAL: "final"}
    results: dict[str, Any] = {}
    charts: dict[str, Any] = {}
    counts: dict[str, int] = {f"train {_period(PERIODS['caltech'][TRAIN])}": len(train_by_site["caltech"])}
    for site in ("caltech", "jpl"):
        direction = f"caltech->{site}"
        results[direction] = {}
        for index in tests:
            test_set = caltech_tune if (site == "caltech" and index == TUNE) else sample(site, index)
            counts[f"test {_period(PERIODS[site][index])}"] = len(test_set)
            _progress(f"evaluating {direction} on {names[index]} ({len(test_set)} sessions)")
            habits = SiteHabits.from_visits((v.past() for v in train_by_site[site]), SITE_ZONE)
            # Every period of the site up to this one: the window keeps what had ended by then.
            recent = RecentStays(
                (v.past_stay() for earlier in range(index + 1) for v in sample(site, earlier)), SITE_ZONE
            )
            report, plug_in = evaluate(trained, test_set, baselines, habits, recent)
            results[direction][names[index]] = report
            charts[f"{direction} {names[index]}"] = plug_in

    document = export(
        trained,
        len(train_by_site["caltech"]),
        f"P10/P50/P90 quantile trees (LightGBM {lgb.__version__}) trained on "
        f"{_period(PERIODS['caltech'][TRAIN])}, hyperparameters chosen on {_period(PERIODS['caltech'][TUNE])}",
    )
    exported = DepartureModel.from_document(document)
    parity = _parity(trained, exported, caltech_tune)
    text = json.dumps(document, separators=(",", ":"))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "git_commit": _git_commit(),
        "final": final,
        "periods": {
            "train": _period(PERIODS["caltech"][TRAIN]),
            "tune": _period(PERIODS["caltech"][TUNE]),
            "drift": [_period(PERIODS[s][DRIFT]) for s in ("caltech", "jpl")] if drift else "not read",
            "final": [_period(PERIODS[s][FINAL]) for s in ("caltech", "jpl")]
            if final
            else "sealed, not read",
            "baseline_site_cells_from": [_period(PERIODS[s][TRAIN]) for s in ("caltech", "jpl")],
        },
        "counts": counts,
        "metric_notes": (
            "minutes; errors of the P50 against the real time still to stay; at h hours only sessions "
            "still plugged in then; coverage: share of real times inside P10-P90 (ideal 0.8)"
        ),
        "model": {
            "features": list(FEATURES),
            "hyperparameters": trained.chosen,
            "trees": {q: len(document["quantiles"][q]) for q in QUANTILES},
            "json_bytes": len(text.encode()),
            "export_max_abs_difference": parity,
        },
        "reference_lightgbm_plug_in_features_2021_caltech_mae_min": REFERENCE_MAE,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if model_out is not None:
        model_out.write_text(text + "\n")
        _progress(f"model written to {model_out} ({len(text) / 1e6:.2f} MB)")
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        (docs / "departure.json").write_text(json.dumps(report, indent=2) + "\n")
        chart(report, charts, docs / "departure.png")
        _progress(f"report written to {docs / 'departure.json'} and departure.png")
    return report


def _parity(trained: Trained, exported: DepartureModel, sample: list[Visit]) -> float:
    """The largest difference between the training library's and the exported model's raw scores."""
    x, _ = rows(sample[:200], [h * 60 for h in EVAL_HOURS])
    worst = 0.0
    for q in QUANTILES:
        library = trained.boosters[q].predict(x, raw_score=True)
        for row, expected in zip(x.tolist(), library, strict=True):
            worst = max(worst, abs(exported.raw(q, row) - float(expected)))
    return worst


def chart(report: dict[str, Any], plug_in: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = "final" if report["final"] else "tune"
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    scatter = plug_in[f"caltech->caltech {shown}"]
    ax = axes[0]
    actual, predicted = np.asarray(scatter["actual"]) / 60, np.asarray(scatter["p50"]) / 60
    shown_range = actual <= 24
    ax.scatter(actual[shown_range], predicted[shown_range], s=4, alpha=0.3)
    ax.plot([0, 24], [0, 24], color="grey", linewidth=1)
    ax.text(
        0.02, 0.97, f"{int((~shown_range).sum())} stays over 24 h not shown", transform=ax.transAxes, va="top"
    )
    ax.set(
        xlabel="actual stay (h)",
        ylabel="predicted P50 at plug-in (h)",
        title=f"Caltech {shown}: predicted vs actual at plug-in",
    )
    for ax, direction in zip(axes[1:], ("caltech->caltech", "caltech->jpl"), strict=True):
        points = report["results"][direction][shown]
        hours = [int(h) for h in points]
        for name, style in (
            ("ours", "o-"),
            ("ours_with_site_history", "o-"),
            ("ours_with_recent_site_history", "o-"),
            ("global_median", "s--"),
            ("site_weekend_hour_median", "^--"),
        ):
            ax.plot(
                hours, [points[str(h)][name]["mae_min"] for h in hours], style, label=name.replace("_", " ")
            )
        if direction == "caltech->caltech":
            ax.plot(hours, [REFERENCE_MAE[str(h)] for h in hours], "x:", label="reference LightGBM (2021)")
        ax.set(
            xlabel="hours plugged in",
            ylabel="MAE of the time still to stay (min)",
            title=f"{direction.replace('->', ' → ')} ({shown})",
        )
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.suptitle(f"{report['command']}  ·  {report['date'][:10]}  ·  {report['git_commit'][:10]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(report: dict[str, Any]) -> str:
    lines = []
    for direction, periods in report["results"].items():
        for period, points in periods.items():
            lines.append(f"{direction} {period}:")
            for hours, point in points.items():
                cells = "  ".join(
                    f"{name} {point[name]['mae_min']:.0f}/{point[name]['p10_p90_coverage']:.2f}"
                    for name in (
                        "ours",
                        "ours_with_site_history",
                        "ours_with_recent_site_history",
                        "global_median",
                        "site_weekend_hour_median",
                    )
                )
                lines.append(f"  after {hours} h ({point['sessions']} sessions) MAE/coverage: {cells}")
    return "\n".join(lines)


def main(final: bool, command: str) -> int:
    report = run(final=final, command=command)
    print(summary(report))
    if not math.isclose(report["model"]["export_max_abs_difference"], 0.0, abs_tol=1e-9):
        print("laddvakt: the exported model disagrees with LightGBM", file=sys.stderr)
        return 1
    return 0
