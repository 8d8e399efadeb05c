"""A detector deployed through the real stack (API, an MXNet worker in .venv-mxnet exporting with
mx2onnx and verifying against MXNet, a serving process in the torch venv that imports neither
framework): a tiny SSD trained on the demo detection set through /train answers KServe v2, MMS
/predictions and Fractal with boxes, classes and scores for a PNG, and its boxes are the
detection engine's on that image."""

from __future__ import annotations

import base64
import subprocess

import numpy as np
import pytest

from models.mxnet_backend.detection_demo import DEMO_DETECTION_CLASSES, DEMO_DETECTION_DATASET, make_demo_detection
from models.mxnet_backend.png import encode_png
from tests.serving.harness import Serving, wait_ready
from tests.service.stack import MXNET_VENV, ROOT, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]
MODEL = "boxes"
SCORE_TOL = 1e-3  # the served resize is MXNet's computed in float: a pixel may differ by one grey level


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """Stack + MXNet worker + serving process; an SSD trained for 2 epochs, deployed as "boxes";
    fresh demo images and the engine's own detections on them."""
    with running_stack(point_here=False, workers=0, mx_workers=1) as s:
        body = {"network": "ssd", "target": "detection", "train_data": [DEMO_DETECTION_DATASET],
                "val_data": [DEMO_DETECTION_DATASET], "test_data": [DEMO_DETECTION_DATASET], "num_epoch": 2,
                "batch_size": 16, "base_lr": 0.02, "task_name": "boxes-serve"}
        r = s.post("/train", json=body)
        assert r.status_code == 200 and r.json()["state_code"] == "0", r.text
        task_id = r.json()["task_id"]
        assert s.wait_task(task_id, timeout=300)["status"] == "SUCCEEDED", s.log("mx0")[-3000:]
        serving = Serving(s).start()
        r = s.post(f"/api/v0/tasks/{task_id}/deploy", json={"name": MODEL, "batch_size": 4})
        assert r.status_code == 202, r.text
        described = wait_ready(s, MODEL, timeout=240)
        assert described["status"] == "READY", (described, s.log("mx0")[-3000:])
        serving.wait_model(MODEL)
        images = make_demo_detection(3, seed=77).images
        yield s, serving, images, _engine(s, task_id, images, tmp_path_factory.mktemp("det"))


def _engine(s, task_id: str, images: np.ndarray, tmp) -> list[dict]:
    (tmp / "ckpt").write_bytes(s.get(f"/api/v0/tasks/{task_id}/model").content)
    np.save(tmp / "images.npy", images)
    subprocess.run([str(MXNET_VENV / "bin" / "python"), "-m", "tests.serving.mx_detect_reference", str(tmp / "ckpt"),
                    str(tmp / "images.npy"), str(tmp / "out.npz")], cwd=ROOT, check=True, timeout=180)
    out = np.load(tmp / "out.npz")
    return [{k: out[f"{k}_{i}"] for k in ("boxes", "classes", "scores")} for i in range(len(images))]


def _iou(a, b) -> float:
    if np.all(np.abs(np.asarray(a) - np.asarray(b)) <= 0.01):
        return 1.0  # equal boxes, of no area too (a weak net's, clipped to an edge)
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def assert_same_detections(served: list[dict], engine: dict) -> None:
    """Every engine detection has a served one of its class with IoU ≥ 0.99 and a score within
    SCORE_TOL, but for at most two at the bottom of its list (where a float-level difference may
    swap near-equal candidates at the cut), and the served list is no longer."""
    assert len(served) <= len(engine["scores"]) + 2
    lowest = float(engine["scores"].min()) if len(engine["scores"]) else 0.0
    free, unmatched = list(served), 0
    for box, k, score in zip(engine["boxes"], engine["classes"], engine["scores"]):
        match = next((d for d in free if d["class_index"] == int(k) and _iou(d["box"], box) >= 0.99
                      and abs(d["score"] - float(score)) <= SCORE_TOL), None)
        if match is None:
            unmatched += 1
            assert score <= lowest + SCORE_TOL and unmatched <= 2, (box, k, score, served)
            continue
        free.remove(match)


def test_export_is_verified_against_mxnet_and_names_the_fallback(deployed):
    s, serving, _, _ = deployed
    model = s.get(f"/api/v1/models/{MODEL}").json()["model"]
    v, c = model["verification"], model["contract"]
    assert v["subjects"] == "test" and v["n_subjects"] > 0 and v["min_iou"] >= 0.99 and v["matched"] > 0
    assert c["task"] == "detection" and c["class_names"] == list(DEMO_DETECTION_CLASSES)
    assert c["postprocessing"]["nms"] == {"overlap_thresh": 0.45, "topk": 400, "valid_thresh": 0.01,
                                          "post_nms": 100, "force_suppress": False}
    meta = serving.get(f"/v2/models/{MODEL}").json()
    assert [o["name"] for o in meta["outputs"]] == ["boxes", "classes", "scores", "batch_index"]
    assert meta["parameters"]["class_names"] == list(DEMO_DETECTION_CLASSES)


def test_mms_predictions_of_a_png_are_the_engines_detections(deployed):
    _, serving, images, engine = deployed
    r = serving.post(f"/predictions/{MODEL}", data=encode_png(images[0]), headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert rows and set(rows[0]) == {"class", "class_index", "score", "box"}
    assert all(row["class"] == DEMO_DETECTION_CLASSES[row["class_index"]] for row in rows)
    assert_same_detections(rows, engine[0])
    files = [("data", (f"{i}.png", encode_png(im), "image/png")) for i, im in enumerate(images)]
    r = serving.post(f"/predictions/{MODEL}", files=files)
    assert r.status_code == 200 and len(r.json()) == len(images), r.text
    for rows, want in zip(r.json(), engine):
        assert_same_detections(rows, want)


def test_kserve_infer_answers_boxes_classes_and_scores(deployed):
    _, serving, images, engine = deployed
    pngs = [base64.b64encode(encode_png(im)).decode() for im in images[:2]]
    r = serving.post(f"/v2/models/{MODEL}/infer", json={"inputs": [
        {"name": "image", "shape": [2], "datatype": "BYTES", "data": pngs}]})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert set(out) == {"boxes", "classes", "scores", "batch_index"}
    n = out["scores"]["shape"][0]
    assert out["boxes"]["shape"] == [n, 4] and out["classes"]["datatype"] == "INT64" and n > 0
    boxes = np.array(out["boxes"]["data"]).reshape(n, 4)
    batch = np.array(out["batch_index"]["data"])
    for i in range(2):
        rows = [{"class_index": k, "score": sc, "box": list(b)} for b, k, sc, j in
                zip(boxes, out["classes"]["data"], out["scores"]["data"], batch) if j == i]
        assert_same_detections(rows, engine[i])


def test_fractal_values_are_detections_per_image_of_any_size(deployed):
    _, serving, images, engine = deployed
    r = serving.post(f"/api/v1/models/{MODEL}/prediction", json={"values": images[1].tolist()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["http_status"]["code"] == 200 and body["class_names"] == list(DEMO_DETECTION_CLASSES)
    assert_same_detections(body["values"][0], engine[1])
    big = np.kron(images[1], np.ones((3, 2, 1), np.uint8))  # 192×128: boxes come back in its pixels
    r = serving.post(f"/api/v1/models/{MODEL}/prediction", json={"values": big.tolist()})
    boxes = np.array([d["box"] for d in r.json()["values"][0]])
    assert boxes.size and boxes[:, [0, 2]].max() <= 128 and boxes[:, [1, 3]].max() <= 192


@pytest.mark.parametrize("body, field", [
    ({"values": np.zeros((8, 8, 2)).tolist()}, "(H, W, 3)"),
    ({"values": np.full((8, 8, 3), 300).tolist()}, "0..255"),
    ({"pixels": []}, "values"),
])
def test_bad_images_get_a_422_naming_the_problem(deployed, body, field):
    _, serving, _, _ = deployed
    r = serving.post(f"/api/v1/models/{MODEL}/prediction", json=body)
    assert r.status_code == 422 and field in r.text, r.text


def test_the_connectome_route_sends_a_detector_elsewhere(deployed):
    _, serving, images, _ = deployed
    r = serving.post(f"/api/v0/models/{MODEL}/predict", files={"file": ("a.png", encode_png(images[0]), "image/png")})
    assert r.status_code == 409 and "detector" in r.text, r.text
