"""Classification metrics for test sets, binary or multi-class.

Sensitivity, specificity, precision and F1 come from the confusion matrix: for two classes the
second class (e.g. SZ) is the positive one, for more classes they are macro averages of the
one-vs-rest values. Balanced accuracy is the mean per-class recall and ROC AUC the
Mann-Whitney statistic (one-vs-rest, macro, for several classes), equal to scikit-learn's
(tested); they are computed with numpy here because the bootstrap computes them thousands of
times.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

SCORES = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    n1 = int(positive.sum())
    n0 = positive.size - n1
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _roc_auc(y: np.ndarray, prob: np.ndarray) -> float | None:
    """None when undefined: a class of the model absent from ``y`` (or only one class)."""
    n_classes = prob.shape[1]
    if np.unique(y).size < (2 if n_classes == 2 else n_classes):
        return None
    if n_classes == 2:
        return _binary_auc(y == 1, prob[:, 1])
    p = prob / prob.sum(axis=1, keepdims=True)
    return float(np.mean([_binary_auc(y == k, p[:, k]) for k in range(n_classes)]))


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows true, columns predicted."""
    return np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float | None]:
    """Every metric in SCORES of the predictions ``argmax(prob)`` against labels ``y``."""
    n_classes = prob.shape[1]
    pred = prob.argmax(axis=1)
    cm = confusion(y, pred, n_classes)
    tp = np.diag(cm).astype(float)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    sens, spec, prec = _ratio(tp, tp + fn), _ratio(tn, tn + fp), _ratio(tp, tp + fp)
    f1 = _ratio(2 * prec * sens, prec + sens)
    pick = (lambda v: float(v[1])) if n_classes == 2 else (lambda v: float(v.mean()))
    present = cm.sum(axis=1) > 0
    return {
        "accuracy": float(tp.sum() / y.size),
        "balanced_accuracy": float(sens[present].mean()),
        "sensitivity": pick(sens),
        "specificity": pick(spec),
        "precision": pick(prec),
        "f1": pick(f1),
        "roc_auc": _roc_auc(y, prob),
    }


def checked(y_true, prob, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities as arrays. Raises ValueError when the shapes disagree or there
    are no subjects."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    if y.ndim != 1 or y.size == 0 or p.shape != (y.size, n_classes):
        raise ValueError(f"need N labels and (N, {n_classes}) probabilities, got {y.shape} and {p.shape}")
    return y, p


def classification_metrics(y_true, prob, class_names, subjects=None) -> dict:
    """Metrics of the predictions ``argmax(prob)`` against ``y_true``.

    ``prob`` is (N, C) class probabilities; returns a JSON-ready dict with n, every metric in
    SCORES (roc_auc None when undefined), confusion_matrix (rows true, columns predicted),
    class_names and per-subject predictions.
    Raises ValueError when the shapes disagree or there are no subjects.
    """
    y, p = checked(y_true, prob, len(class_names))
    pred = p.argmax(axis=1)
    names = list(subjects) if subjects is not None else [str(i) for i in range(y.size)]
    return {
        "n": int(y.size),
        **scores(y, p),
        "confusion_matrix": confusion(y, pred, len(class_names)).tolist(),
        "class_names": list(class_names),
        "predictions": [
            {
                "subject": names[i],
                "label": class_names[y[i]],
                "predicted": class_names[pred[i]],
                "probabilities": {c: round(float(p[i, k]), 6) for k, c in enumerate(class_names)},
            }
            for i in range(y.size)
        ],
    }
