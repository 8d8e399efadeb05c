"""Real, short MXNet training on the demo shapes on the CPU: learning, checkpoints, stop, resume,
fine-tune, evaluation, spec checks."""

from dataclasses import replace

import numpy as np
import pytest
from pydantic import ValidationError

pytest.importorskip("mxnet")

from models.mxnet_backend.checkpoint import CheckpointError, unpack_checkpoint  # noqa: E402
from models.mxnet_backend.demo import make_demo_images  # noqa: E402
from models.mxnet_backend.engine import evaluate_checkpoint, run_mx_job  # noqa: E402
from models.mxnet_backend.images import ImageDataset  # noqa: E402
from models.mxnet_backend.spec import MxJobSpec, MxSpecError, MxTrainParams  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402

PARAMS = MxTrainParams(num_epoch=6, batch_size=32, base_lr=0.05, wd=1e-4, momentum=0.9,
                       lr_step_epochs=3, lr_factor=0.5, stop_factor_lr=1e-4, initializer="xavier", seed=1)


@pytest.fixture(scope="module")
def trained(demo_train, demo_val):
    hooks = Recorder()
    spec = MxJobSpec("dl_ts", "small-cnn", PARAMS, demo_train, demo_val, demo_val)
    return spec, hooks, run_mx_job(spec, hooks)


def test_training_beats_chance_on_held_out_shapes(trained):
    _, hooks, outcome = trained
    assert not outcome.stopped and outcome.epochs_done == 6
    assert [m.epoch for m in hooks.epochs] == [1, 2, 3, 4, 5, 6]
    assert hooks.epochs[-1].train_loss < hooks.epochs[0].train_loss
    assert outcome.result["test"]["accuracy"] > 0.5  # chance is 0.25
    assert hooks.polls == 6 * 13  # 400 images / 32 → 13 batches, polled before each


def test_epoch_metrics_and_lr_schedule(trained):
    _, hooks, _ = trained
    assert [m.learning_rate for m in hooks.epochs] == pytest.approx([0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    m = hooks.epochs[0]
    assert m.epochs == 6 and m.seconds > 0
    # Accuracies are whole counts of images over the set's size (400 train, 100 val images).
    for accuracy, n in ((m.train_accuracy, 400), (m.val_accuracy, 100)):
        assert accuracy * n == pytest.approx(round(accuracy * n), abs=1e-6) and 0 < round(accuracy * n) <= n


def test_checkpoints_every_save_period_and_best(trained):
    _, hooks, outcome = trained
    lasts = [e for k, e in hooks.kinds() if k == "last"]
    assert lasts == [1, 2, 3, 4, 5, 6]
    bests = [e for k, e in hooks.kinds() if k == "best"]
    assert bests[0] == 1 and bests == sorted(bests)
    assert unpack_checkpoint(outcome.best_weights).meta.epoch == bests[-1]
    assert unpack_checkpoint(outcome.weights).meta.epoch == 6
    assert outcome.contract == {"backend": "mxnet", "model": "small-cnn", "classes": 4,
                                "class_names": ["circle", "square", "triangle", "cross"], "image_shape": [28, 28, 1]}


def test_save_period_two_saves_even_epochs_and_the_last(demo_train):
    hooks = Recorder()
    params = PARAMS.model_copy(update=dict(num_epoch=5, save_period=2))
    run_mx_job(MxJobSpec("dl_ts", "small-cnn", params, demo_train.subset(range(64))), hooks)
    # no val set: no "best"; each save_period checkpoint also offered to keep under its epoch
    assert hooks.kinds() == [("last", 2), ("epoch", 2), ("last", 4), ("epoch", 4), ("last", 5), ("epoch", 5)]
    kept = {e: unpack_checkpoint(b).meta.epoch for k, b, e in hooks.checkpoints if k == "epoch"}
    assert kept == {2: 2, 4: 4, 5: 5}


def test_evaluating_a_checkpoint(trained, demo_val):
    spec, _, outcome = trained
    res = evaluate_checkpoint(outcome.weights, "small-cnn", demo_val)
    assert res.accuracy == pytest.approx(outcome.result["test"]["accuracy"])
    confusion = np.array(res.confusion)
    assert confusion.shape == (4, 4) and confusion.sum() == demo_val.n_images
    assert np.trace(confusion) / demo_val.n_images == pytest.approx(res.accuracy)
    job = run_mx_job(MxJobSpec("dl_ev", "small-cnn", PARAMS, None, test=demo_val, init_weights=outcome.weights),
                     Recorder())
    assert job.result["test"]["confusion_matrix"] == res.confusion and job.epochs_done == 0


def test_evaluation_refuses_weights_that_do_not_fit(trained):
    _, _, outcome = trained
    other = make_demo_images(per_class=3, seed=5)
    renamed = ImageDataset(other.images, other.labels, ("a", "b", "c", "d"))
    with pytest.raises(CheckpointError, match="trained on classes"):
        evaluate_checkpoint(outcome.weights, "small-cnn", renamed)
    with pytest.raises(CheckpointError, match="weights are for small-cnn"):
        evaluate_checkpoint(outcome.weights, "resnet18_v1", other)
    with pytest.raises(CheckpointError, match="not a trainyard MXNet checkpoint"):
        evaluate_checkpoint(b"junk", "small-cnn", other)


def test_stop_before_the_first_epoch_ends_gives_no_weights(demo_train):
    hooks = Recorder(stop_after=5)
    outcome = run_mx_job(MxJobSpec("dl_ts", "small-cnn", PARAMS, demo_train), hooks)
    assert outcome.stopped and outcome.epochs_done == 0 and outcome.weights is None
    assert hooks.epochs == [] and hooks.polls == 6


def test_stop_then_resume_continues_epochs_schedule_and_weights(demo_train, demo_val):
    params = PARAMS.model_copy(update=dict(num_epoch=4, lr_step_epochs=1))
    first = Recorder(stop_after=2 * 13 + 3)  # stops during epoch 3
    stopped = run_mx_job(MxJobSpec("dl_ts", "small-cnn", params, demo_train, demo_val), first)
    assert stopped.stopped and stopped.epochs_done == 2
    assert unpack_checkpoint(stopped.weights).meta.epoch == 2
    second = Recorder()
    spec = MxJobSpec("dl_ts", "small-cnn", params, demo_train, demo_val, resume_checkpoint=stopped.weights)
    resumed = run_mx_job(spec, second)
    assert [m.epoch for m in second.epochs] == [3, 4] and resumed.epochs_done == 4
    # the optimizer's update count came back with the states: the rate keeps halving per epoch
    assert [m.learning_rate for m in first.epochs + second.epochs] == pytest.approx([0.05, 0.025, 0.0125, 0.00625])
    # the weights came back: the first resumed epoch trains far better than a fresh first epoch
    assert second.epochs[0].train_loss < first.epochs[0].train_loss * 0.8


def test_resume_of_a_finished_job_trains_nothing(trained, demo_train, demo_val):
    spec, _, outcome = trained
    hooks = Recorder()
    again = run_mx_job(replace(spec, resume_checkpoint=outcome.weights), hooks)
    assert hooks.epochs == [] and again.epochs_done == 6 and again.weights == outcome.weights


def test_fine_tune_starts_from_the_parent_weights(trained, demo_train, demo_val):
    _, parent_hooks, parent = trained
    hooks = Recorder()
    params = PARAMS.model_copy(update=dict(num_epoch=1, base_lr=0.005))
    run_mx_job(MxJobSpec("dl_ft", "small-cnn", params, demo_train, demo_val, init_weights=parent.weights), hooks)
    assert hooks.epochs[0].train_accuracy > parent_hooks.epochs[0].train_accuracy
    assert hooks.epochs[0].val_accuracy > 0.5


SPEC_CASES = [
    ("unknown network", dict(network="vgg99"), "unknown MXNet network"),
    ("unknown task type", dict(task_type="train"), "task_type must be one of"),
    ("eval without weights", dict(task_type="dl_ev"), "dl_ev needs init_weights"),
    ("fine-tune without weights", dict(task_type="dl_ft"), "dl_ft needs init_weights"),
    ("train without data", dict(train=None), "dl_ts needs train"),
]


@pytest.mark.parametrize("change", [dict(num_epoch=0), dict(momentum=1.0), dict(initializer="zeros"),
                                    dict(lr_factor=2.0), dict(init_param=-1.0)], ids=str)
def test_out_of_range_hyper_parameters_are_refused_where_they_are_built(change):
    with pytest.raises(ValidationError) as err:
        MxTrainParams(**{**PARAMS.model_dump(), **change})
    assert err.value.errors()[0]["loc"] == (next(iter(change)),)


@pytest.mark.parametrize("change, message", [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_inconsistent_specs_are_refused(demo_train, demo_val, change, message):
    spec = replace(MxJobSpec("dl_ts", "small-cnn", PARAMS, demo_train, demo_val), **change)
    with pytest.raises(MxSpecError) as err:
        run_mx_job(spec, Recorder())
    assert any(message in p for p in err.value.problems), err.value.problems


def test_val_with_other_classes_is_refused(demo_train):
    other = ImageDataset(demo_train.images[:8], demo_train.labels[:8] % 2, ("x", "y"))
    with pytest.raises(MxSpecError, match="val: classes"):
        run_mx_job(MxJobSpec("dl_ts", "small-cnn", PARAMS, demo_train, other), Recorder())
