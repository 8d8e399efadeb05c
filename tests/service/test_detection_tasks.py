"""Object detection through a real stack (API, PostgreSQL, Redis, an MXNet worker): MXServer's
nested body with ``"target": "detect"`` and the flat /train train an SSD on the demo detection
set; the result carries VOC and COCO mAP with intervals, per-epoch validation mAP and a curves
picture; /eval of a kept checkpoint scores only images the model never saw; a request whose
network, target and data disagree is refused naming the field."""

from __future__ import annotations

import pytest

from tests.service.dashboard_browser import Dashboard, chromium
from tests.service.mxserver_requests import train_request, wrapped
from tests.service.stack import MXNET_VENV, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]

DEMO = "demo_detection_shapes_64"
DETECTOR = "ssd_300_mobilenet0.25_custom"
CLASSES = {"0": "circle", "1": "square", "2": "triangle"}


def flat_train(**changes) -> dict:
    body = {"network": "ssd", "target": "detection", "train_data": [DEMO], "val_data": [DEMO], "test_data": [DEMO],
            "num_epoch": 2, "batch_size": 16, "base_lr": 0.02, "save_period": 1, "task_name": "boxes"}
    return {**body, **changes}


@pytest.fixture(scope="module")
def mx():
    with running_stack(workers=0, mx_workers=1) as s:
        yield s


@pytest.fixture(scope="module")
def trained(mx):
    r = mx.post("/train", json=wrapped("DETECT1", flat_train()))
    assert r.status_code == 200, r.text
    done = mx.wait_task("DETECT1", timeout=240)
    assert done["status"] == "SUCCEEDED", done["error"]
    return done


def test_a_flat_detection_request_trains_and_reports_map_with_intervals(mx, trained):
    result = trained["result"]
    assert result["target"] == "detection" and result["network"] == DETECTOR
    assert result["contract"]["class_names"] == list(CLASSES.values())
    for prefix in ("test", "test_best"):
        for score in ("map_voc", "map_coco"):
            value = result[f"{prefix}_{score}"]
            assert result[f"{prefix}_{score}_low"] <= value <= result[f"{prefix}_{score}_high"]
            part = result[prefix][score]
            assert part["map"] == value and len(part["per_class"]) == 3
    sizes = result["splits"]["sizes"]
    assert sizes["train"] + sizes["val"] + sizes["test"] == 300 and result["test"]["n"] == sizes["test"]
    epochs = mx.get("/api/v0/tasks/DETECT1/epochs").json()
    rows = epochs["epochs"] if isinstance(epochs, dict) else epochs
    assert [e["epoch"] for e in rows] == [1, 2] and all(e["val_map"] is not None for e in rows)
    for name in ("curves", "detections"):
        picture = mx.get(f"/api/v0/tasks/DETECT1/plots/{name}.png")
        assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"


def test_the_task_page_draws_the_boxes_on_test_images(mx, trained):
    with chromium() as browser:
        d = Dashboard(browser, mx.url, getattr(mx, "token", "no-accounts-yet"))
        try:
            page = d.open("/ui/tasks/DETECT1")
            page.wait_for_function("document.querySelector('#detections')?.naturalWidth > 0")
            assert page.inner_text("#cm-h") == "Detections (test images)"
            assert page.get_attribute("#acc-chart", "data-points") == "2"
            assert "Validation mAP" in page.inner_text("#acc-chart")
            assert "test_map_voc" in page.inner_text("#metrics")
            d.shot("task-detection")
            assert not d.errors, d.errors
        finally:
            d.close()


def test_evaluating_a_kept_checkpoint_scores_only_unseen_images(mx, trained):
    r = mx.post("/eval", json={"trained_task_id": "DETECT1", "test_data": [DEMO], "checkpoint_epoch": 1})
    assert r.status_code == 200, r.text
    ev = mx.wait_task(r.json()["task_id"], timeout=120)
    assert ev["status"] == "SUCCEEDED", ev["error"]
    assert ev["result"]["test"]["n"] == trained["result"]["test"]["n"]  # the parent's test images, no other
    assert ev["result"]["checkpoint_epoch"] == 1 and "test_map_voc" in ev["result"]


@pytest.fixture(scope="module")
def nested(mx):
    desc = train_request(**{
        "classes": CLASSES, "target": "detect", "net.name": DETECTOR, "net.config.num_classes": "3",
        "train_param.num_epoch": "1", "train_param.save_prefix": "boxes",
        "train_param.data_param.shapes": ["3", "128", "128"],
        "train_param.data_param.file_url": {"train_rec": DEMO, "train_idx": DEMO},
    })
    r = mx.post("/train", json=wrapped("DETECT2", desc))
    assert r.status_code == 200, r.text
    return mx.wait_task("DETECT2", timeout=240)


def test_mxservers_nested_detect_body_trains_a_detector(nested):
    assert nested["status"] == "SUCCEEDED", nested["error"]
    assert nested["result"]["data_shape"] == [3, 128, 128] and nested["result"]["epochs_done"] == 1


def test_a_detector_is_evaluated_only_at_the_size_it_was_trained_at(mx, nested):
    body = {"classes": CLASSES, "net": {"type": "built_in", "name": DETECTOR}, "for_training": "1",
            "target": "detect", "test_param": {"ckp": {"prefix": "boxes", "epoch": "1"}, "test_img_config": {
                "source": "local", "img_list": [DEMO], "img_shapes": ["160", "160"]}}}
    r = mx.post("/eval", json=body)
    assert r.status_code == 422, r.text
    problems = {p["field"]: p["problem"] for p in r.json()["errors"]}
    assert "trained at, 128×128, not 160×160" in problems.get("test_param.test_img_config.img_shapes", ""), problems


@pytest.mark.parametrize("shapes,words", [
    (["3", "128", "160"], "takes square images, got 128×160"),
    (["3", "64", "64"], "at least 128 pixels a side"),
    (["1", "128", "128"], "takes 3-channel images"),
])
def test_a_shape_a_detector_cannot_take_is_refused_naming_it(mx, shapes, words):
    desc = train_request(**{"classes": CLASSES, "target": "detect", "net.name": DETECTOR, "net.config.num_classes": "3",
                            "train_param.data_param.shapes": shapes,
                            "train_param.data_param.file_url": {"train_rec": DEMO, "train_idx": DEMO}})
    r = mx.post("/train", json=desc)
    assert r.status_code == 422, r.text
    problems = {p["field"]: p["problem"] for p in r.json()["errors"]}
    assert words in problems.get("train_param.data_param.shapes", ""), problems


@pytest.mark.parametrize("changes,field,words", [
    ({"target": "detection", "network": "small-cnn"}, "network", "small-cnn is an image classifier, not an object detector"),
    ({"target": "classify"}, "network", "is an object detector, not an image classifier"),
    ({"target": "segment"}, "target", "must be one of classify, detection"),
    ({"train_data": ["demo_shapes_28"]}, "train_data[0]", "holds image data, not images with boxes"),
])
def test_a_network_target_or_data_that_disagree_is_refused_naming_the_field(mx, changes, field, words):
    r = mx.post("/train", json=flat_train(**changes))
    assert r.status_code == 422, r.text
    problems = {p["field"]: p["problem"] for p in r.json()["errors"]}
    assert words in problems.get(field, ""), problems
