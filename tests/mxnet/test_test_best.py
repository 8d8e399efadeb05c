"""MXNet training results carry ``test_best_*``: the lowest-validation-loss epoch's weights on the
test set, with the intervals the final weights' metrics get, kept across a resume."""

import numpy as np
import pytest

pytest.importorskip("mxnet")

from contracts.task_result import TaskResult  # noqa: E402
from models.mxnet_backend.demo import make_demo_images  # noqa: E402
from models.mxnet_backend.engine import evaluate_checkpoint, run_mx_job  # noqa: E402
from models.mxnet_backend.images import ImageDataset  # noqa: E402
from models.mxnet_backend.spec import MxJobSpec, MxTrainParams  # noqa: E402
from tasks.mx_backend import _run  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402

PARAMS = MxTrainParams(num_epoch=3, batch_size=32, base_lr=0.05, initializer="xavier", seed=1)
TRAIN, VAL, TEST = (make_demo_images(per_class=n, seed=s) for n, s in ((20, 0), (8, 1), (10, 2)))


def test_test_best_is_the_best_validation_epochs_with_intervals():
    result = _run(MxJobSpec("dl_ts", "small-cnn", PARAMS, TRAIN, VAL, TEST), Recorder(), "cpu").result
    best = min(result["history"], key=lambda h: h["val_loss"])["epoch"]
    report = TaskResult.model_validate(result).test_best
    assert report.evaluated == f"best validation loss (epoch {best})"
    assert result["test"]["evaluated"] == "last epoch (3)"
    for prefix in ("test", "test_best"):
        assert result[f"{prefix}_n"] == TEST.n_images and result[f"{prefix}_chance_level"] == 0.25
        assert result[f"{prefix}_accuracy_low"] <= result[f"{prefix}_accuracy"] <= result[f"{prefix}_accuracy_high"]
        assert result[f"{prefix}_balanced_accuracy"] is not None
    assert result["test_best"]["intervals"]["accuracy"]["method"] == result["test"]["intervals"]["accuracy"]["method"]


def test_without_validation_data_there_is_no_test_best():
    result = run_mx_job(MxJobSpec("dl_ts", "small-cnn", PARAMS, TRAIN, None, TEST), Recorder()).result
    assert "test" in result and "test_best" not in result


def test_a_resumed_run_still_tests_its_best_epochs_weights():
    """Resumed with validation labels scrambled, the resumed epoch cannot beat the best epoch
    before the stop: test_best must be that epoch's weights (carried in the checkpoint), not the
    final ones."""
    params = PARAMS.model_copy(update=dict(num_epoch=2))
    first = Recorder()
    stopped = run_mx_job(MxJobSpec("dl_ts", "small-cnn", params, TRAIN, VAL), first)
    _, best_blob, best_epoch = first.last("best")
    scrambled = ImageDataset(VAL.images, np.roll(VAL.labels, 1), VAL.class_names)
    resume = MxJobSpec("dl_ts", "small-cnn", PARAMS, TRAIN, scrambled, TEST, resume_checkpoint=stopped.weights)
    result = run_mx_job(resume, Recorder()).result
    assert result["test_best"]["evaluated"] == f"best validation loss (epoch {best_epoch})"
    want = evaluate_checkpoint(best_blob, "small-cnn", TEST)
    assert result["test_best"]["loss"] == pytest.approx(want.loss, rel=1e-6)
    assert result["test_best"]["confusion_matrix"] == want.confusion
    assert result["test_best"]["loss"] != result["test"]["loss"]  # the final weights are another epoch's
