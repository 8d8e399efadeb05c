"""MXNet's image semantics and complete results through a real stack (API, PostgreSQL, Redis, an
MXNet worker): MXServer's own CIFAR-style request, ``shapes ["3", "128", "128"]``, on 28×28 grey
images runs, its images fitted as ImageIter fits them (``input_fitting``); its kept checkpoint is
evaluated at that shape; a training with test data reports ``test_best_*``."""

from __future__ import annotations

import pytest

from tests.service.mxserver_requests import eval_request, train_request, wrapped
from tests.service.stack import MXNET_VENV, running_stack
from tests.service.test_mxserver_clients import upload_pair

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]

CIFAR_STYLE = {"train_param.data_param.shapes": ["3", "128", "128"], "train_param.num_epoch": "2",
               "train_param.save_period": "1", "train_param.save_prefix": "fitted"}


@pytest.fixture(scope="module")
def mx():
    with running_stack(workers=0, mx_workers=1) as s:
        for seed, stem in enumerate(("train", "val", "test"), start=1):
            upload_pair(s, stem, seed=seed)
        yield s


def test_the_seeds_cifar_style_request_runs_with_its_images_fitted(mx):
    r = mx.post("/train", json=wrapped("FITTED1", train_request(**CIFAR_STYLE)))
    assert r.status_code == 200, r.text
    done = mx.wait_task("FITTED1", timeout=120)
    assert done["status"] == "SUCCEEDED", done["error"]
    fitting = done["result"]["input_fitting"]
    assert fitting["from"] == [1, 28, 28] and fitting["to"] == [3, 128, 128]
    assert "center_crop" in fitting["how"] and "colour" in fitting["how"]
    assert done["result"]["contract"]["image_shape"] == [128, 128, 3]

    desc = eval_request(**{"test_param.ckp.prefix": "fitted", "test_param.ckp.epoch": "2",
                           "test_param.test_img_config.img_shapes": ["128", "128"]})
    r = mx.post("/eval", json=desc)
    assert r.status_code == 200, r.text
    ev = mx.wait_task(r.json()["task_id"], timeout=120)
    assert ev["status"] == "SUCCEEDED", ev["error"]
    assert ev["result"]["input_fitting"]["to"] == [3, 128, 128] and ev["result"]["test"]["n"] == 48


@pytest.mark.parametrize("changes,field", [
    ({"train_param.data_param.shapes": ["2", "128", "128"]}, "train_param.data_param.shapes"),
    ({"train_param.data_param.shapes": ["3", "256", "256"]}, "train_param.data_param.shapes"),  # small-cnn ≤ 128
    ({"train_param.data_param.shapes": ["3", "0", "128"]}, "train_param.data_param.shapes"),
], ids=["channels", "too-large-for-the-network", "empty"])
def test_only_what_mxnet_or_the_network_cannot_take_is_refused(mx, changes, field):
    r = mx.post("/train", json=train_request(**changes))
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.text


def test_a_training_with_test_data_reports_test_best(mx):
    body = {"network": "small-cnn", "train_data": ["shapes_train"], "val_data": ["shapes_val"],
            "test_data": ["shapes_test"], "num_epoch": 2, "batch_size": 16, "base_lr": 0.05,
            "context": [{"device_name": "cpu", "device_id": 0}], "skip_baseline": True}
    r = mx.post("/train", json=body)
    assert r.status_code == 200, r.text
    done = mx.wait_task(r.json()["task_id"], timeout=120)
    assert done["status"] == "SUCCEEDED", done["error"]
    m = done["metrics"]
    assert m["test_best_accuracy_low"] <= m["test_best_accuracy"] <= m["test_best_accuracy_high"]
    assert m["test_best_n"] == m["test_n"] == 48
    assert done["result"]["test_best"]["evaluated"].startswith("best validation loss (epoch ")
