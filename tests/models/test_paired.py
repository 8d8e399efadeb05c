"""The paired tests equal reference computations on fixed data: McNemar's exact test as SciPy's
two-sided binomial test on the discordant subjects, the paired bootstrap as the textbook loop
(the same seeded draws, scikit-learn's metrics on each resample), Holm's correction by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

from models.paired import BOOTSTRAP, MCNEMAR, holm, paired_tests

N = 40


def _probs(y, seed, signal):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(y.size, 2)) + signal * np.eye(2)[y]
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data():
    y = np.random.default_rng(3).integers(0, 2, N)
    return y, _probs(y, 1, 2.5), _probs(y, 2, 0.5)


def _by_metric(rows):
    return {r["metric"]: r for r in rows}


def test_accuracy_is_mcnemars_exact_test_on_the_discordant_subjects(data):
    y, a, b = data
    right_a, right_b = a.argmax(axis=1) == y, b.argmax(axis=1) == y
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    assert only_a + only_b > 5, "the fixed data must have discordant subjects"
    row = _by_metric(paired_tests(y, a, b, resamples=200))["accuracy"]
    assert row["p_value"] == pytest.approx(binomtest(only_b, only_a + only_b, 0.5).pvalue, abs=1e-12)
    assert row["difference"] == pytest.approx(skm.accuracy_score(y, a.argmax(1)) - skm.accuracy_score(y, b.argmax(1)))
    assert row["method"] == MCNEMAR and row["n_common"] == N


def _reference(y, a, b, seed, resamples, score):
    """The textbook paired bootstrap: draw subjects with replacement, score both with scikit-learn."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        idx = rng.integers(0, y.size, y.size)
        if np.unique(y[idx]).size < 2:
            continue
        diffs.append(score(y[idx], a[idx]) - score(y[idx], b[idx]))
    diffs = np.array(diffs)
    tail = min((diffs <= 0).sum(), (diffs >= 0).sum())
    return np.percentile(diffs, [2.5, 97.5]), min(1.0, 2 * (tail + 1) / (diffs.size + 1)), diffs.size


SKLEARN = {"roc_auc": lambda y, p: skm.roc_auc_score(y, p[:, 1]),
           "balanced_accuracy": lambda y, p: skm.balanced_accuracy_score(y, p.argmax(axis=1))}


@pytest.mark.parametrize("metric", sorted(SKLEARN))
def test_the_bootstrap_equals_the_textbook_loop_with_sklearns_metrics(data, metric):
    y, a, b = data
    row = _by_metric(paired_tests(y, a, b, seed=7, resamples=400))[metric]
    (low, high), p, used = _reference(y, a, b, 7, 400, SKLEARN[metric])
    assert (row["low"], row["high"]) == pytest.approx((low, high), abs=1e-12)
    assert row["p_value"] == pytest.approx(p, abs=1e-12)
    assert row["resamples"] == used and row["seed"] == 7 and row["method"] == BOOTSTRAP
    assert row["difference"] == pytest.approx(SKLEARN[metric](y, a) - SKLEARN[metric](y, b), abs=1e-12)


def test_a_clearly_better_task_is_significant_and_the_same_one_is_not(data):
    y, a, b = data
    better = _by_metric(paired_tests(y, a, b))
    for row in better.values():
        assert row["difference"] > 0 and row["low"] > 0 and row["p_value"] < 0.05, row
        assert row["resamples"] >= 2000 - 5
    same = _by_metric(paired_tests(y, a, a))
    assert {m: (r["difference"], r["low"], r["high"], r["p_value"]) for m, r in same.items()} == \
        {m: (0.0, 0.0, 0.0, 1.0) for m in ("accuracy", "balanced_accuracy", "roc_auc")}


def test_roc_auc_is_left_out_when_the_subjects_hold_one_class():
    y = np.zeros(6, dtype=int)
    rows = paired_tests(y, _probs(y, 1, 1.0), _probs(y, 2, 1.0), resamples=50)
    assert [r["metric"] for r in rows] == ["accuracy", "balanced_accuracy"]


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04; then never below the one before
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
