"""MXServer's own clients, as they call: its repository's train and test request bodies
(``tests/service/mxserver_requests.py``), wrapped in ``{"task_id", "task_desc"}`` and bare,
through a real stack with an MXNet worker. Data is a RecordIO pair uploaded under the file names
the request names; a client-chosen id is kept; a kept checkpoint is evaluated by prefix and
epoch, and resumed; what cannot be honoured is refused by MXServer's field name."""

from __future__ import annotations

import json
import time

import pytest

from models.mxnet_backend.demo import make_demo_images
from tests.service.mxserver_requests import TEST_REQUEST, TRAIN_REQUEST, eval_request, train_request, wrapped
from tests.service.recordio_files import recordio_pair
from tests.service.stack import MXNET_VENV, TERMINAL, running_stack
from tests.service.test_mxserver import wait_dataset

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (MXNET_VENV / "bin" / "python").exists(),
    reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")]

CLASS_FILE = b"circle\nsquare\ntriangle\ncross\n"


def upload_pair(s, stem: str, seed: int) -> None:
    ds = make_demo_images(per_class=12, seed=seed)
    rec, idx = recordio_pair(ds.images, ds.labels)
    files = [("file", (f"{stem}.rec", rec)), ("file", (f"{stem}.idx", idx)), ("file", ("classes.txt", CLASS_FILE))]
    r = s.post("/api/v0/datasets", files=files, data={"kind": "image", "name": f"shapes_{stem}", "channels": "1"})
    assert r.status_code == 202, r.text
    assert wait_dataset(s, f"shapes_{stem}")["status"] == "READY", s.get(f"/api/v0/datasets/shapes_{stem}").text


@pytest.fixture(scope="module")
def mx():
    with running_stack(workers=0, mx_workers=1) as s:
        upload_pair(s, "train", seed=1)
        upload_pair(s, "val", seed=2)
        upload_pair(s, "test", seed=3)  # held out: evaluating on train or val is refused (lineage)
        yield s


@pytest.fixture(scope="module")
def trained(mx):
    """The train request, wrapped with the client's own id, run to the end."""
    # As MXServer's clients send it: a JSON body without a JSON Content-Type.
    r = mx.post("/train", data=json.dumps(wrapped("19700101", TRAIN_REQUEST)))
    assert r.status_code == 200, r.text
    assert r.json() == {"task_id": "19700101", "state_code": "0", "state_desc": "OK_TO_RUN"}
    seen, deadline = set(), time.monotonic() + 240  # MXServer's states while it runs, as a client polls
    while (light := mx.get("/api/v0/tasks/19700101").json())["status"] not in TERMINAL:
        seen.add(light["mxserver"]["state_desc"])
        assert time.monotonic() < deadline, light
        time.sleep(0.05)
    done = mx.wait_task("19700101", timeout=10)
    assert done["status"] == "SUCCEEDED", done["error"]
    done["states_seen"] = seen
    return done


def test_the_wrapped_train_request_runs_under_the_clients_id(mx, trained):
    assert trained["mxserver"]["state_code"] == "0"
    assert "TASK_BEGIN_RUNNING" in trained["states_seen"]  # seen while it trained, by polling
    assert trained["mxserver"]["state_desc"] == "TASK_DONE_SUCCESSFULLY"
    states = [p["task_state"] for p in trained["mxserver"]["task_progresses"]]
    assert states == ["OK_TO_RUN", "TASK_BEGIN_PREPARE_DATA", "TASK_PREPARE_DATA_DONE", "TASK_EXECUTOR_CREATION_DONE",
                      "TASK_BEGIN_RUNNING", "TASK_SAVING_RESULTS", "TASK_DONE_SUCCESSFULLY"]
    times = [p["time"] for p in trained["mxserver"]["task_progresses"]]
    assert times == sorted(times)
    light = mx.get("/api/v0/tasks/19700101").json()["mxserver"]  # the poll's view has them too
    assert light["task_progresses"] == trained["mxserver"]["task_progresses"]
    ps = trained["param_set"]
    assert (ps["num_epoch"], ps["batch_size"], ps["save_period"]) == (4, 16, 2)
    assert (ps["base_lr"], ps["wd"], ps["momentum"]) == (0.1, 0.0005, 0.9)
    assert (ps["lr_step_updates"], ps["lr_factor"], ps["stop_factor_lr"]) == (1000, 0.1, 0.001)
    assert (ps["initializer"], ps["init_param"], ps["shuffle"], ps["save_prefix"]) == ("normal", 0.25, True, "shapes")
    assert trained["train_data"] == ["shapes_train"] and trained["val_data"] == ["shapes_val"]
    epochs = mx.get("/api/v0/tasks/19700101/epochs").json()["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    # the torch tasks' headline names and pictures
    assert {"final_val_loss", "best_val_loss", "best_val_accuracy", "best_epoch"} <= set(trained["metrics"])
    curves = mx.get("/api/v0/tasks/19700101/plots/curves.png")
    assert curves.status_code == 200 and curves.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_save_period_checkpoint_is_kept_by_epoch(mx, trained):
    listed = mx.get("/api/v0/tasks/19700101/checkpoints").json()["checkpoints"]
    assert [c["epoch"] for c in listed] == [2, 4]
    blob = mx.get("/api/v0/tasks/19700101/checkpoints/2")
    assert blob.status_code == 200 and blob.content[:2] == b"PK"
    assert mx.get("/api/v0/tasks/19700101/checkpoints/3").status_code == 404


def test_a_taken_task_id_is_refused(mx, trained):
    r = mx.post("/train", json=wrapped("19700101", TRAIN_REQUEST))
    assert r.status_code == 409
    assert r.json()["state_desc"] == "TASK_ID_EXISTS" and r.json()["errors"][0]["field"] == "task_id"


def test_the_bare_train_request_runs_under_a_new_id(mx):
    r = mx.post("/train", json=train_request(**{"train_param.num_epoch": "1"}))
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    assert task_id.startswith("TASK")
    assert mx.wait_task(task_id, timeout=240)["status"] == "SUCCEEDED"


@pytest.mark.parametrize("shape", ["wrapped", "bare"])
def test_the_test_request_evaluates_the_checkpoint_of_its_epoch(mx, trained, shape):
    body = wrapped(f"EVAL-{shape}", TEST_REQUEST, as_string=False) if shape == "wrapped" else TEST_REQUEST
    # The bare body as a client's HTTP library labels a string: form-encoded, though it is JSON.
    r = mx.post("/test" if shape == "bare" else "/eval", data=json.dumps(body),
                headers={"Content-Type": "application/x-www-form-urlencoded"} if shape == "bare" else {})
    assert r.status_code == 200, r.text
    done = mx.wait_task(r.json()["task_id"], timeout=120)
    assert done["status"] == "SUCCEEDED", done["error"]
    assert done["parent_task_id"] == "19700101" and done["task_type"] == "dl_ev"
    assert [p["task_state"] for p in done["mxserver"]["task_progresses"]][1:] == [
        "TASK_BEGIN_PREPARE_DATA", "TASK_PREPARE_DATA_DONE", "TASK_BEGIN_RUNNING", "TASK_SAVING_RESULTS",
        "TASK_DONE_SUCCESSFULLY"]
    assert done["result"]["checkpoint_epoch"] == 2  # epoch 2's checkpoint, not the final weights
    assert done["result"]["test"]["n"] == 48 and len(done["result"]["test"]["confusion_matrix"]) == 4
    assert done["metrics"]["test_loss"] > 0
    for name in ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1"):
        assert 0 <= done["metrics"][f"test_{name}"] <= 1
    assert mx.get(f"/api/v0/tasks/{done['task_id']}/plots/confusion.png").status_code == 200


def test_the_flat_eval_takes_a_checkpoint_epoch(mx, trained):
    body = {"trained_task_id": "19700101", "checkpoint_epoch": 4, "test_data": ["shapes_test"]}
    r = mx.post("/eval", json=body)
    assert r.status_code == 200, r.text
    done = mx.wait_task(r.json()["task_id"], timeout=120)
    assert done["status"] == "SUCCEEDED" and done["result"]["checkpoint_epoch"] == 4, done["error"]
    refused = mx.post("/eval", json={**body, "checkpoint_epoch": 3})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "checkpoint_epoch"


def test_resume_config_continues_a_kept_checkpoint(mx, trained):
    body = train_request(**{"train_param.resume_config": {"is_resume": "0", "ckp": {"prefix": "19700101", "epoch": "2"}},
                            "train_param.begin_epoch": "2", "train_param.save_prefix": "resumed"})
    r = mx.post("/train", json=body)
    assert r.status_code == 200, r.text
    done = mx.wait_task(r.json()["task_id"], timeout=240)
    assert done["status"] == "SUCCEEDED", done["error"]
    assert done["parent_task_id"] == "19700101" and done["result"]["resumed_from_epoch"] == 2
    epochs = mx.get(f"/api/v0/tasks/{done['task_id']}/epochs").json()["epochs"]
    assert [e["epoch"] for e in epochs] == [3, 4]


def test_a_gpu_context_waits_queued_in_mxservers_first_state(mx):
    r = mx.post("/train", json=train_request(**{"context": [{"device_name": "gpu", "device_id": "0"}]}))
    task = mx.task(r.json()["task_id"])
    assert task["status"] == "QUEUED" and task["waiting_reason"]
    assert task["mxserver"]["state_desc"] == "OK_TO_RUN"
    assert mx.post("/stop", json={"task_id": task["task_id"]}).json()["state_desc"] == "TASK_TERMINATED_SUCCESSFULLY"


REFUSED_TRAIN = [
    ({"train_param.data_param.source": "internet"}, "train_param.data_param.source"),
    ({"target": "segment"}, "target"),
    ({"target": "detect"}, "net.name"),  # small-cnn classifies; a detector is asked for
    ({"net.type": "symbol"}, "net.type"),
    ({"net.name": "vgg99"}, "net.name"),
    ({"net.config.num_classes": "10"}, "net.config.num_classes"),
    ({"classes": {"0": "cat", "1": "dog"}}, "classes"),
    ({"train_param.data_param.file_url.train_rec": "cifar.rec"}, "train_param.data_param.file_url.train_rec"),
    ({"train_param.data_param.file_url.train_idx": "val.idx"}, "train_param.data_param.file_url.train_idx"),
    ({"train_param.data_param.shapes": ["2", "28", "28"]}, "train_param.data_param.shapes"),  # MXNet decodes 1 or 3
    ({"train_param.optimizer.type": "adam"}, "train_param.optimizer.type"),
    ({"train_param.kvstore": "dist_sync"}, "train_param.kvstore"),
    ({"train_param.num_epoch": "many"}, "train_param.num_epoch"),
    ({"train_param.begin_epoch": "5"}, "train_param.begin_epoch"),
    ({"train_param.resume_config": {"is_resume": "0", "ckp": {}}}, "train_param.resume_config.ckp.prefix"),
    ({"train_param.lr_scheduler.type": "Poly"}, "train_param.lr_scheduler.type"),
    ({"train_param.label_param.shapes": ["2"]}, "train_param.label_param.shapes"),
    ({"for_training": "1"}, "for_training"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize("changes,field", REFUSED_TRAIN, ids=[f for _, f in REFUSED_TRAIN])
def test_what_cannot_be_honoured_is_refused_by_its_field(mx, changes, field):
    for body, prefix in ((train_request(**changes), ""), (wrapped("REFUSED1", train_request(**changes)), "task_desc.")):
        r = mx.post("/train", json=body)
        assert r.status_code == 422, r.text
        reply = r.json()
        assert reply["state_code"] == "1" and reply["state_desc"] == "TASK_DESC_INVALID"
        assert prefix + field in [e["field"] for e in reply["errors"]], reply
    assert mx.get("/api/v0/tasks/REFUSED1").status_code == 404


REFUSED_TEST = [
    ({"test_param.ckp.epoch": "3"}, "test_param.ckp.epoch"),
    ({"test_param.ckp.prefix": "nobody"}, "test_param.ckp.prefix"),
    ({"test_param.test_img_config.img_list": ["xxx.jpg"]}, "test_param.test_img_config.img_list[0]"),
    ({"test_param.test_img_config.source": "internet"}, "test_param.test_img_config.source"),
    ({"test_param.test_img_config.img_shapes": ["256", "256"]}, "test_param.test_img_config.img_shapes"),  # small-cnn ≤ 128
    ({"net.name": "alexnet"}, "net.name"),
    ({"for_training": "0"}, "for_training"),
]


@pytest.mark.parametrize("changes,field", REFUSED_TEST, ids=[f for _, f in REFUSED_TEST])
def test_test_request_refusals_name_the_field(mx, trained, changes, field):
    r = mx.post("/eval", json=eval_request(**changes))
    assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]], r.text


@pytest.mark.parametrize("body,field", [
    ({"task_id": "has space", "task_desc": "{}"}, "task_id"),
    ({"task_id": "T1", "task_desc": "{not json"}, "task_desc"),
    ({"task_id": "T1", "task_desc": "[1]"}, "task_desc"),
    ({"task_id": "T1", "task_desc": "{}", "extra": 1}, "extra"),
])
def test_the_wrapper_is_checked(mx, body, field):
    r = mx.post("/train", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
