"""The standard baseline beside a torch task's test result: fitted on the task's own training
subjects (or each fold's), tested on its own test subjects, compared subject by subject with the
task's model; checked against pyriemann/scikit-learn and statsmodels on the same data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pyriemann.tangentspace import TangentSpace
from sklearn.linear_model import LogisticRegression
from statsmodels.stats.contingency_tables import mcnemar

from models import standard_baseline
from models.cv import make_folds
from models.engine import run_job
from models.job import JobSpec
from models.tangent import spd
from tests.models.engine_helpers import Recorder, params, split, tiny


@pytest.fixture(scope="module")
def data():
    return split(tiny(n=48, regions=12, seed=3), (0.5, 0.15, 0.35))


def _reference_probabilities(train, test) -> np.ndarray:
    ts = TangentSpace(metric="riemann").fit(spd(train))
    clf = LogisticRegression(max_iter=5000).fit(ts.transform(spd(train)), train.labels)
    return clf.predict_proba(ts.transform(spd(test)))


def test_the_baseline_is_fitted_on_the_tasks_training_subjects_and_paired_with_its_model(data):
    train, val, test = data
    out = run_job(JobSpec("dl_ts", "MLP", params(epochs=3), train, val, test), Recorder(), "cpu").result
    record = out["standard_baseline"]
    expected = _reference_probabilities(train, test)
    right_baseline = expected.argmax(axis=1) == test.labels
    assert record["model"] == "tangent-logreg" and record["n_train"] == train.n_subjects
    assert out["baseline_test_accuracy"] == pytest.approx(right_baseline.mean())
    assert out["baseline_test_accuracy_low"] <= out["baseline_test_accuracy"] <= out["baseline_test_accuracy_high"]
    assert record["test"]["n"] == test.n_subjects and record["seconds"] >= 0
    right_model = np.array([p["label"] == p["predicted"] for p in out["test"]["predictions"]])
    accuracy = next(p for p in record["paired"] if p["metric"] == "test_accuracy")
    assert accuracy["difference"] == pytest.approx(right_model.mean() - right_baseline.mean())
    assert out["baseline_accuracy_difference"] == accuracy["difference"]
    table = [[np.sum(right_model & right_baseline), np.sum(right_model & ~right_baseline)],
             [np.sum(~right_model & right_baseline), np.sum(~right_model & ~right_baseline)]]
    assert accuracy["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert accuracy["low"] <= accuracy["difference"] <= accuracy["high"]


def test_cross_validated_baseline_pools_each_folds_out_of_fold_predictions():
    pool = tiny(n=40, regions=10, seed=5)
    folds = make_folds(pool, "stratified_kfold", 4, 1, seed=0)
    parts = tuple((pool.subset(f.train), pool.subset(f.val), pool.subset(f.test)) for f in folds)
    spec = JobSpec("dl_ts", "MLP", params(epochs=2), parts[0][0], None, None, folds=parts)
    out = run_job(spec, Recorder(), "cpu").result
    right = {}
    for train, _val, test in parts:
        prob = _reference_probabilities(train, test)
        right.update(zip(test.subjects, prob.argmax(axis=1) == test.labels))
    assert out["baseline_test_n"] == pool.n_subjects == len(right)
    assert out["baseline_test_accuracy"] == pytest.approx(np.mean(list(right.values())))
    assert "pooled out of fold" in out["standard_baseline"]["fitted_on"]


def test_skip_baseline_and_the_baseline_itself_get_no_second_fit(data):
    train, val, test = data
    skipped = run_job(JobSpec("dl_ts", "MLP", params(epochs=1), train, val, test, with_baseline=False),
                      Recorder(), "cpu").result
    assert skipped["standard_baseline"] == {"skipped": "skip_baseline was set on the form"}
    assert "baseline_test_accuracy" not in skipped
    itself = run_job(JobSpec("dl_ts", "tangent-logreg", params(), train, val, test), Recorder(), "cpu").result
    assert itself["standard_baseline"] == {"skipped": "the task's model is the standard baseline"}
    untested = run_job(JobSpec("dl_ts", "MLP", params(epochs=1), train, val, None), Recorder(), "cpu").result
    assert "standard_baseline" not in untested


def test_a_large_training_set_is_subsampled_stratified_to_bound_the_time(data, monkeypatch):
    train, val, test = data
    monkeypatch.setattr(standard_baseline, "MAX_TRAIN", 10)
    out = run_job(JobSpec("dl_ts", "MLP", params(epochs=1), train, val, test), Recorder(), "cpu").result
    record = out["standard_baseline"]
    assert record["n_train"] == 10 and "sample of 10 of the training subjects (stratified)" in record["fitted_on"]


def test_an_evaluation_fits_its_baseline_on_the_evaluated_tasks_training_subjects(data):
    train, val, test = data
    parent = run_job(JobSpec("dl_ts", "MLP", params(epochs=2), train, val, test), Recorder(), "cpu")
    ev = run_job(JobSpec("dl_ev", "MLP", params(), None, None, test, init_weights=parent.weights,
                         baseline_train=train), Recorder(), "cpu").result
    same = lambda record: {k: v for k, v in record["test"].items() if k != "evaluated"}  # noqa: E731
    assert same(ev["standard_baseline"]) == same(parent.result["standard_baseline"])
    assert ev["standard_baseline"]["fitted_on"] == "the training subjects of the evaluated task"
    lost = run_job(JobSpec("dl_ev", "MLP", params(), None, None, test, init_weights=parent.weights), Recorder(), "cpu")
    assert "could not be loaded" in lost.result["standard_baseline"]["skipped"]


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")  # the degenerate data itself
def test_data_the_baseline_cannot_fit_leaves_the_tasks_own_result_and_says_why(data):
    train, val, test = data
    rng = np.random.default_rng(0)
    wild = lambda ds: replace(ds, conn=rng.normal(0, 3, ds.conn.shape).astype(ds.conn.dtype))  # noqa: E731
    out = run_job(JobSpec("dl_ts", "MLP", params(epochs=1), wild(train), wild(val), wild(test)), Recorder(), "cpu")
    assert not out.stopped and "test_accuracy" in out.result
    assert out.result["standard_baseline"]["skipped"].startswith("the baseline could not be fitted on this data")
