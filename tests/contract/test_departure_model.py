"""The shipped departure model (shared/domain/departure_model.json, plain trees walked in pure
Python) predicts exactly what LightGBM, the library that trained it, predicts."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest

from laddvakt.acn_data import PERIODS, TRAIN, TUNE, load
from laddvakt.departure_eval import EVAL_HOURS, Trained, export, refit, rows, visits
from shared.domain.departure import FEATURES, MODEL_PATH, QUANTILES, DepartureModel, load_model

pytestmark = pytest.mark.contract


def _raw_scores(model: DepartureModel, trained: Trained, x: np.ndarray) -> None:
    for q in QUANTILES:
        library = trained.boosters[q].predict(x, raw_score=True)
        exported = [model.raw(q, row) for row in x.tolist()]
        assert exported == pytest.approx(library.tolist(), rel=0, abs=1e-12)


def test_exported_trees_predict_what_lightgbm_predicts_with_missing_values_and_every_split_kind():
    # Given a small LightGBM quantile model trained on rows where inputs are often missing (NaN)
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 24, size=(2000, len(FEATURES)))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[rng.random(x.shape) < 0.1] = 0.0
    y = np.nan_to_num(x[:, 0]) * 10 + np.nan_to_num(x[:, 3], nan=50) + rng.normal(0, 5, 2000)
    boosters = {
        q: lgb.train(
            {"objective": "quantile", "alpha": a, "num_leaves": 15, "verbose": -1, "seed": 1},
            lgb.Dataset(x, np.log1p(np.maximum(y, 0))),
            num_boost_round=30,
        )
        for q, a in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))
    }
    trained = Trained(boosters, {q: {} for q in QUANTILES})

    # When it is exported to plain data, through JSON, and read back
    document = json.loads(json.dumps(export(trained, 2000, "synthetic")))
    model = DepartureModel.from_document(document)

    # Then the pure-Python trees give LightGBM's raw scores on fresh rows, NaN and zero included
    probe = rng.uniform(-1, 25, size=(500, len(FEATURES)))
    probe[rng.random(probe.shape) < 0.3] = np.nan
    probe[rng.random(probe.shape) < 0.1] = 0.0
    _raw_scores(model, trained, probe)


def test_the_shipped_model_is_what_training_produces_and_predicts_what_lightgbm_predicts():
    # Given the shipped model file and the hyperparameters it records
    shipped = json.loads(MODEL_PATH.read_text())
    assert MODEL_PATH.stat().st_size < 2_000_000
    chosen = shipped["hyperparameters"]

    # When LightGBM trains again on TRAIN with them (deterministic training)
    trained = refit(visits(load(PERIODS["caltech"][TRAIN])), chosen)

    # Then it has the same trees, and on TUNE rows the shipped file predicts exactly what it does
    assert {q: len(shipped["quantiles"][q]) for q in QUANTILES} == {
        q: trained.boosters[q].num_trees() for q in QUANTILES
    }
    x, _ = rows(visits(load(PERIODS["caltech"][TUNE]))[:300], [h * 60 for h in EVAL_HOURS])
    _raw_scores(load_model(), trained, x)
