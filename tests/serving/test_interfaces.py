"""A deployed task predicts through every interface the same probabilities as the torch engine."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.serving.harness import engine_probabilities, fresh_subjects

pytestmark = pytest.mark.slow
TOL = 1e-4


@pytest.fixture(scope="module")
def reference(served):
    stack, _, task_id = served
    ds = fresh_subjects()
    return ds, engine_probabilities(stack, task_id, ds)


def test_export_is_verified_on_the_tasks_own_test_subjects(served):
    stack, _, task_id = served
    d = stack.get("/models/sgn").json()[0]
    v = d["verification"]
    assert v["subjects"] == "test" and v["n_subjects"] > 0 and v["max_abs_diff"] <= v["tolerance"]
    assert v["n_subjects"] == stack.task(task_id)["result"]["splits"]["roles"]["test"]["n_subjects"]


def test_connectome_native_predict_matches_the_engine(served, reference):
    _, serving, _ = served
    ds, want = reference
    r = serving.post("/api/v0/models/sgn/predict",
                     json={"matrices": ds.conn.tolist(), "subjects": list(ds.subjects)})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["subject"] for p in preds] == list(ds.subjects)
    got = np.array([[p["probabilities"][c] for c in ds.class_names] for p in preds])
    np.testing.assert_allclose(got, want, atol=TOL)
    assert [p["class"] for p in preds] == [ds.class_names[i] for i in want.argmax(1)]


def test_one_matrix_and_an_uploaded_npz(served, reference):
    _, serving, _ = served
    ds, want = reference
    one = serving.post("/api/v0/models/sgn/predict", json={"matrix": ds.conn[0].tolist()}).json()
    np.testing.assert_allclose(list(one["predictions"][0]["probabilities"].values()), want[0], atol=TOL)
    buf = io.BytesIO()
    np.savez(buf, conn=ds.conn, labels=ds.labels, subjects=np.array(ds.subjects))
    r = serving.post("/api/v0/models/sgn/predict", files={"file": ("subjects.npz", buf.getvalue())})
    assert r.status_code == 200, r.text
    got = np.array([list(p["probabilities"].values()) for p in r.json()["predictions"]])
    np.testing.assert_allclose(got, want, atol=TOL)
    assert [p["subject"] for p in r.json()["predictions"]] == list(ds.subjects)


def test_kserve_v2_infer_schema_and_values(served, reference):
    _, serving, _ = served
    ds, want = reference
    meta = serving.get("/v2/models/sgn").json()
    assert meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "conn", "datatype": "FP32", "shape": [-1, 90, 90]}]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]
    body = {"id": "req-1", "inputs": [{"name": "conn", "shape": list(ds.conn.shape), "datatype": "FP32",
                                       "data": ds.conn.reshape(-1).tolist()}]}
    r = serving.post("/v2/models/sgn/versions/1/infer", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"model_name", "model_version", "id", "outputs"} and out["id"] == "req-1"
    (tensor,) = out["outputs"]
    assert tensor["name"] == "probabilities" and tensor["datatype"] == "FP32"
    assert tensor["shape"] == [len(ds.subjects), 2]
    np.testing.assert_allclose(np.array(tensor["data"]).reshape(tensor["shape"]), want, atol=TOL)
    assert serving.get("/v2/health/ready").json() == {"ready": True}
    assert serving.get("/v2/models/sgn/ready").status_code == 200


def test_mms_predictions_and_fractal_prediction(served, reference):
    _, serving, _ = served
    ds, want = reference
    one = serving.post("/predictions/sgn", json=ds.conn[0].tolist())
    assert one.status_code == 200, one.text
    np.testing.assert_allclose([one.json()[c] for c in ds.class_names], want[0], atol=TOL)
    many = serving.post("/predictions/sgn/1", json={"data": ds.conn[:3].tolist()}).json()
    np.testing.assert_allclose([[m[c] for c in ds.class_names] for m in many], want[:3], atol=TOL)
    for method in ("get", "post"):
        r = getattr(serving, method)("/api/v1/models/sgn/prediction", json={"values": ds.conn[:2].tolist()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["http_status"] == {"code": 200, "name": "OK", "description": "Prediction successful"}
        assert body["values"] == list(want[:2].argmax(1))
        np.testing.assert_allclose(body["probabilities"], want[:2], atol=TOL)
    assert serving.get("/ping").json() == {"health": "healthy!", "status": "Healthy"}
