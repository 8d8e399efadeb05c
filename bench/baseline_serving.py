"""The thin serving baseline: a minimal Flask app calling ``InferenceSession.run`` directly on one
ONNX file, per request, with no registry, batching, validation beyond a reshape, or metrics.
``gunicorn -c gunicorn.conf.py 'bench.baseline_serving:create_app()'`` with
``BENCH_ONNX=/path/model.onnx``; ``POST /predict`` takes ``{"matrix": R×R}`` like trainyard's
connectome route and answers the class probabilities."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request


def create_app() -> Flask:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(os.environ["BENCH_ONNX"], sess_options=options,
                                   providers=["CPUExecutionProvider"])
    app = Flask("baseline")

    @app.post("/predict")
    def predict():
        conn = np.asarray(request.get_json()["matrix"], dtype=np.float32)[None]
        probabilities = session.run(["probabilities"], {"conn": conn})[0]
        return jsonify({"probabilities": probabilities[0].tolist()})

    @app.get("/ping")
    def ping():
        return jsonify({"ok": True})

    return app
