"""Intervals equal reference computations: statsmodels' Wilson interval, and a plain numpy
bootstrap over subjects with the same seed and scikit-learn's metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from statsmodels.stats.proportion import proportion_confint

from models.evaluation import set_report
from models.intervals import chance, intervals, wilson


def _probs(y, classes, seed, signal=1.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(y.size, classes)) + signal * np.eye(classes)[y]
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k, n", [(0, 5), (3, 21), (15, 21), (21, 21), (70, 140), (1, 1)])
def test_wilson_equals_statsmodels(k, n):
    assert wilson(k, n) == pytest.approx(proportion_confint(k, n, alpha=0.05, method="wilson"), abs=1e-12)


def _reference_bootstrap(y, p, seed, resamples, metric):
    """The textbook loop: resample subjects with replacement, score with scikit-learn."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, y.size, y.size)
        yb, pb = y[idx], p[idx]
        if metric == "roc_auc":
            if np.unique(yb).size < 2:
                continue
            values.append(skm.roc_auc_score(yb, pb[:, 1]))
        elif metric == "balanced_accuracy":
            values.append(skm.balanced_accuracy_score(yb, pb.argmax(axis=1)))
        else:
            values.append(skm.f1_score(yb, pb.argmax(axis=1), zero_division=0))
    return np.percentile(values, [2.5, 97.5]), len(values)


@pytest.mark.parametrize("metric", ["roc_auc", "balanced_accuracy", "f1"])
def test_bootstrap_equals_a_plain_numpy_bootstrap_with_the_same_seed(metric):
    y = np.random.default_rng(4).integers(0, 2, 21)
    p = _probs(y, 2, 5)
    got = intervals(y, p, seed=11, resamples=300)[metric]
    (low, high), used = _reference_bootstrap(y, p, 11, 300, metric)
    assert (got["low"], got["high"]) == pytest.approx((low, high), abs=1e-12)
    assert got["resamples"] == 300 and got["resamples_defined"] == used
    assert got["method"] == "percentile bootstrap over subjects" and got["seed"] == 11


def test_the_report_states_method_chance_balance_and_flat_bounds():
    y = np.array([0] * 12 + [1] * 9)
    p = _probs(y, 2, 1, signal=2.0)
    report = set_report(y, p, ["NC", "SZ"], None, seed=0, label="last epoch (3)")
    detail = report["test"]
    assert detail["chance_level"] == pytest.approx(12 / 21) and detail["majority_class"] == "NC"
    assert detail["class_counts"] == {"NC": 12, "SZ": 9}
    assert detail["intervals"]["accuracy"]["method"] == "wilson"
    assert detail["evaluated"] == "last epoch (3)"
    correct = int((p.argmax(axis=1) == y).sum())
    assert (report["test_accuracy_low"], report["test_accuracy_high"]) == pytest.approx(
        proportion_confint(correct, 21, method="wilson"))
    for m in ("accuracy", "roc_auc", "f1", "balanced_accuracy"):
        assert report[f"test_{m}_low"] <= report[f"test_{m}"] <= report[f"test_{m}_high"]


def test_a_single_21_subject_split_has_an_interval_about_20_points_wide():
    low, high = wilson(15, 21)
    assert 0.35 < high - low < 0.40  # the "about ±20 points"


def test_chance_is_the_majority_share():
    assert chance(np.array([0, 1, 1, 1]), ["NC", "SZ"])["chance_level"] == 0.75
