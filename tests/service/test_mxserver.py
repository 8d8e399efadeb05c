"""MXServer's endpoints through a real stack: gunicorn API, PostgreSQL, Redis and an MXNet worker
started by ``start.sh worker --backend mxnet`` in .venv-mxnet. /train → poll → /eval → /stop as
a user would call them, image uploads validated by the worker, and field-level rejections."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from models.mxnet_backend.demo import make_demo_images
from models.mxnet_backend.png import encode_png
from tests.service.forms import form
from tests.service.stack import MXNET_VENV, Stack, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]

SMALL = "shapes_small"


@pytest.fixture(scope="module")
def mx():
    """PostgreSQL + Redis, the API, one MXNet worker, the reaper; a small image dataset
    uploaded through the API and validated by the worker."""
    with running_stack(workers=0, mx_workers=1) as s:
        upload_npz(s, SMALL, make_demo_images(per_class=24, seed=1).to_npz_bytes())
        assert wait_dataset(s, SMALL)["status"] == "READY"
        yield s


def upload_npz(s: Stack, name: str, blob: bytes, filename: str = "data.npz"):
    r = s.post("/api/v0/datasets", files={"file": (filename, blob)}, data={"kind": "image", "name": name})
    assert r.status_code == 202, r.text
    assert r.json()["dataset"]["status"] == "VALIDATING"
    return r


def wait_dataset(s: Stack, name: str, timeout: float = 60) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        row = s.get(f"/api/v0/datasets/{name}").json()
        if row["status"] != "VALIDATING":
            return row
        assert time.monotonic() < deadline, s.log("mx0")[-3000:]
        time.sleep(0.1)


def train_body(**changes) -> dict:
    body = {"network": "small-cnn", "train_data": [SMALL], "val_data": [SMALL], "test_data": [SMALL],
            "num_epoch": 2, "batch_size": 16, "base_lr": 0.05, "wd": 0.0001, "momentum": 0.9,
            "lr_scheduler": {"type": "Factor", "step": 1, "factor": 0.5, "stop_factor_lr": 1e-5},
            "initializer": "Xavier", "save_period": 1, "context": [{"device_name": "cpu", "device_id": 0}],
            "task_name": "mx-e2e"}
    body.update(changes)
    return body


def post_ok(s: Stack, path: str, body: dict) -> str:
    r = s.post(path, json=body)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["state_code"] == "0" and reply["state_desc"] == "OK_TO_RUN"
    assert set(reply) == {"task_id", "state_code", "state_desc"}
    return reply["task_id"]


def task_count(s: Stack) -> int:
    return len(s.get("/api/v0/tasks?limit=500").json()["tasks"])


def test_models_lists_the_mxnet_networks(mx):
    models = {m["name"]: m for m in mx.get("/api/v0/models").json()["models"]}
    assert models["small-cnn"]["backend"] == "mxnet" and models["small-cnn"]["input"] == "image"
    assert models["resnet18_v1"]["aliases"] == ["resnet18"]
    assert models["SGN"]["backend"] == "torch"


def test_train_poll_eval_stop(mx):
    task_id = post_ok(mx, "/train", train_body())
    done = mx.wait_task(task_id, timeout=240)
    assert done["status"] == "SUCCEEDED", done
    assert done["backend"] == "mxnet" and done["model"] == "small-cnn"
    assert done["param_set"]["num_epoch"] == 2 and done["param_set"]["lr_factor"] == 0.5
    assert done["param_set"]["initializer"] == "xavier"
    confusion = done["result"]["test"]["confusion_matrix"]
    assert sum(map(sum, confusion)) == done["result"]["test"]["n"] > 0
    correct = sum(row[i] for i, row in enumerate(confusion))
    assert done["metrics"]["test_accuracy"] == pytest.approx(correct / done["result"]["test"]["n"])
    m = done["metrics"]
    assert m["test_accuracy_low"] <= m["test_accuracy"] <= m["test_accuracy_high"]
    assert done["result"]["test"]["intervals"]["accuracy"]["method"] == "wilson"
    assert m["test_chance_level"] == pytest.approx(max(done["result"]["test"]["class_counts"].values()) / m["test_n"])
    epochs = mx.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[1]["learning_rate"] < epochs[0]["learning_rate"]  # the Factor schedule stepped
    listed = {t["task_id"]: t for t in mx.get("/api/v0/tasks?proj_id=mxserver").json()["tasks"]}
    assert listed[task_id]["status"] == "SUCCEEDED" and "final_val_accuracy" in listed[task_id]["metrics"]
    model = mx.get(f"/api/v0/tasks/{task_id}/model")
    assert model.status_code == 200 and model.content[:2] == b"PK"
    assert ".zip" in model.headers["Content-Disposition"]
    assert mx.get(f"/api/v0/tasks/{task_id}/model/info").json()["backend"] == "mxnet"

    eval_id = post_ok(mx, "/eval", {"trained_task_id": task_id, "test_data": [SMALL], "batch_size": 32})
    ev = mx.wait_task(eval_id, timeout=120)
    assert ev["status"] == "SUCCEEDED", ev["error"]
    assert ev["task_type"] == "dl_ev" and ev["parent_task_id"] == task_id
    assert len(ev["result"]["test"]["confusion_matrix"]) == 4
    # Held out by lineage: the evaluation tests exactly the training's test images.
    [checksum] = done["result"]["splits"]["lineage"]
    held = done["result"]["splits"]["lineage"][checksum]["test"]
    assert ev["result"]["splits"]["lineage"] == {checksum: {"test": held}}
    assert ev["result"]["splits"]["sizes"]["test"] == done["result"]["splits"]["sizes"]["test"] == len(held)
    assert ev["test_on_seen_subjects"] is False

    r = mx.post("/stop", json={"task_id": task_id})
    assert r.status_code == 409 and r.json()["state_desc"] == "TASK_TERMINATED_FAILED"


def test_fine_tune_from_a_trained_task(mx):
    parent = post_ok(mx, "/train", train_body(num_epoch=1, val_data=[], test_data=[]))
    assert mx.wait_task(parent, timeout=240)["status"] == "SUCCEEDED"
    child = post_ok(mx, "/train", train_body(num_epoch=1, trained_task_id=parent, test_data=[]))
    done = mx.wait_task(child, timeout=240)
    assert done["status"] == "SUCCEEDED" and done["task_type"] == "dl_ft" and done["parent_task_id"] == parent

    # Every image of SMALL was trained on: an evaluation on it is refused, unless allowed.
    r = mx.post("/eval", json={"trained_task_id": parent, "test_data": [SMALL]})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "test_data[0]" and "all 96 images" in error["problem"]
    assert f"{parent} saw 96" in error["problem"]
    allowed = post_ok(mx, "/eval", {"trained_task_id": parent, "test_data": [SMALL], "allow_seen_test": True})
    marked = mx.wait_task(allowed, timeout=120)
    assert marked["status"] == "SUCCEEDED" and marked["test_on_seen_subjects"] is True
    assert marked["result"]["splits"]["seen_in_test"] == {"n": 96, "tasks": {parent: 96}}


def test_stop_a_running_training(mx):
    task_id = post_ok(mx, "/train", train_body(num_epoch=500, val_data=[], test_data=[]))
    mx.wait_task(task_id, statuses={"RUNNING"}, timeout=120, until=lambda t: t["progress"]["epoch"] >= 1)
    r = mx.post("/stop", json={"task_id": task_id})
    assert r.status_code == 200, r.text
    assert r.json()["state_desc"] == "TASK_TERMINATED_SUCCESSFULLY" and r.json()["state_code"] == "0"
    stopped = mx.wait_task(task_id, timeout=60)
    assert stopped["status"] == "STOPPED" and 1 <= stopped["progress"]["epoch"] < 500
    again = mx.post("/stop", json={"task_id": task_id})
    assert again.status_code == 200 and again.json()["state_desc"] == "TASK_TERMINATED_SUCCESSFULLY"


def test_stop_names_an_unknown_task(mx):
    r = mx.post("/stop", json={"task_id": "TASK_NOPE"})
    assert r.status_code == 404
    assert r.json() == {"task_id": "TASK_NOPE", "state_code": "1", "state_desc": "TASK_NOT_EXIST"}


BAD_TRAIN = [
    ({"num_epoch": 0}, "num_epoch"),
    ({"num_epoch": "many"}, "num_epoch"),
    ({"batch_size": True}, "batch_size"),
    ({"base_lr": -1}, "base_lr"),
    ({"wd": 2}, "wd"),
    ({"momentum": 1.0}, "momentum"),
    ({"lr_scheduler": {"type": "Factor", "step": 1, "factor": 1.5}}, "lr_scheduler.factor"),
    ({"lr_scheduler": {"type": "MultiFactor"}}, "lr_scheduler.type"),
    ({"lr_scheduler": {"stop_factor_lr": -0.1}}, "lr_scheduler.stop_factor_lr"),
    ({"initializer": "zeros"}, "initializer"),
    ({"save_period": 0}, "save_period"),
    ({"network": "vgg99"}, "network"),
    ({"network": "SGN"}, "network"),
    ({"train_data": []}, "train_data"),
    ({"train_data": ["no_such_images"]}, "train_data[0]"),
    ({"val_data": ["A_181210_140_SZ_sfMRI_AAL90"]}, "val_data[0]"),
    ({"context": [{"device_name": "tpu"}]}, "context[0].device_name"),
    ({"context": [{"device_name": "gpu", "device_id": -1}]}, "context[0].device_id"),
    ({"context": []}, "context"),
    ({"trained_task_id": "TASK_MISSING"}, "trained_task_id"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize("changes,field", BAD_TRAIN, ids=[f for _, f in BAD_TRAIN])
def test_train_rejections_name_the_field(mx, changes, field):
    before = task_count(mx)
    r = mx.post("/train", json=train_body(**changes))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error_num"] == 422
    assert field in [e["field"] for e in body["errors"]], body
    assert task_count(mx) == before


@pytest.mark.parametrize("body,field", [
    ({"test_data": [SMALL]}, "trained_task_id"),
    ({"trained_task_id": "TASK_MISSING", "test_data": [SMALL]}, "trained_task_id"),
    ({"trained_task_id": "T1", "test_data": []}, "test_data"),
    ({"trained_task_id": "T1", "test_data": [SMALL], "batch_size": 0}, "batch_size"),
])
def test_eval_rejections_name_the_field(mx, body, field):
    before = task_count(mx)
    r = mx.post("/eval", json=body)
    assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]], r.text
    assert task_count(mx) == before


def test_stop_without_a_task_id_is_a_field_error(mx):
    r = mx.post("/stop", json={})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "task_id", "problem": "is required"}]


def test_new_task_refuses_an_mxnet_network(mx):
    r = mx.post("/api/v0/new_task", json=form(model="resnet18_v1"))
    assert r.status_code == 422
    assert "model" in [e["field"] for e in r.json()["errors"]]


def test_image_dataset_named_in_new_task_is_refused(mx):
    r = mx.post("/api/v0/new_task", json=form(train_data=[SMALL]))
    assert r.status_code == 422
    assert "train_data[0]" in [e["field"] for e in r.json()["errors"]]


def _folders_zip(broken: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls in ("dark", "light"):
            for i in range(6):
                base = 30 if cls == "dark" else 200
                zf.writestr(f"pets/{cls}/{i}.png", encode_png(rng.integers(base, base + 40, (20, 20, 3), dtype=np.uint8)))
        if broken:
            zf.writestr("pets/dark/notes.txt", b"not an image")
    return buf.getvalue()


def test_zip_of_png_folders_is_validated_by_the_worker(mx):
    upload_npz(mx, "pets", _folders_zip(), filename="pets.zip")
    row = wait_dataset(mx, "pets")
    assert row["status"] == "READY", row
    assert row["classes"] == ["dark", "light"] and row["image_shape"] == [20, 20, 3] and row["n_images"] == 12


def test_a_bad_upload_is_rejected_with_its_problems(mx):
    upload_npz(mx, "pets_broken", _folders_zip(broken=True), filename="pets.zip")
    row = wait_dataset(mx, "pets_broken")
    assert row["status"] == "REJECTED"
    assert any("notes.txt" in p for p in row["problems"]), row
    r = mx.post("/train", json=train_body(train_data=["pets_broken"], val_data=[], test_data=[]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "train_data[0]"


def test_image_upload_options_are_checked(mx):
    r = mx.post("/api/v0/datasets", files={"file": ("x.npz", b"x")}, data={"kind": "image", "channels": "2"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channels"


def test_a_gpu_request_waits_queued_on_a_cpu_only_fleet_and_stops_at_once(mx):
    task_id = post_ok(mx, "/train", train_body(context=[{"device_name": "gpu", "device_id": 0}]))
    task = mx.task(task_id)
    assert task["status"] == "QUEUED" and task["waiting_reason"], task
    r = mx.post("/stop", json={"task_id": task_id})
    assert r.status_code == 200 and r.json()["status"] == "STOPPED"
    assert r.json()["state_desc"] == "TASK_TERMINATED_SUCCESSFULLY"
