import numpy as np
import pytest
from sklearn import metrics as skm

from models.metrics import classification_metrics


def _probs(y, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(y.size, classes)) + 1.5 * np.eye(classes)[y]
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def test_binary_equals_sklearn():
    y = np.random.default_rng(0).integers(0, 2, 60)
    p = _probs(y, 2, 1)
    m = classification_metrics(y, p, ["NC", "SZ"], [f"s{i}" for i in range(60)])
    pred = p.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred, pos_label=1))
    assert m["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    first = m["predictions"][0]
    assert first["subject"] == "s0" and first["label"] == ["NC", "SZ"][y[0]]
    assert sum(first["probabilities"].values()) == pytest.approx(1, abs=1e-5)


def test_multiclass_macro_equals_sklearn():
    y = np.random.default_rng(2).integers(0, 3, 90)
    p = _probs(y, 3, 3)
    m = classification_metrics(y, p, ["a", "b", "c"])
    pred = p.argmax(axis=1)
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    cm = skm.confusion_matrix(y, pred)
    spec = [(cm.sum() - cm[k].sum() - cm[:, k].sum() + cm[k, k]) / (cm.sum() - cm[k].sum()) for k in range(3)]
    assert m["specificity"] == pytest.approx(np.mean(spec))


def test_auc_undefined_with_one_class_and_bad_shapes():
    y = np.zeros(4, dtype=int)
    assert classification_metrics(y, _probs(y, 2, 0), ["NC", "SZ"])["roc_auc"] is None
    with pytest.raises(ValueError):
        classification_metrics(y, np.ones((4, 3)) / 3, ["NC", "SZ"])


def test_a_one_class_test_set_gives_no_warning_and_sklearns_balanced_accuracy():
    import warnings

    y = np.zeros(6, dtype=int)
    p = np.array([[0.9, 0.1]] * 4 + [[0.2, 0.8]] * 2)  # two predicted as the absent class
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = classification_metrics(y, p, ["NC", "SZ"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that y_pred holds a class y_true lacks
        expected = skm.balanced_accuracy_score(y, p.argmax(axis=1))
    assert m["balanced_accuracy"] == pytest.approx(expected) == pytest.approx(4 / 6)
