"""The pixel baseline beside an MXNet task's test result: a logistic regression on the task's own
training images, scored on its test images and paired image by image with the network; checked
against scikit-learn and statsmodels on the same images."""

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mxnet")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from statsmodels.stats.contingency_tables import mcnemar  # noqa: E402

from models.mxnet_backend import pixel_baseline  # noqa: E402
from models.mxnet_backend.engine import evaluate_checkpoint  # noqa: E402
from models.mxnet_backend.spec import MxJobSpec, MxTrainParams  # noqa: E402
from tasks.mx_backend import _run  # noqa: E402
from tests.models.engine_helpers import Recorder  # noqa: E402

PARAMS = MxTrainParams(num_epoch=2, batch_size=32, base_lr=0.05, wd=1e-4, momentum=0.9,
                       lr_step_epochs=3, lr_factor=0.5, stop_factor_lr=1e-4, initializer="xavier", seed=1)


@pytest.fixture(scope="module")
def spec(demo_train, demo_val):
    return MxJobSpec("dl_ts", "small-cnn", PARAMS, demo_train.subset(range(160)), demo_val, demo_val)


def test_the_baseline_is_a_logistic_regression_on_the_tasks_own_images_paired_with_the_network(spec):
    result = _run(spec, Recorder(), "cpu").result
    record = result["standard_baseline"]
    x = lambda ds: ds.images.reshape(ds.n_images, -1) / 255.0  # noqa: E731 - 28×28 grey fits as is
    reference = LogisticRegression(max_iter=pixel_baseline.MAX_ITER).fit(x(spec.train), spec.train.labels)
    right_baseline = reference.predict(x(spec.test)) == spec.test.labels
    assert record["model"] == "pixel-logreg" and record["n_train"] == 160
    assert record["fitted_on"] == "the task's training images"
    assert result["baseline_test_accuracy"] == pytest.approx(right_baseline.mean(), abs=1 / spec.test.n_images)
    assert result["baseline_test_accuracy_low"] <= result["baseline_test_accuracy"] <= result["baseline_test_accuracy_high"]
    cm = np.array(result["test"]["confusion_matrix"])
    accuracy = next(p for p in record["paired"] if p["metric"] == "test_accuracy")
    assert accuracy["difference"] == pytest.approx(np.trace(cm) / cm.sum() - result["baseline_test_accuracy"])
    assert result["baseline_accuracy_difference"] == accuracy["difference"]
    assert accuracy["method"] == "McNemar's exact test" and 0 < accuracy["p_value"] <= 1
    assert record["seconds"] >= 0


def test_skip_baseline_and_large_images_are_averaged_into_blocks(spec):
    assert _run(replace(spec, with_baseline=False), Recorder(), "cpu").result["standard_baseline"] == {
        "skipped": "skip_baseline was set on the form"}
    wide = replace(spec.train, images=np.repeat(np.repeat(spec.train.images, 3, axis=1), 3, axis=2))
    assert pixel_baseline._block(wide) == 2  # 84×84 = 7056 inputs > MAX_FEATURES
    assert pixel_baseline.pixels(wide, 2).shape == (160, 42 * 42)


def test_mcnemar_p_value_equals_statsmodels_on_the_same_images(spec):
    outcome = _run(spec, Recorder(), "cpu")
    accuracy = next(p for p in outcome.result["standard_baseline"]["paired"] if p["metric"] == "test_accuracy")
    network = evaluate_checkpoint(outcome.weights, "small-cnn", spec.test).probabilities
    right_a = network.argmax(axis=1) == spec.test.labels
    x = lambda ds: ds.images.reshape(ds.n_images, -1) / 255.0  # noqa: E731
    reference = LogisticRegression(max_iter=pixel_baseline.MAX_ITER).fit(x(spec.train), spec.train.labels)
    right_b = reference.predict(x(spec.test)) == spec.test.labels
    table = [[np.sum(right_a & right_b), np.sum(right_a & ~right_b)],
             [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)]]
    assert accuracy["n_common"] == spec.test.n_images
    assert accuracy["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
