"""Classification metrics for test sets, binary or multi-class.

Sensitivity, specificity, precision and F1 come from the confusion matrix: for two classes the
second class (e.g. SZ) is the positive one, for more classes they are macro averages of the
one-vs-rest values. Balanced accuracy and ROC AUC (one-vs-rest, macro, for several classes) are
scikit-learn's.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_auc_score


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def _roc_auc(y_true: np.ndarray, prob: np.ndarray) -> float | None:
    if np.unique(y_true).size < 2:
        return None  # undefined with one class present
    if prob.shape[1] == 2:
        return float(roc_auc_score(y_true, prob[:, 1]))
    present = np.unique(y_true)
    if present.size < prob.shape[1]:
        return None  # sklearn's one-vs-rest AUC needs every class in y_true
    p = prob / prob.sum(axis=1, keepdims=True)
    return float(roc_auc_score(y_true, p, multi_class="ovr", average="macro"))


def classification_metrics(y_true, prob, class_names, subjects=None) -> dict:
    """Metrics of the predictions ``argmax(prob)`` against ``y_true``.

    ``prob`` is (N, C) class probabilities; returns a JSON-ready dict with accuracy,
    balanced_accuracy, sensitivity, specificity, precision, f1, roc_auc (None when undefined),
    confusion_matrix (rows true, columns predicted), class_names and per-subject predictions.
    Raises ValueError when the shapes disagree or there are no subjects.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    n_classes = len(class_names)
    if y.ndim != 1 or y.size == 0 or p.shape != (y.size, n_classes):
        raise ValueError(f"need N labels and (N, {n_classes}) probabilities, got {y.shape} and {p.shape}")
    pred = p.argmax(axis=1)
    cm = confusion_matrix(y, pred, labels=list(range(n_classes)))
    tp = np.diag(cm).astype(float)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    sens, spec, prec = _ratio(tp, tp + fn), _ratio(tn, tn + fp), _ratio(tp, tp + fp)
    f1 = _ratio(2 * prec * sens, prec + sens)
    pick = (lambda v: float(v[1])) if n_classes == 2 else (lambda v: float(v.mean()))
    names = list(subjects) if subjects is not None else [str(i) for i in range(y.size)]
    return {
        "n": int(y.size),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "sensitivity": pick(sens),
        "specificity": pick(spec),
        "precision": pick(prec),
        "f1": pick(f1),
        "roc_auc": _roc_auc(y, p),
        "confusion_matrix": cm.tolist(),
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
