"""Classification metrics for test sets, binary or multi-class.

Accuracy, balanced accuracy, sensitivity, specificity, precision and F1 come from the confusion
matrix (``models.confusion_metrics``, shared with the MXNet backend); ROC AUC (one-vs-rest,
macro, for several classes) is scikit-learn's.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

from models.confusion_metrics import confusion_rates


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
    names = list(subjects) if subjects is not None else [str(i) for i in range(y.size)]
    return {
        "n": int(y.size),
        **confusion_rates(cm),
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
