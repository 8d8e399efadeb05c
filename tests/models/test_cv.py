"""Cross-validation: folds are scikit-learn's, each fold trains and tests apart, the pooled
out-of-fold predictions cover every subject once, and a resumed run continues at its fold and
epoch with identical results."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold, LeaveOneOut, RepeatedStratifiedKFold, StratifiedKFold

from models.cv import make_folds
from models.engine import run_job
from models.job import HyperParams, JobSpec
from tests.models.engine_helpers import Recorder, tiny


def _x(ds):
    return np.zeros((ds.labels.size, 1))


@pytest.mark.parametrize("seed", [0, 7])
def test_stratified_folds_equal_scikit_learns_with_the_same_seed(seed):
    ds = tiny(40, regions=10, seed=seed)
    ours = make_folds(ds, "stratified_kfold", 5, 1, seed)
    theirs = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(_x(ds), ds.labels))
    assert [f.test.tolist() for f in ours] == [sorted(t.tolist()) for _, t in theirs]
    for f, (rest, _) in zip(ours, theirs):
        assert sorted(f.train.tolist() + f.val.tolist()) == sorted(rest.tolist())
        assert not set(f.train) & set(f.val) and len(f.val) > 0


def test_kfold_repeats_and_loo_equal_scikit_learns():
    ds = tiny(20, regions=10)
    kf = list(KFold(n_splits=4, shuffle=True, random_state=3).split(_x(ds)))
    assert [f.test.tolist() for f in make_folds(ds, "kfold", 4, 1, 3)] == [sorted(t.tolist()) for _, t in kf]
    rep = list(RepeatedStratifiedKFold(n_splits=4, n_repeats=2, random_state=3).split(_x(ds), ds.labels))
    folds = make_folds(ds, "stratified_kfold", 4, 2, 3)
    assert [f.test.tolist() for f in folds] == [sorted(t.tolist()) for _, t in rep]
    assert [f.repeat for f in folds] == [0, 0, 0, 0, 1, 1, 1, 1]
    loo = make_folds(ds, "loo", 0, 1, 3)
    assert [f.test.tolist() for f in loo] == [t.tolist() for _, t in LeaveOneOut().split(_x(ds))]


def _cv_job(ds, folds, **kw):
    data = tuple((ds.subset(f.train), ds.subset(f.val), ds.subset(f.test)) for f in folds)
    p = HyperParams(learning_rate=0.01, batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=2)
    return JobSpec("dl_ts", "SGN-Head", p, ds, None, None, folds=data, **kw)


@pytest.mark.slow
def test_a_cross_validated_run_reports_folds_and_pooled_metrics_and_resumes_exactly():
    ds = tiny(30, regions=10)
    folds = make_folds(ds, "stratified_kfold", 3, 1, 0)
    rec = Recorder()
    out = run_job(_cv_job(ds, folds), rec, "cpu")
    assert [(m.epoch, m.epochs, m.fold) for m in rec.epochs] == [(1, 6, 0), (2, 6, 0), (3, 6, 1), (4, 6, 1),
                                                                 (5, 6, 2), (6, 6, 2)]
    r = out.result
    assert r["test_n"] == 30 and r["test_best_n"] == 30  # one pooled prediction per subject
    assert sorted(p["subject"] for p in r["test"]["predictions"]) == sorted(ds.subjects)
    per_fold = [f["test_accuracy"] for f in r["cv"]["per_fold"]]
    assert [f["test_n"] for f in r["cv"]["per_fold"]] == [len(f.test) for f in folds]
    assert r["cv"]["mean"]["test_accuracy"] == pytest.approx(np.mean(per_fold))
    assert r["cv"]["std"]["test_accuracy"] == pytest.approx(np.std(per_fold, ddof=1))
    assert r["test_accuracy"] == pytest.approx(sum(a * len(f.test) for a, f in zip(per_fold, folds)) / 30)
    assert r["test"]["intervals"]["accuracy"]["method"] == "wilson"

    # Killed after fold 1's first epoch (global epoch 3): resumes there, same results.
    blob = next(b for kind, b, epoch in rec.checkpoints if epoch == 3)
    rec2 = Recorder()
    again = run_job(_cv_job(ds, folds, resume_checkpoint=blob), rec2, "cpu")
    assert [(m.epoch, m.fold) for m in rec2.epochs] == [(4, 1), (5, 2), (6, 2)]
    assert again.result["cv"]["per_fold"] == r["cv"]["per_fold"]
    assert again.result["test"]["predictions"] == r["test"]["predictions"]


def test_a_stop_in_a_fold_ends_the_run_with_the_folds_done():
    ds = tiny(30, regions=10)
    out = run_job(_cv_job(ds, make_folds(ds, "kfold", 3, 1, 0)), Recorder(stop_after=8), "cpu")
    assert out.stopped and out.result["cv"]["folds_done"] < 3 and "test_accuracy" not in out.result
