"""Object-detection data through a real stack (gunicorn API, PostgreSQL, Redis, an MXNet worker
in .venv-mxnet): Pascal VOC and im2rec uploads validated by the worker, every bad box named, the
dataset view's statistics, and the demo detection dataset registered at start."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest

from models.mxnet_backend.detection_demo import DEMO_DETECTION_DATASET
from models.mxnet_backend.png import encode_png
from tests.service.recordio_files import MAGIC
from tests.service.stack import MXNET_VENV, running_stack
from tests.service.test_mxserver import wait_dataset

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]

VOC = "VOC2007/"


@pytest.fixture(scope="module")
def mx():
    with running_stack(workers=0, mx_workers=1) as s:
        yield s


def png(h: int, w: int, seed: int) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def voc_xml(width: int, height: int, objects) -> bytes:
    boxes = "".join(f"<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
                    f"<xmax>{c}</xmax><ymax>{e}</ymax></bndbox></object>" for n, a, b, c, e, d in objects)
    return (f"<annotation><size><width>{width}</width><height>{height}</height></size>{boxes}"
            "</annotation>").encode()


def voc_zip(annotations: dict[str, list]) -> bytes:
    """One 20×40 PNG per id with its annotation; objects are (name, xmin, ymin, xmax, ymax, difficult)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, (key, objects) in enumerate(annotations.items()):
            zf.writestr(f"{VOC}JPEGImages/{key}.png", png(20, 40, n))
            zf.writestr(f"{VOC}Annotations/{key}.xml", voc_xml(40, 20, objects))
    return buf.getvalue()


def detection_recordio(labels: list[list[float]]) -> tuple[bytes, bytes]:
    """(.rec, .idx) as im2rec writes detection records: the IRHeader's flag is the label's
    length and the float32 label follows the header, then the image."""
    rec, idx = bytearray(), []
    for key, label in enumerate(labels):
        values = np.asarray(label, dtype=np.float32)
        payload = struct.pack("<IfQQ", values.size, 0.0, key, 0) + values.tobytes() + png(16, 32, 10 + key)
        idx.append(f"{key}\t{len(rec)}\n")
        rec += struct.pack("<II", MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)
    return bytes(rec), "".join(idx).encode()


def upload(mx, name: str, files: list[tuple[str, bytes]]):
    r = mx.post("/api/v0/datasets", files=[("file", f) for f in files], data={"kind": "detection", "name": name})
    assert r.status_code == 202, r.text
    assert r.json()["dataset"]["kind"] == "detection" and r.json()["dataset"]["status"] == "VALIDATING"
    return wait_dataset(mx, name)


def test_the_demo_detection_dataset_is_listed(mx):
    listed = {d["name"]: d for d in mx.get("/api/v0/datasets").json()["datasets"]}
    demo = listed[DEMO_DETECTION_DATASET]
    assert (demo["kind"], demo["status"], demo["n_images"], demo["image_shape"]) == ("detection", "READY", 300, [64, 64, 3])
    assert demo["classes"] == ["circle", "square", "triangle"] and sum(demo["box_counts"].values()) == demo["n_boxes"]


def test_a_voc_upload_with_bad_boxes_is_rejected_naming_every_problem(mx):
    row = upload(mx, "voc_bad", [("voc.zip", voc_zip({
        "a": [("dog", 0, 0, 20, 10, 0), ("dog", 30, 5, 45, 10, 0)],
        "b": [("cat", 12, 2, 6, 8, 0)],
        "c": [("cat", 1, 1, 5, 25, 0), ("cat", 2, 2, 4, 4, 0)],
    }))])
    assert row["status"] == "REJECTED"
    assert row["problems"] == [
        f"{VOC}Annotations/a.xml object 2 (dog): xmax 45 outside the 40×20 image",
        f"{VOC}Annotations/b.xml object 1 (cat): xmin 12 is not less than xmax 6",
        f"{VOC}Annotations/c.xml object 1 (cat): ymax 25 outside the 40×20 image",
    ], row


def test_a_good_voc_upload_is_ready_with_its_statistics(mx):
    row = upload(mx, "voc_good", [("voc.zip", voc_zip({
        "a": [("dog", 0, 0, 20, 10, 0), ("cat", 20, 10, 40, 20, 1)],
        "b": [("dog", 4, 2, 12, 18, 0)],
        "c": [],
    }))])
    assert row["status"] == "READY", row
    assert (row["n_images"], row["image_shape"], row["classes"]) == (3, [20, 40, 3], ["cat", "dog"])
    assert (row["box_counts"], row["empty_images"], row["difficult_boxes"]) == ({"cat": 1, "dog": 2}, 1, 1)
    assert row["box_size"]["width"] == {"min": 8.0, "median": 20.0, "mean": 16.0, "max": 20.0}
    assert row["box_size"]["height"] == {"min": 10.0, "median": 10.0, "mean": 12.0, "max": 16.0}
    assert "normalised" in row["box_format"]
    body = {"network": "small-cnn", "train_data": ["voc_good"], "num_epoch": 1, "batch_size": 8}
    r = mx.post("/train", json=body)  # an image classifier cannot train on boxes
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "train_data[0]", r.text


def test_a_good_im2rec_upload_is_ready_with_its_statistics(mx):
    rec, idx = detection_recordio([
        [4, 5, 32, 16, 0, 0.0, 0.0, 0.5, 0.5, 1, 0.5, 0.5, 1.0, 1.0],  # GluonCV's header: width, height
        [2, 6, 1, 0.25, 0.25, 0.75, 0.75, 1],
        [2, 5],  # no objects
    ])
    row = upload(mx, "rec_good", [("d.rec", rec), ("d.idx", idx), ("classes.txt", b"circle\nsquare\n")])
    assert row["status"] == "READY", row
    assert (row["n_images"], row["classes"], row["box_counts"]) == (3, ["circle", "square"], {"circle": 1, "square": 2})
    assert (row["empty_images"], row["difficult_boxes"], row["n_boxes"]) == (1, 1, 3)
    assert row["box_size"]["width"] == {"min": 16.0, "median": 16.0, "mean": 16.0, "max": 16.0}


def test_an_unknown_kind_is_refused_naming_the_field(mx):
    r = mx.post("/api/v0/datasets", files={"file": ("x.zip", b"x")}, data={"kind": "detect"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
