"""The baseline connectome papers compare against (Dadi et al., NeuroImage 2019): each subject's
connectivity in the tangent space of the SPD manifold at the training subjects' Riemannian mean
(pyriemann's TangentSpace), then an l2-penalised logistic regression (scikit-learn).

A dataset stores Fisher-z correlations with a zero diagonal; they become correlation matrices
again (tanh, unit diagonal), shrunk towards the identity by SHRINKAGE so every one is positive
definite. One fit replaces the epochs: the job reports a single epoch (train and validation log
loss and accuracy) and no checkpoint; weights hold the tangent reference and the classifier
(safetensors), so a ``dl_ev`` of it works like any model's. A fine-tune of it means nothing.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch
from pyriemann.tangentspace import TangentSpace
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from models.datasets.types import ConnectomeDataset
from models.evaluation import set_report
from models.job import EpochMetrics, JobHooks, JobOutcome, JobSpec
from models.weights import pack_weights, unpack_weights

NAME = "tangent-logreg"
SHRINKAGE = 0.1
C = 1.0  # inverse l2 strength, scikit-learn's default


def spd(ds: ConnectomeDataset) -> np.ndarray:
    corr = np.tanh(ds.conn.astype(np.float64))
    eye = np.eye(ds.n_regions)
    corr[:, eye.astype(bool)] = 1.0
    return (1 - SHRINKAGE) * corr + SHRINKAGE * eye


def _contract(ds: ConnectomeDataset) -> dict:
    return {"model": NAME, "regions": ds.n_regions, "node_features": ds.n_features or ds.n_regions,
            "classes": ds.n_classes, "class_names": list(ds.class_names)}


def fit(train: ConnectomeDataset) -> tuple[TangentSpace, LogisticRegression]:
    """The tangent space at ``train``'s mean and the classifier fitted on it."""
    ts = TangentSpace(metric="riemann").fit(spd(train))
    return ts, LogisticRegression(C=C, max_iter=5000).fit(ts.transform(spd(train)), train.labels)


def fit_predict(train: ConnectomeDataset, test: ConnectomeDataset) -> np.ndarray:
    """(test subjects, classes) probabilities of the baseline fitted on ``train``."""
    return _probabilities(*fit(train), test)


def _probabilities(ts: TangentSpace, clf: LogisticRegression, ds: ConnectomeDataset) -> np.ndarray:
    """(N, classes) with a column for every class of the contract, even one the fit never saw."""
    prob = np.zeros((ds.n_subjects, ds.n_classes))
    prob[:, clf.classes_] = clf.predict_proba(ts.transform(spd(ds)))
    return prob


def _loss_accuracy(prob: np.ndarray, ds: ConnectomeDataset) -> tuple[float, float]:
    return (float(log_loss(ds.labels, prob, labels=list(range(ds.n_classes)))),
            float((prob.argmax(axis=1) == ds.labels).mean()))


def train_tangent(spec: JobSpec, hooks: JobHooks, _dev=None) -> JobOutcome:  # noqa: ANN001
    """A dl_ts of the baseline. Raises ValueError (a fine-tune; missing train data)."""
    if spec.task_type != "dl_ts" or spec.train is None:
        raise ValueError(f"{NAME} trains from scratch only (dl_ts) and needs train data")
    if hooks.should_stop():
        return JobOutcome(True, 0, None, None, {"task_type": spec.task_type, "model": NAME, "stopped": True},
                          _contract(spec.train))
    started = time.perf_counter()
    ts, clf = fit(spec.train)
    train_loss, train_acc = _loss_accuracy(_probabilities(ts, clf, spec.train), spec.train)
    val_loss, val_acc = _loss_accuracy(_probabilities(ts, clf, spec.val), spec.val) if spec.val else (None, None)
    metrics = EpochMetrics(epoch=1, epochs=1, train_loss=train_loss, train_accuracy=train_acc, val_loss=val_loss,
                           val_accuracy=val_acc, learning_rate=0.0, seconds=time.perf_counter() - started,
                           examples=len(spec.train.labels))
    hooks.on_epoch(metrics)
    contract = _contract(spec.train)
    weights = pack_weights(_state(ts, clf, spec.train.n_classes), {"model": NAME, "contract": contract,
                                                                   "arch": {"shrinkage": SHRINKAGE, "C": C},
                                                                   "epochs_done": 1, "params": spec.params.model_dump()})
    epoch = asdict(metrics)
    result = {"task_type": "dl_ts", "model": NAME, "device": "cpu", "stopped": False, "epochs": 1, "epochs_done": 1,
              "params": spec.params.model_dump(), "final": epoch, "best": epoch, "best_epoch": 1,
              "final_val_loss": val_loss, "final_val_accuracy": val_acc, "best_val_loss": val_loss,
              "best_val_accuracy": val_acc, "history": [epoch], "early_stopped": False,
              "baseline": {"tangent_space": "pyriemann TangentSpace(metric='riemann')", "shrinkage": SHRINKAGE,
                           "classifier": f"scikit-learn LogisticRegression(penalty='l2', C={C})"}}
    if spec.test is not None:
        prob = _probabilities(ts, clf, spec.test)
        for prefix in ("test", "test_best"):
            result.update(set_report(spec.test.labels, prob, list(spec.test.class_names), spec.test.subjects,
                                     seed=spec.params.seed, label="the fitted model (one fit, no epochs)",
                                     loss=_loss_accuracy(prob, spec.test)[0], prefix=prefix))
    return JobOutcome(False, 1, weights, weights, result, contract)


def _state(ts: TangentSpace, clf: LogisticRegression, n_classes: int) -> dict:
    coef = np.zeros((n_classes if n_classes > 2 else 1, clf.coef_.shape[1]))
    coef[: clf.coef_.shape[0]] = clf.coef_
    return {"reference": torch.from_numpy(np.ascontiguousarray(ts.reference_)),
            "coef": torch.from_numpy(coef), "intercept": torch.from_numpy(np.resize(clf.intercept_, coef.shape[0])),
            "classes": torch.from_numpy(clf.classes_.astype(np.int64))}


def evaluate_tangent(spec: JobSpec, blob: bytes) -> dict:
    """The test report of stored baseline weights on ``spec.test``. Raises BadWeights."""
    state, meta = unpack_weights(blob)
    ts = TangentSpace(metric="riemann")
    ts.reference_ = state["reference"].numpy()
    clf = LogisticRegression()
    clf.coef_, clf.intercept_ = state["coef"].numpy(), state["intercept"].numpy()
    clf.classes_ = state["classes"].numpy()
    prob = _probabilities(ts, clf, spec.test)
    return set_report(spec.test.labels, prob, list(spec.test.class_names), spec.test.subjects, seed=spec.params.seed,
                      label="the evaluated task's weights", loss=_loss_accuracy(prob, spec.test)[0])
