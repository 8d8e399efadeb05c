"""KServe v2's binary tensor data and classification extensions, as Triton's HTTP client sends
them, through the real serving process; JSON bodies parsed with orjson keep json.loads' answers."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from tests.serving.harness import engine_probabilities, fresh_subjects

pytestmark = pytest.mark.slow
TOL = 1e-4
HEADER = "Inference-Header-Content-Length"


@pytest.fixture(scope="module")
def reference(served):
    stack, _, task_id = served
    ds = fresh_subjects(n=4, seed=23)
    return ds, engine_probabilities(stack, task_id, ds)


def binary_request(header: dict, *blobs: bytes) -> tuple[bytes, dict]:
    """A body as tritonclient.http builds it: the JSON header, then the tensors' bytes."""
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {HEADER: str(len(head)), "Content-Type": "application/octet-stream"}


def split_reply(r) -> tuple[dict, bytes]:
    n = int(r.headers[HEADER])
    return json.loads(r.content[:n]), r.content[n:]


def conn_input(ds, binary: bool) -> tuple[dict, bytes]:
    conn = ds.conn.astype("<f4")
    item = {"name": "conn", "shape": list(conn.shape), "datatype": "FP32"}
    if binary:
        item["parameters"] = {"binary_data_size": conn.nbytes}
        return item, conn.tobytes()
    item["data"] = conn.reshape(-1).tolist()
    return item, b""


def test_binary_request_and_binary_response_match_the_engine(served, reference):
    _, serving, _ = served
    ds, want = reference
    item, blob = conn_input(ds, binary=True)
    body, headers = binary_request({"inputs": [item], "outputs": [{"name": "probabilities",
                                                                   "parameters": {"binary_data": True}}]}, blob)
    r = serving.post("/v2/models/sgn/infer", data=body, headers=headers)
    assert r.status_code == 200, r.text
    header, raw = split_reply(r)
    out = header["outputs"][0]
    assert out["datatype"] == "FP32" and out["shape"] == [4, 2] and "data" not in out
    assert out["parameters"]["binary_data_size"] == len(raw) == 4 * 2 * 4
    np.testing.assert_allclose(np.frombuffer(raw, "<f4").reshape(4, 2), want, atol=TOL)


def test_binary_request_json_response_and_request_level_binary_output(served, reference):
    _, serving, _ = served
    ds, want = reference
    item, blob = conn_input(ds, binary=True)
    body, headers = binary_request({"inputs": [item]}, blob)
    r = serving.post("/v2/models/sgn/infer", data=body, headers=headers)
    assert r.status_code == 200 and HEADER not in r.headers, r.text
    np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"]).reshape(4, 2), want, atol=TOL)
    body, headers = binary_request({"inputs": [item], "parameters": {"binary_data_output": True}}, blob)
    header, raw = split_reply(serving.post("/v2/models/sgn/infer", data=body, headers=headers))
    np.testing.assert_allclose(np.frombuffer(raw, "<f4").reshape(4, 2), want, atol=TOL)


def test_classification_extension_names_the_classes(served, reference):
    _, serving, _ = served
    ds, want = reference
    item, _ = conn_input(ds, binary=False)
    r = serving.post("/v2/models/sgn/infer", json={"inputs": [item], "outputs": [
        {"name": "probabilities", "parameters": {"classification": 1}}]})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["datatype"] == "BYTES" and out["shape"] == [4, 1]
    names = list(ds.class_names)
    for text, row in zip(out["data"], want):
        value, index, label = text.split(":")
        assert int(index) == int(row.argmax()) and label == names[int(index)]
        assert abs(float(value) - row.max()) < 1e-4
    body, headers = binary_request({"inputs": [item], "outputs": [
        {"name": "probabilities", "parameters": {"classification": 2, "binary_data": True}}]})
    header, raw = split_reply(serving.post("/v2/models/sgn/infer", data=body, headers=headers))
    strings, at = [], 0
    while at < len(raw):
        (n,) = struct.unpack_from("<I", raw, at)
        strings.append(raw[at + 4 : at + 4 + n].decode())
        at += 4 + n
    assert header["outputs"][0]["shape"] == [4, 2] and len(strings) == 8


@pytest.mark.parametrize("change, status, field", [
    ("short_data", 422, "binary_data_size"),      # fewer bytes than the shape needs
    ("extra_bytes", 400, "belong to no input"),   # bytes no input claims
    ("size_past_body", 400, "are left"),          # a size running past the body
    ("bad_header_length", 400, HEADER),           # a header length past the body
    ("nan", 422, "NaN"),                          # a non-finite value in binary
])
def test_bad_binary_requests_name_what_is_wrong(served, reference, change, status, field):
    _, serving, _ = served
    ds, _ = reference
    item, blob = conn_input(ds, binary=True)
    if change == "short_data":
        item["parameters"]["binary_data_size"] -= 4
        blob = blob[:-4]
    elif change == "extra_bytes":
        blob += b"\0" * 8
    elif change == "size_past_body":
        item["parameters"]["binary_data_size"] += 400
    elif change == "nan":
        arr = np.frombuffer(blob, "<f4").copy()
        arr[5] = np.nan
        blob = arr.tobytes()
    body, headers = binary_request({"inputs": [item]}, blob)
    if change == "bad_header_length":
        headers[HEADER] = str(len(body) + 1)
    r = serving.post("/v2/models/sgn/infer", data=body, headers=headers)
    assert r.status_code == status and field in r.json()["error"], r.text


def test_orjson_bodies_keep_json_loads_answers(served, reference):
    """orjson refuses NaN literals and huge integers; those bodies still get the field-naming
    422 json.loads gave them, and a body that is not JSON still gets a 400."""
    _, serving, _ = served
    ds, want = reference
    matrix = ds.conn[0].tolist()
    r = serving.post("/api/v0/models/sgn/predict", data=json.dumps({"matrix": matrix}),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(list(r.json()["predictions"][0]["probabilities"].values()), want[0], atol=TOL)
    matrix[1][2] = float("nan")
    r = serving.post("/api/v0/models/sgn/predict", data=json.dumps({"matrix": matrix}),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "matrix", r.text
    r = serving.post("/api/v0/models/sgn/predict", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text


def test_server_metadata_lists_the_extensions(served):
    _, serving, _ = served
    assert {"binary_tensor_data", "classification"} <= set(serving.get("/v2").json()["extensions"])
