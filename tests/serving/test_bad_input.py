"""Table-driven bad input: each gets its 4xx naming what was expected, and leaves nothing behind
(the registry unchanged, the serving process alive)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests

from tests.serving.onnx_builders import broken_model, external_data_model, linear_model

pytestmark = pytest.mark.slow
R = 90
GOOD = [[0.1] * R] * R


def _kserve(data, shape, datatype="FP32", name="conn"):
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}


def _raw(value) -> dict:
    """A JSON body with NaN / Infinity literals (Python's json writes and reads them)."""
    return {"data": json.dumps(value), "headers": {"Content-Type": "application/json"}}


def _binary_kserve(shape: list[int], raw: bytes) -> dict:
    """A KServe v2 body with one FP32 input sent with the binary tensor extension."""
    header = json.dumps({"inputs": [{"name": "conn", "shape": shape, "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}]}).encode()
    return {"data": header + raw, "headers": {"Content-Type": "application/octet-stream",
                                              "Inference-Header-Content-Length": str(len(header))}}


def _flat(n: int = 1) -> list[float]:
    return [0.1] * (n * R * R)


SERVING_CASES = [
    # (id, method, path, request kwargs, status, words the answer must contain)
    ("shape", "post", "/api/v0/models/sgn/predict", {"json": {"matrix": [[0.1] * 89] * 89}}, 422, "(90, 90)"),
    ("ragged", "post", "/api/v0/models/sgn/predict", {"json": {"matrix": [[0.1] * R] * 89 + [[0.1]]}}, 422,
     "rectangular"),
    ("strings", "post", "/api/v0/models/sgn/predict", {"json": {"matrix": [["a"] * R] * R}}, 422, "numbers"),
    ("nan", "post", "/predictions/sgn", _raw([[float("nan")] + [0.1] * (R - 1)] + [[0.1] * R] * (R - 1)),
     422, "NaN"),
    ("infinity", "post", "/api/v1/models/sgn/prediction",
     _raw({"values": [[float("inf")] + [0.1] * (R - 1)] + [[0.1] * R] * (R - 1)}), 422, "infinite"),
    ("kserve nan", "post", "/v2/models/sgn/infer", _raw(_kserve([float("nan")] + [0.1] * (R * R - 1), [1, R, R])),
     422, "NaN"),
    ("kserve dtype", "post", "/v2/models/sgn/infer", {"json": _kserve(_flat(), [1, R, R], "INT64")}, 422, "FP32"),
    ("kserve shape", "post", "/v2/models/sgn/infer", {"json": _kserve(_flat(), [1, R * R])}, 422, "(N, 90, 90)"),
    ("kserve 65 dimensions", "post", "/v2/models/sgn/infer", {"json": _kserve([0.1], [1] * 65)}, 422,
     "(N, 90, 90)"),
    ("kserve 65 dimensions binary", "post", "/v2/models/sgn/infer", _binary_kserve([1] * 65, b"\0" * 4), 422,
     "(N, 90, 90)"),
    ("kserve count", "post", "/v2/models/sgn/infer", {"json": _kserve(_flat()[:-1], [1, R, R])}, 422, "8100"),
    ("kserve input name", "post", "/v2/models/sgn/infer", {"json": _kserve(_flat(), [1, R, R], name="x")}, 422,
     "conn"),
    ("not json", "post", "/v2/models/sgn/infer", {"data": "{nope", "headers": {"Content-Type": "application/json"}},
     400, "JSON"),
    ("unknown model kserve", "post", "/v2/models/nope/infer", {"json": _kserve(_flat(), [1, R, R])}, 404, "nope"),
    ("unknown version kserve", "get", "/v2/models/sgn/versions/9", {}, 404, "'9'"),
    ("unknown model mms", "post", "/predictions/nope", {"json": GOOD}, 404, "ModelNotFoundException"),
    ("unknown version mms", "post", "/predictions/sgn/9", {"json": GOOD}, 404, "'9'"),
    ("unknown model fractal", "get", "/api/v1/models/nope/prediction", {"json": {"values": [1]}}, 404, "Not Found"),
    ("unknown model connectome", "post", "/api/v0/models/nope/predict", {"json": {"matrix": GOOD}}, 404, "nope"),
    ("not an npz", "post", "/api/v0/models/sgn/predict", {"files": {"file": ("x.npz", b"hello")}}, 422, "zip"),
    ("oversized body", "post", "/v2/models/sgn/infer",
     {"data": b"[" + b"0.1," * (700 * 1024) + b"0]", "headers": {"Content-Type": "application/json"}}, 413,
     "larger"),
]

API_CASES = [
    ("archive with code", "post", "/models?url=resnet-18.mar", {}, 400, "handler code"),
    ("remote archive", "post", "/models?url=https://example.com/m.mar", {}, 400, "never loads"),
    ("no url", "post", "/models", {}, 400, "url"),
    ("unknown task", "post", "/models?url=task:TASK000", {}, 404, "TASK000"),
    ("bad workers", "put", "/models/sgn?min_worker=0", {}, 400, "min_worker"),
    ("max below min", "put", "/models/sgn?min_worker=3&max_worker=2", {}, 400, "max_worker"),
    ("unknown model scale", "put", "/models/nope?min_worker=2", {}, 404, "nope"),
    ("not onnx", "put", "/api/v1/models/junk.onnx", {"files": {"path": ("junk.onnx", b"not a model")}}, 422,
     "not an ONNX model"),
    ("checker refuses", "put", "/api/v1/models/broken.onnx", {"files": {"path": ("b.onnx", broken_model())}}, 422,
     "checker"),
    ("external data", "put", "/api/v1/models/ext.onnx", {"files": {"path": ("e.onnx", external_data_model())}}, 422,
     "external data"),
    ("oversized onnx", "put", "/api/v1/models/big.onnx",
     {"files": {"path": ("big.onnx", linear_model() + b"\0" * (1024 * 1024))}}, 413, "larger than 1 MiB"),
    ("no file", "put", "/api/v1/models/none.onnx", {}, 422, "path"),
    ("deploy unknown field", "post", "/api/v0/tasks/TASK000/deploy", {"json": {"batch": 3}}, 422, "batch"),
    ("deploy unknown task", "post", "/api/v0/tasks/TASK000/deploy", {"json": {}}, 404, "TASK000"),
]


def _registry(stack) -> list:
    return sorted((m["modelName"], m["modelUrl"]) for m in stack.get("/models").json()["models"])


@pytest.mark.parametrize("case", SERVING_CASES, ids=[c[0] for c in SERVING_CASES])
def test_serving_refuses(served, case):
    stack, serving, _ = served
    _, method, path, kwargs, status, words = case
    before = _registry(stack)
    r = serving.request(method, path, timeout=60, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert words in r.text, r.text[:500]
    assert serving.get("/v2/health/live").status_code == 200
    assert _registry(stack) == before


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_control_plane_refuses(served, case):
    stack, _, _ = served
    _, method, path, kwargs, status, words = case
    before = _registry(stack)
    r = stack.request(method, path, timeout=60, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert words in r.text, r.text[:500]
    assert _registry(stack) == before
    (sgn,) = stack.get("/models/sgn").json()
    assert (sgn["minWorkers"], sgn["maxWorkers"]) == (1, 2)  # a refused scale changed nothing


def test_a_model_still_exporting_answers_503_with_retry_after(served):
    from dao import model_queries
    from dao.db import session_scope
    from dao.model_queries import Registration

    stack, serving, task_id = served
    with session_scope() as session:
        model_queries.register(session, Registration(name="pending", version=None, source_kind="task",
                                                     source_task_id=task_id))
    serving.wait(lambda: serving.get("/v2/models/pending/ready").status_code == 503, "never saw the row")
    for path in ("/v2/models/pending/infer", "/predictions/pending", "/api/v0/models/pending/predict"):
        r = serving.post(path, json={"inputs": []} if "v2" in path else GOOD)
        assert r.status_code == 503 and r.headers["Retry-After"], r.text
        assert "exported" in r.text
    assert stack.delete("/models/pending", timeout=30).status_code == 200


def test_an_mxnet_task_without_weights_is_refused_with_a_reason(served):
    """MXNet tasks deploy (tests/serving/test_mxnet_deploy.py); one that kept no weights cannot."""
    from dao.db import session_scope
    from dao.tables import Task

    stack, _, _ = served
    with session_scope() as session:
        session.add(Task(id="TASKMXNET0001", proj_id="p", proj_name="p", task_name="mx", task_type="dl_ts",
                         model="small-cnn", backend="mxnet", queue="mxnet", form={}, status="SUCCEEDED"))
    r = stack.post("/api/v0/tasks/TASKMXNET0001/deploy", json={})
    assert r.status_code == 409 and "no stored weights" in r.json()["msg"], r.text
    assert stack.get("/models/TASKMXNET0001").status_code == 404


def test_a_zip_with_code_is_not_a_dataset_either(served):
    _, serving, _ = served
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "import os; os.system('true')")
        zf.writestr("MAR-INF/MANIFEST.json", "{}")
    r = serving.post("/api/v0/models/sgn/predict", files={"file": ("model.zip", buf.getvalue())})
    assert r.status_code == 422, r.text
    assert serving.get("/v2/health/live").status_code == 200
