"""The MXNet backend's result is a TaskResult (contracts.task_result) under the torch engine's
names, from a real short training and an evaluation of its weights, in the MXNet environment."""

from dataclasses import replace

import pytest

pytest.importorskip("mxnet")

from models.mxnet_backend.spec import MxJobSpec, MxTrainParams  # noqa: E402
from contracts.task_result import METRIC_FIELDS, TaskResult, metrics_of  # noqa: E402
from tasks.mx_backend import _run  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402

PARAMS = MxTrainParams(num_epoch=2, batch_size=32, base_lr=0.05, wd=1e-4, momentum=0.9,
                       lr_step_epochs=3, lr_factor=0.5, stop_factor_lr=1e-4, initializer="xavier", seed=1)


def test_training_and_evaluation_results_are_task_results(demo_train, demo_val):
    spec = MxJobSpec("dl_ts", "small-cnn", PARAMS, demo_train, demo_val, demo_val)
    trained = _run(spec, Recorder(), "cpu")
    result = TaskResult.model_validate(trained.result)  # every key defined, none misspelt
    assert result.backend == "mxnet" and result.task_type == "dl_ts"
    assert result.test.n == 100 and result.test_accuracy == result.test.accuracy
    assert result.test_accuracy_low <= result.test_accuracy <= result.test_accuracy_high
    assert result.final_train_accuracy == result.history[-1]["train_accuracy"]
    assert {"test_accuracy", "test_balanced_accuracy", "final_val_loss", "best_epoch"} <= set(metrics_of(trained.result))
    assert set(metrics_of(trained.result)) <= METRIC_FIELDS

    ev = replace(spec, task_type="dl_ev", train=None, val=None, init_weights=trained.weights)
    evaluated = TaskResult.model_validate(_run(ev, Recorder(), "cpu").result)
    assert evaluated.task_type == "dl_ev" and evaluated.checkpoint_epoch == 2
    assert evaluated.test_accuracy == pytest.approx(result.test_accuracy)
