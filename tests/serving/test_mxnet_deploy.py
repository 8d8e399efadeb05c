"""A trained MXNet task deployed through the real stack (API, an MXNet worker in .venv-mxnet
exporting with mx2onnx, a serving process in the torch venv that imports neither framework):
fresh PNG files and pixel arrays predict through MMS, the connectome-style route, KServe (array,
binary BYTES files) and Fractal the same probabilities as MXNet itself."""

from __future__ import annotations

import io
import json
import struct
import subprocess

import numpy as np
import pytest
import requests

from models.mxnet_backend.demo import DEMO_CLASSES, make_demo_images
from models.mxnet_backend.png import encode_png
from tests.serving.harness import Serving, wait_ready
from tests.service.stack import MXNET_VENV, ROOT, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]
TOL = 1e-4
DATA = "mx_shapes_serve"


@pytest.fixture(scope="module")
def mx(tmp_path_factory):
    """Stack + MXNet worker + serving process; a small-cnn task trained on the demo shapes and
    deployed as "shapes"; MXNet's own probabilities for fresh images."""
    with running_stack(point_here=False, workers=0, mx_workers=1) as s:
        r = s.post("/api/v0/datasets", files={"file": ("d.npz", make_demo_images(per_class=24, seed=1).to_npz_bytes())},
                   data={"kind": "image", "name": DATA})
        assert r.status_code == 202, r.text
        task_id = _train(s)
        serving = Serving(s).start()
        r = s.post(f"/api/v0/tasks/{task_id}/deploy", json={"name": "shapes", "batch_size": 4})
        assert r.status_code == 202, r.text
        described = wait_ready(s, "shapes", timeout=240)
        assert described["status"] == "READY", (described, s.log("mx0")[-3000:])
        serving.wait_model("shapes")
        fresh = make_demo_images(per_class=2, seed=77)
        s.mx_task_id = task_id
        yield s, serving, described, fresh, _mxnet_reference(s, task_id, fresh.images, tmp_path_factory.mktemp("mx"))


def _train(s) -> str:
    import time

    deadline = time.monotonic() + 120
    while s.get(f"/api/v0/datasets/{DATA}").json()["status"] == "VALIDATING":
        assert time.monotonic() < deadline, s.log("mx0")[-3000:]
        time.sleep(0.2)
    body = {"network": "small-cnn", "train_data": [DATA], "val_data": [DATA], "test_data": [DATA],
            "num_epoch": 4, "batch_size": 16, "base_lr": 0.1, "context": [{"device_name": "cpu", "device_id": 0}],
            "task_name": "mx-serve"}
    r = s.post("/train", json=body)
    assert r.status_code == 200 and r.json()["state_code"] == "0", r.text
    task_id = r.json()["task_id"]
    assert s.wait_task(task_id, timeout=300)["status"] == "SUCCEEDED", s.log("mx0")[-3000:]
    return task_id


def _mxnet_reference(s, task_id: str, images: np.ndarray, tmp) -> np.ndarray:
    (tmp / "ckpt").write_bytes(s.get(f"/api/v0/tasks/{task_id}/model").content)
    np.save(tmp / "images.npy", images)
    subprocess.run([str(MXNET_VENV / "bin" / "python"), "-m", "tests.serving.mx_reference", str(tmp / "ckpt"),
                    str(tmp / "images.npy"), str(tmp / "out.npy")], cwd=ROOT, check=True, timeout=120)
    return np.load(tmp / "out.npy")


def probs(rows: list[dict]) -> np.ndarray:
    return np.array([[row[c] for c in DEMO_CLASSES] for row in rows])


def test_export_is_verified_against_mxnet_and_keeps_the_image_contract(mx):
    s, serving, _, _, _ = mx
    described = s.get("/api/v1/models/shapes").json()["model"]
    v, c = described["verification"], described["contract"]
    assert v["subjects"] == "test" and v["n_subjects"] > 0 and v["max_abs_diff"] <= v["tolerance"] == TOL
    assert v["same_class"] == v["n_subjects"]
    assert c["backend"] == "mxnet" and c["image_shape"] == [28, 28, 1] and c["class_names"] == list(DEMO_CLASSES)
    meta = serving.get("/v2/models/shapes").json()
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 28, 28, 1]}]


def test_mms_predictions_of_png_files_and_arrays_equal_mxnet(mx):
    _, serving, _, fresh, want = mx
    r = serving.post("/predictions/shapes", data=encode_png(fresh.images[0]), headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(probs([r.json()]), want[:1], atol=TOL)
    files = [("data", (f"{i}.png", encode_png(im), "image/png")) for i, im in enumerate(fresh.images)]
    r = serving.post("/predictions/shapes", files=files)
    np.testing.assert_allclose(probs(r.json()), want, atol=TOL)
    r = serving.post("/predictions/shapes", json={"data": fresh.images[:, :, :, 0].tolist()[1]})
    np.testing.assert_allclose(probs([r.json()]), want[1:2], atol=TOL)


def test_connectome_style_predict_names_classes_per_image(mx):
    _, serving, _, fresh, want = mx
    files = [("file", (f"img{i}.png", encode_png(im), "image/png")) for i, im in enumerate(fresh.images)]
    r = serving.post("/api/v0/models/shapes/predict", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["class_names"] == list(DEMO_CLASSES) and body["image_shape"] == [28, 28, 1]
    preds = body["predictions"]
    assert [p["image"] for p in preds] == [f"img{i}.png" for i in range(len(fresh.images))]
    assert [p["class"] for p in preds] == [DEMO_CLASSES[k] for k in want.argmax(1)]
    np.testing.assert_allclose(probs([p["probabilities"] for p in preds]), want, atol=TOL)
    r = serving.post("/api/v0/models/shapes/predict", json={"images": fresh.images.tolist()})
    np.testing.assert_allclose(probs([p["probabilities"] for p in r.json()["predictions"]]), want, atol=TOL)


def test_a_larger_rgb_jpeg_is_decoded_grey_and_resized(mx):
    from PIL import Image

    _, serving, _, fresh, _ = mx
    big = Image.fromarray(fresh.images[0][:, :, 0]).convert("RGB").resize((56, 56))
    buf = io.BytesIO()
    big.save(buf, format="JPEG")
    r = serving.post("/api/v0/models/shapes/predict", files={"file": ("big.jpg", buf.getvalue(), "image/jpeg")})
    assert r.status_code == 200 and r.json()["predictions"][0]["resized"] is True, r.text


def test_kserve_infer_with_arrays_and_binary_png_files(mx):
    _, serving, _, fresh, want = mx
    arr = fresh.images.astype(np.float32)
    r = serving.post("/v2/models/shapes/infer", json={"inputs": [
        {"name": "image", "shape": list(arr.shape), "datatype": "FP32", "data": arr.reshape(-1).tolist()}],
        "outputs": [{"name": "probabilities"}]})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"]).reshape(want.shape), want, atol=TOL)
    blob = b"".join(struct.pack("<I", len(p)) + p for p in (encode_png(im) for im in fresh.images))
    head = json.dumps({"inputs": [{"name": "image", "shape": [len(arr)], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": len(blob)}}],
                       "outputs": [{"name": "probabilities", "parameters": {"classification": 1}}]}).encode()
    r = serving.post("/v2/models/shapes/infer", data=head + blob,
                     headers={"Inference-Header-Content-Length": str(len(head))})
    assert r.status_code == 200, r.text
    labels = [text.split(":")[2] for text in r.json()["outputs"][0]["data"]]
    assert labels == [DEMO_CLASSES[k] for k in want.argmax(1)]


def test_mms_management_registers_an_mxnet_task_too(mx):
    s, serving, _, fresh, want = mx
    r = s.post(f"/models?url=task:{s.mx_task_id}&model_name=shapes-mms&synchronous=true")
    assert r.status_code == 200, r.text
    assert s.get("/models/shapes-mms").json()[0]["status"] == "READY"
    serving.wait_model("shapes-mms")
    r = serving.post("/predictions/shapes-mms", data=encode_png(fresh.images[3]), headers={"Content-Type": "image/png"})
    np.testing.assert_allclose(probs([r.json()]), want[3:4], atol=TOL)
    r = requests.delete(s.url + "/models/shapes-mms", headers=getattr(s, "headers", None), timeout=30)
    assert r.status_code == 200, r.text


def test_fractal_values_are_pixels(mx):
    _, serving, _, fresh, want = mx
    r = serving.post("/api/v1/models/shapes/prediction", json={"values": fresh.images[2].tolist()})
    assert r.status_code == 200, r.text
    assert r.json()["values"] == [int(want[2].argmax())]
    np.testing.assert_allclose(r.json()["probabilities"], want[2:3], atol=TOL)


@pytest.mark.parametrize("kind, body, field", [
    ("json", {"image": np.zeros((27, 28, 1)).tolist()}, "(28, 28, 1)"),   # wrong shape names the right one
    ("json", {"image": np.full((28, 28), 300).tolist()}, "0..255"),      # pixel values out of range
    ("json", {"image": [[float("nan")] * 28] * 28}, "NaN"),
    ("raw", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "not a readable PNG or JPEG"),
    ("file", b"GIF89a" + b"\0" * 40, "not a readable PNG or JPEG"),     # a format the model does not take
    ("json", {"pixels": []}, "image"),
])
def test_bad_images_get_a_422_naming_the_problem(mx, kind, body, field):
    _, serving, _, _, _ = mx
    if kind == "json":
        r = serving.post("/api/v0/models/shapes/predict", data=json.dumps(body), headers={"Content-Type": "application/json"})
    elif kind == "raw":
        r = serving.post("/predictions/shapes", data=body, headers={"Content-Type": "image/png"})
    else:
        r = serving.post("/api/v0/models/shapes/predict", files={"file": ("x.gif", body)})
    assert r.status_code == 422 and field in r.text, r.text


def test_an_image_past_the_pixel_limit_is_refused_before_decoding(mx):
    from models.mxnet_backend.png import PNG_SIGNATURE, _chunk

    _, serving, _, _, _ = mx
    for side in (5000, 20000):  # past the serving limit (4096²), and past Pillow's own too
        header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # a decompression bomb's header
        bomb = PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IEND", b"")
        r = serving.post("/predictions/shapes", data=bomb, headers={"Content-Type": "image/png"})
        assert r.status_code == 422 and "than the limit of 16777216" in r.json()["message"], r.text


@pytest.mark.parametrize("shape", [[0], [0, 1]])
def test_a_bytes_input_of_no_image_is_refused_naming_its_shape(mx, shape):
    _, serving, _, _, _ = mx
    r = serving.post("/v2/models/shapes/infer", json={"inputs": [
        {"name": "image", "shape": shape, "datatype": "BYTES", "data": []}]})
    assert r.status_code == 422 and "inputs[0].shape" in r.json()["error"] and "N ≥ 1" in r.json()["error"], r.text
