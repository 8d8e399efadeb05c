"""TorchServe handler for the serving benchmark: the same ONNX file, run with onnxruntime inside
TorchServe's Python backend (the network is the exported SGN, preprocessing in the graph).
Takes ``{"matrix": R×R}`` per request; TorchServe hands a batch of requests when batch_size > 1."""

import json
import os

import numpy as np
import onnxruntime as ort

_session = None


def _load(context):
    global _session
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    path = os.path.join(context.system_properties["model_dir"], "sgn.onnx")
    _session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _matrix(row):
    body = row.get("body") if row.get("body") is not None else row.get("data")
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    return np.asarray(body["matrix"], dtype=np.float32)


def handle(data, context):
    if _session is None:
        _load(context)
    if data is None:
        return None
    conn = np.stack([_matrix(row) for row in data])
    probabilities = _session.run(["probabilities"], {"conn": conn})[0]
    return [{"probabilities": p.tolist()} for p in probabilities]
