"""What a training's result reports: the last epoch and the best-validation checkpoint, each
labelled and tested with intervals; early stopping after ``patience`` epochs without a new best."""

from __future__ import annotations

from models.engine import run_job
from models.job import JobSpec
from tests.models.engine_helpers import Recorder, params, split, tiny


def test_last_and_best_checkpoints_are_both_tested_and_labelled_and_patience_stops_early():
    train, val, test = split(tiny(40, regions=10), (0.5, 0.25, 0.25))
    rec = Recorder()
    out = run_job(JobSpec("dl_ts", "SGN-Head", params(epochs=30, patience=2, learning_rate=0.05), train, val, test),
                  rec, "cpu")
    r = out.result
    best = r["best_epoch"]
    assert r["early_stopped"] and out.epochs_done == best + 2 < 30
    losses = [m.val_loss for m in rec.epochs]
    assert min(losses[best:]) >= losses[best - 1]  # no better epoch after the best
    assert r["test"]["evaluated"] == f"last epoch ({out.epochs_done})"
    assert r["test_best"]["evaluated"] == f"best validation loss (epoch {best})"
    for prefix in ("test", "test_best"):
        assert r[f"{prefix}_accuracy_low"] <= r[f"{prefix}_accuracy"] <= r[f"{prefix}_accuracy_high"]
        assert r[f"{prefix}_n"] == test.n_subjects and r[f"{prefix}_chance_level"] == 0.5


def test_resumed_after_the_best_epoch_stops_where_an_uninterrupted_run_does():
    train, val, test = split(tiny(40, regions=10), (0.5, 0.25, 0.25))
    spec = JobSpec("dl_ts", "SGN-Head", params(epochs=30, patience=2, learning_rate=0.05), train, val, test)
    rec = Recorder()
    whole = run_job(spec, rec, "cpu")
    blob = next(b for kind, b, epoch in rec.checkpoints if kind == "last" and epoch == whole.result["best_epoch"] + 1)
    again = run_job(JobSpec(**{**spec.__dict__, "resume_checkpoint": blob}), Recorder(), "cpu")
    assert again.epochs_done == whole.epochs_done
    assert again.result["test"]["predictions"] == whole.result["test"]["predictions"]
