"""A cross-validated training run: the job's folds trained one after the other.

Each fold is an ordinary training run (models.engine) on its train / val / test subjects, with
the task's hyper-parameters and seed; its epochs are reported numbered over all folds (fold k's
epoch e is k·epochs + e, ``fold`` = k) and its "last" checkpoints wrap the fold's own with the
fold index and the results of the folds before it, so a resumed task continues at the fold and
epoch it reached, with identical results. Stop and pause work as in a single run.

The result: per-fold metrics (test, and validation: what a sweep's choice is made on), their
mean and standard deviation, and ``test_*`` /
``test_best_*`` of the pooled out-of-fold predictions (one per subject: the mean of its
probabilities over repeats), with their intervals. The weights stored are the last fold's.

With ``spec.nested`` each fold first chooses its configuration by an inner cross-validation
(models.nested_cv), checkpointed once chosen (so a resumed task keeps it), and the result adds
``nested_cv``; each fold's epochs are then numbered within the most any configuration trains.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from contracts.selection import VALIDATION_METRICS
from models.evaluation import set_report
from models.job import EpochMetrics, JobHooks, JobOutcome, JobSpec, pause_requested
from models.metrics import SCORES
from models import nested_cv
from models.weights import FORMAT, load_checkpoint, save_checkpoint


class _FoldHooks:
    """The task's hooks as one fold sees them."""

    def __init__(self, hooks: JobHooks, fold: int, epochs: int, total: int, done: list, chosen: dict | None = None):
        self.hooks, self.fold, self.offset, self.total, self.done = hooks, fold, fold * epochs, total, done
        self.chosen = chosen  # nested CV: this fold's configuration, kept for a resume

    def on_epoch(self, metrics: EpochMetrics) -> None:
        self.hooks.on_epoch(replace(metrics, epoch=self.offset + metrics.epoch, epochs=self.total, fold=self.fold))

    def on_checkpoint(self, kind: str, blob: bytes, epoch: int) -> None:
        if kind == "last":
            self.hooks.on_checkpoint("last", _wrapped(self.fold, self.done, blob, self.chosen), self.offset + epoch)

    def should_stop(self) -> bool:
        return self.hooks.should_stop()

    def should_pause(self) -> bool:
        return pause_requested(self.hooks)


def _wrapped(fold: int, done: list, inner: bytes | None, chosen: dict | None) -> bytes:
    """A fold's "last" checkpoint: the fold, the folds before it, its own checkpoint (None: not
    started) and, nested, its chosen configuration."""
    return save_checkpoint({"format": FORMAT, "cv_fold": fold, "cv_done": done, "inner": inner, "cv_chosen": chosen})


def run_cv(spec: JobSpec, hooks: JobHooks, dev: torch.device, train_job) -> JobOutcome:  # noqa: ANN001
    """``train_job`` is models.engine's single-run trainer. Raises what it raises."""
    epochs, n_folds = nested_cv.fold_epochs(spec), len(spec.folds)
    start, done, inner, chosen = 0, [], None, None
    if spec.resume_checkpoint is not None:
        state = load_checkpoint(spec.resume_checkpoint)
        start, done, inner = int(state["cv_fold"]), list(state["cv_done"]), state["inner"]
        chosen = state.get("cv_chosen")
    out = None
    for k in range(start, n_folds):
        if spec.nested is not None and chosen is None:
            chosen, stopped = nested_cv.choose(spec, k, hooks, dev, train_job)
            if stopped is not None:
                return _outcome(spec, dev, done, out or nested_cv.stopped_outcome(stopped), k * epochs, stopped=True)
            hooks.on_checkpoint("last", _wrapped(k, done, None, chosen), k * epochs)
        out = train_job(_fold_spec(spec, k, inner if k == start else None, chosen),
                        _FoldHooks(hooks, k, epochs, epochs * n_folds, done, chosen), dev)
        if out.stopped:
            return _outcome(spec, dev, done, out, k * epochs + out.epochs_done, stopped=True)
        done.append({**_fold_summary(k, out), **({"nested": chosen} if chosen else {})})
        chosen = None
    return _outcome(spec, dev, done, out, (n_folds - 1) * epochs + out.epochs_done, stopped=False)


def _fold_spec(spec: JobSpec, k: int, resume: bytes | None, chosen: dict | None) -> JobSpec:
    """Fold ``k``'s run: its parts, and nested, the configuration its inner CV chose."""
    train, val, test = spec.folds[k]
    params = spec.params if chosen is None else nested_cv.with_config(spec.params, chosen["chosen"])
    return replace(spec, params=params, train=train, val=val, test=test, folds=None, nested=None,
                   resume_checkpoint=resume)


def _fold_summary(k: int, out: JobOutcome) -> dict:
    r = out.result
    keep = {f"{p}_{m}": r.get(f"{p}_{m}") for p in ("test", "test_best") for m in (*SCORES, "loss", "n")}
    keep.update({name: r.get(name) for name in sorted(VALIDATION_METRICS)})  # what a sweep's choice is made on
    return {"fold": k, "epochs_done": out.epochs_done, "best_epoch": r.get("best_epoch"), **keep,
            "oof": _predictions(r["test"]), "oof_best": _predictions(r["test_best"])}


def _predictions(detail: dict) -> list:
    names = detail["class_names"]
    return [[p["subject"], names.index(p["label"]), [p["probabilities"][c] for c in names]]
            for p in detail["predictions"]]


def pooled(done: list, key: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Subjects, labels and probabilities averaged over the folds that tested each subject."""
    sums: dict[str, list] = {}
    for fold in done:
        for subject, label, prob in fold[key]:
            entry = sums.setdefault(subject, [label, np.zeros(len(prob)), 0])
            entry[1] += prob
            entry[2] += 1
    subjects = list(sums)
    return (subjects, np.array([sums[s][0] for s in subjects]),
            np.array([sums[s][1] / sums[s][2] for s in subjects]))


def _spread(done: list) -> dict:
    out: dict = {"mean": {}, "std": {}}
    for key in (*(f"{p}_{m}" for p in ("test", "test_best") for m in SCORES), *sorted(VALIDATION_METRICS)):
        values = [f[key] for f in done if f.get(key) is not None]
        if values:
            out["mean"][key], out["std"][key] = float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return out


def _outcome(spec: JobSpec, dev, done: list, last: JobOutcome, epochs_done: int, stopped: bool) -> JobOutcome:
    result = {
        "task_type": spec.task_type, "model": last.result.get("model"), "device": str(dev), "stopped": stopped,
        "epochs": nested_cv.fold_epochs(spec) * len(spec.folds), "epochs_done": epochs_done, "params": spec.params.model_dump(),
        "graph": last.result.get("graph"), "fine_tuned_from": last.result.get("fine_tuned_from"),
        "cv": {"folds_done": len(done), "n_folds": len(spec.folds),
               "per_fold": [{k: v for k, v in f.items() if not k.startswith(("oof", "nested"))} for f in done],
               **_spread(done), "pooled": "test_* and test_best_* are the metrics of the pooled out-of-fold "
                                         "predictions, one per subject"},
    }
    if spec.nested is not None:
        result["nested_cv"] = nested_cv.record(spec.nested, done)
    if not stopped and done:
        class_names = last.contract["class_names"]
        for key, prefix, label in (("oof", "test", "each fold's last epoch"),
                                   ("oof_best", "test_best", "each fold's best validation loss")):
            subjects, y, prob = pooled(done, key)
            result.update(set_report(y, prob, class_names, subjects, seed=spec.params.seed,
                                     label=f"pooled out-of-fold predictions, {label}", prefix=prefix))
    return JobOutcome(stopped, epochs_done, last.weights, last.best_weights, result, last.contract)
