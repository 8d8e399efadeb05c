"""The tangent-logreg baseline: equal to pyriemann + scikit-learn's own pipeline, runnable on the
same folds as a GNN, and its stored weights evaluate to the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
from pyriemann.tangentspace import TangentSpace
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from models.cv import make_folds
from models.engine import run_job
from models.job import HyperParams, JobSpec
from models.tangent import spd
from tests.models.engine_helpers import Recorder, split, tiny

PARAMS = HyperParams(learning_rate=0.01, batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=2)


def _cohort():
    return split(tiny(60, regions=12, effect=1.0, hub_effect=0.9), (0.6, 0.2, 0.2))


def test_equals_the_pyriemann_sklearn_pipeline_and_reevaluates_from_its_weights():
    train, val, test = _cohort()
    rec = Recorder()
    out = run_job(JobSpec("dl_ts", "tangent-logreg", PARAMS, train, val, test), rec, "cpu")
    pipe = make_pipeline(TangentSpace(metric="riemann"), LogisticRegression(max_iter=5000)).fit(spd(train), train.labels)
    reference = pipe.predict_proba(spd(test))
    ours = np.array([[p["probabilities"][c] for c in test.class_names] for p in out.result["test"]["predictions"]])
    assert ours == pytest.approx(reference, abs=1e-6)
    assert out.result["test_accuracy"] == pytest.approx((reference.argmax(axis=1) == test.labels).mean())
    assert [m.epoch for m in rec.epochs] == [1] and out.result["test_accuracy_low"] <= out.result["test_accuracy"]

    ev = run_job(JobSpec("dl_ev", "tangent-logreg", PARAMS, None, None, test, init_weights=out.weights),
                 Recorder(), "cpu")
    assert ev.result["test"]["predictions"] == out.result["test"]["predictions"]


@pytest.mark.slow
def test_runs_on_the_same_folds_as_a_gnn():
    ds = tiny(30, regions=10)
    folds = make_folds(ds, "stratified_kfold", 3, 1, 0)
    data = tuple((ds.subset(f.train), ds.subset(f.val), ds.subset(f.test)) for f in folds)
    results = {m: run_job(JobSpec("dl_ts", m, PARAMS, ds, None, None, folds=data), Recorder(), "cpu").result
               for m in ("tangent-logreg", "SGN-Head")}
    tested = {m: [sorted(p["subject"] for p in r["test"]["predictions"])] for m, r in results.items()}
    assert tested["tangent-logreg"] == tested["SGN-Head"]
    assert [f["test_n"] for f in results["tangent-logreg"]["cv"]["per_fold"]] == \
           [f["test_n"] for f in results["SGN-Head"]["cv"]["per_fold"]] == [len(f.test) for f in folds]
