"""Uploading ONNX models (Fractal), MMS management, scaling, batching, and a restarted serving
process, against the shared deployed stack."""

from __future__ import annotations

import concurrent.futures as cf
import signal
import threading
import time

import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.serving.harness import Serving, engine_probabilities, fresh_subjects
from tests.serving.onnx_builders import B, W, linear_model

pytestmark = pytest.mark.slow


def test_onnx_upload_describe_predict_delete(served):
    stack, serving, _ = served
    up = stack.put("/api/v1/models/iris.onnx", timeout=30,
                      files={"path": ("iris.onnx", linear_model())}, data={"description": "four numbers in"})
    assert up.status_code == 201, up.text
    model = up.json()["model"]
    assert model["status"] == "READY" and model["source"]["kind"] == "upload"
    assert model["contract"]["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert model["contract"]["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]
    edit = stack.post("/api/v1/models/iris.onnx", json={"model_description": "a linear stand-in"})
    assert edit.json()["http_status"]["code"] == 200
    info = stack.get("/api/v1/models/information").json()["model_list"]
    assert {"model": "iris.onnx", "description": "a linear stand-in"}.items() <= \
        next(m for m in info if m["model"] == "iris.onnx").items()
    assert "iris.onnx" in stack.get("/api/v1/models").json()["model_list"]
    serving.wait_model("iris.onnx")
    x = [[2, 5, 1, 4]]
    pred = serving.get("/api/v1/models/iris.onnx/prediction", json={"values": x[0]})
    assert pred.status_code == 200, pred.text
    np.testing.assert_allclose(pred.json()["values"], np.array(x, np.float32) @ W + B, rtol=1e-6)
    gone = stack.delete("/api/v1/models/iris.onnx", timeout=30)
    assert gone.json()["http_status"]["code"] == 200
    serving.wait(lambda: serving.get("/v2/models/iris.onnx").status_code == 404, "kept a deleted model")
    assert "iris.onnx" not in stack.get("/api/v1/models").json()["model_list"]


def test_mms_register_list_describe_unregister(served):
    stack, serving, _ = served
    r = stack.post("/models?url=onnx:sgn&model_name=sgn-copy&initial_workers=1")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": 'Model "sgn-copy" Version: 1 registered with 1 initial workers'}
    names = [m["modelName"] for m in stack.get("/models").json()["models"]]
    assert {"sgn", "sgn-copy"} <= set(names)
    (d,) = stack.get("/models/sgn-copy").json()
    # a copy keeps its provenance: the task the file was exported from
    assert d["modelVersion"] == "1" and d["runtime"] == "onnxruntime" and d["modelUrl"].startswith("task:TASK")
    bye = stack.delete("/models/sgn-copy", timeout=30)
    assert bye.json() == {"status": 'Model "sgn-copy" unregistered'}
    assert stack.get("/models/sgn-copy").status_code == 404


def test_scaling_changes_the_workers_shown(served):
    stack, serving, _ = served
    r = stack.put("/models/sgn?min_worker=2&max_worker=3&synchronous=true", timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "Workers scaled to 2 for model: sgn"}
    (d,) = stack.get("/models/sgn").json()
    assert (d["minWorkers"], d["maxWorkers"]) == (2, 3)
    assert len(d["processes"]) == 1 and 2 <= d["processes"][0]["instances"] <= 3
    assert len(d["workers"]) == d["processes"][0]["instances"]
    back = stack.put("/models/sgn?min_worker=1&max_worker=2&synchronous=true", timeout=60)
    assert back.status_code == 200, back.text


def test_batching_gives_each_caller_its_own_answer(served):
    stack, serving, task_id = served
    # A long delay and batch_size 4: four concurrent callers fill a batch and run together.
    r = stack.post("/models?url=onnx:sgn&model_name=sgn-batched&batch_size=4&max_batch_delay=5000")
    assert r.status_code == 200, r.text
    serving.wait_model("sgn-batched")
    ds = fresh_subjects(n=8, seed=5)
    want = engine_probabilities(stack, task_id, ds)

    def one(i: int):
        return serving.post("/predictions/sgn-batched", json=ds.conn[i].tolist()).json()

    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    got = np.array([[a[c] for c in ds.class_names] for a in answers])
    np.testing.assert_allclose(got, want, atol=1e-4)
    metrics = serving.get("/metrics").text
    mine = {"model": "sgn-batched", "version": "1"}
    rows_sum = _sample(metrics, "trainyard_serving_batch_rows_sum", mine)
    count = _sample(metrics, "trainyard_serving_batch_rows_count", mine)
    assert count == 8 and rows_sum / count > 1, (rows_sum, count)  # callers shared batches
    for phase in ("queue", "batch", "compute", "total"):
        assert _sample(metrics, "trainyard_serving_latency_seconds_count", {**mine, "phase": phase}) == 8
    lone = serving.post("/predictions/sgn-batched", json=ds.conn[0].tolist())
    assert lone.status_code == 200, lone.text
    np.testing.assert_allclose([lone.json()[c] for c in ds.class_names], want[0], atol=1e-4)
    # Nothing else was on its way: it ran in a batch of its own. That it did so without waiting
    # out the 5 s max_batch_delay is the batcher's (tests/serving/test_batcher.py, no clock).
    metrics = serving.get("/metrics").text
    assert _sample(metrics, "trainyard_serving_batch_rows_count", mine) == count + 1
    assert _sample(metrics, "trainyard_serving_batch_rows_sum", mine) == rows_sum + 1


def _sample(text: str, name: str, labels: dict) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name}{labels} not in the metrics")


def test_a_serving_process_restarted_mid_load_loses_no_model(served):
    stack, serving, task_id = served
    ds = fresh_subjects(n=4, seed=9)
    want = engine_probabilities(stack, task_id, ds)
    before = sorted(m["modelName"] for m in stack.get("/models").json()["models"])
    answering = threading.Event()
    with cf.ThreadPoolExecutor(2) as pool:
        load = pool.submit(_load_loop, serving, ds, 40, answering)
        assert answering.wait(60), "the load never got an answer"  # mid-load: it is being answered
        stack.signal(serving.label, signal.SIGKILL)
        load.result()
    fresh = Serving(stack, label="serve-again")
    fresh.port, fresh.url = serving.port, serving.url
    fresh.env["TRAINYARD_SERVE_BIND"] = f"127.0.0.1:{serving.port}"
    fresh.start()
    fresh.wait(lambda: fresh.get("/v2/health/ready").status_code == 200, "never became ready")
    for name in before:
        assert fresh.get(f"/v2/models/{name}/ready").status_code == 200, name
    r = fresh.post("/api/v0/models/sgn/predict", json={"matrices": ds.conn.tolist()})
    got = np.array([list(p["probabilities"].values()) for p in r.json()["predictions"]])
    np.testing.assert_allclose(got, want, atol=1e-4)
    served[1].label = fresh.label  # later tests use the new process


def _load_loop(serving: Serving, ds, n: int, answering: threading.Event) -> int:
    ok = 0
    for _ in range(n):
        try:
            ok += serving.post("/api/v0/models/sgn/predict", json={"matrix": ds.conn[0].tolist()}).ok
            answering.set()
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    return ok
