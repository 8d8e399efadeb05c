"""Nested cross-validation: each outer fold's configuration is the one with the lowest mean inner
validation loss, chosen on that fold's training part alone (the outer test subjects take no part),
then trained on the outer fold and tested on its test part; the outer refits report their epochs,
a resumed task keeps the configuration its fold chose, and a stop during an inner run stops the task."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.cv import make_folds
from models.cv_engine import run_cv
from models.engine import _train_job
from models.job import HyperParams, JobSpec, NestedCV
from models.nested_cv import inner_splits, joined
from tests.models.engine_helpers import Recorder, tiny

GRID = {"learning_rate": [0.0005, 0.05], "epochs": [1, 2]}


def _spec(ds, **kw) -> JobSpec:
    folds = make_folds(ds, "stratified_kfold", 2, 1, 0)
    data = tuple((ds.subset(f.train), ds.subset(f.val), ds.subset(f.test)) for f in folds)
    p = HyperParams(learning_rate=0.01, batch_size=8, lr_step_size=60, lr_decay=0.2, epochs=1)
    return JobSpec("dl_ts", "SGN-Head", p, ds, None, None, folds=data,
                   nested=NestedCV(GRID, 2, "stratified_kfold"), **kw)


class _Spy:
    """models.engine's trainer, keeping what each run trained, validated and tested on."""

    def __init__(self):
        self.runs = []

    def __call__(self, spec, hooks, dev):
        self.runs.append((spec.params, set(spec.train.subjects) | set(spec.val.subjects),
                          None if spec.test is None else set(spec.test.subjects)))
        return _train_job(spec, hooks, dev)


def _state(blob: bytes) -> tuple:
    from models.weights import load_checkpoint

    state = load_checkpoint(blob)
    return state["cv_fold"], state["inner"]


def _run(spec, hooks):
    import torch

    spy = _Spy()
    return run_cv(spec, hooks, torch.device("cpu"), spy), spy


@pytest.mark.slow
def test_each_outer_fold_trains_the_configuration_its_inner_folds_chose():
    ds = tiny(24, regions=10)
    spec = _spec(ds)
    rec = Recorder()
    out, spy = _run(spec, rec)
    nested = out.result["nested_cv"]
    assert (nested["runs"], len(spy.runs)) == (2 * (4 * 2 + 1), 18)
    assert (nested["selected_on"], nested["metric"], nested["inner_folds"]) == ("inner_cv", "best_val_loss", 2)
    refits = [r for r in spy.runs if r[2] is not None]
    for k, fold in enumerate(nested["folds"]):
        scores = fold["inner_scores"]
        assert [s["params"] for s in scores] == [{"learning_rate": lr, "epochs": e} for lr in (0.0005, 0.05)
                                                 for e in (1, 2)]
        assert all(s["mean"] == pytest.approx(sum(s["per_fold"]) / 2) for s in scores)
        assert fold["chosen"] == min(scores, key=lambda s: s["mean"])["params"]
        params, _, test = refits[k]
        assert (params.learning_rate, params.epochs) == (fold["chosen"]["learning_rate"], fold["chosen"]["epochs"])
        train, val, outer_test = spec.folds[k]
        inner = spy.runs[k * 9:k * 9 + 8]  # fold k's inner runs: none saw its test subjects
        assert all(seen <= set(train.subjects) | set(val.subjects) and t is None for _, seen, t in inner)
        assert test == set(outer_test.subjects)
    # Only the outer refits report epochs, numbered within the most a configuration trains (2).
    assert {m.epochs for m in rec.epochs} == {4} and [m.fold for m in rec.epochs] == sorted(m.fold for m in rec.epochs)
    assert out.result["test_n"] == 24 and out.result["test"]["intervals"]["accuracy"]["method"] == "wilson"
    assert "nested" not in out.result["cv"]["per_fold"][0]

    # Killed once fold 1 chose (its checkpoint at epoch 2, before its refit): the choice is kept.
    blob = next(b for kind, b, _ in rec.checkpoints if kind == "last" and _state(b) == (1, None))
    again, spy2 = _run(_spec(ds, resume_checkpoint=blob), Recorder())
    assert len(spy2.runs) == 1 and again.result["nested_cv"] == nested
    assert again.result["test"]["predictions"] == out.result["test"]["predictions"]


def test_inner_folds_split_the_outer_training_part_with_sklearn_and_keep_groups_whole():
    ds = tiny(24, regions=10)
    groups = tuple(f"site{i % 6}" for i in range(24))
    grouped = replace(ds, groups=groups)
    a, b = grouped.subset(range(16)), grouped.subset(range(16, 24))
    rest = joined(a, b)
    assert rest.subjects == a.subjects + b.subjects and rest.groups == groups
    splits = inner_splits(rest, NestedCV(GRID, 3, "kfold"), 0)
    assert len(splits) == 3
    for fit, held in splits:
        assert not {groups[i] for i in fit} & {groups[i] for i in held}
    plain = inner_splits(rest, NestedCV(GRID, 3, "stratified_kfold", by_groups=False), 0)
    assert sorted(i for _, held in plain for i in held) == list(range(24))


def test_a_stop_during_an_inner_run_stops_the_task_without_weights():
    ds = tiny(24, regions=10)
    out, spy = _run(_spec(ds), Recorder(stop_after=3))
    assert out.stopped and out.weights is None
    assert 1 <= len(spy.runs) < 8 and all(test is None for *_, test in spy.runs)  # inside fold 0's inner CV
    assert out.result["nested_cv"]["folds"] == [] and "test_accuracy" not in out.result
