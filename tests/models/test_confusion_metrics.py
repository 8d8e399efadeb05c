"""models.confusion_metrics: the rates both backends report, from a confusion matrix alone."""

import numpy as np
import pytest
from sklearn import metrics as skm

from models.confusion_metrics import confusion_rates


def test_rates_equal_sklearns_on_the_same_predictions():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 80)
    pred = np.where(rng.random(80) < 0.6, y, rng.integers(0, 4, 80))
    r = confusion_rates(skm.confusion_matrix(y, pred, labels=range(4)))
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert r["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert r["sensitivity"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert r["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert r["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))


def test_bad_matrices_are_refused():
    for bad in ([[1, 2, 3]], [[0, 0], [0, 0]]):
        with pytest.raises(ValueError):
            confusion_rates(bad)
