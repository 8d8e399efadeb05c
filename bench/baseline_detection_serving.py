"""The thin detection-serving baseline: a minimal Flask app that decodes a PNG/JPEG body with
Pillow, resizes it to the detector's input (``models.image_resize``), calls
``InferenceSession.run`` on one detector ONNX file and runs the same numpy NMS
(``models.box_nms``) per request: no registry, batching, validation or metrics.
``gunicorn -c gunicorn.conf.py 'bench.baseline_detection_serving:create_app()'`` with
``BENCH_ONNX`` (the file) and ``BENCH_INPUT`` (``HxW``); ``POST /predict`` answers
``[{"class_index", "score", "box"}]``."""

from __future__ import annotations

import io
import os

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request
from PIL import Image

from models.box_nms import box_nms, in_image_pixels
from models.image_resize import resize_like_mxnet


def create_app() -> Flask:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(os.environ["BENCH_ONNX"], sess_options=options,
                                   providers=["CPUExecutionProvider"])
    h, w = (int(v) for v in os.environ["BENCH_INPUT"].split("x"))
    app = Flask("baseline-detection")

    @app.post("/predict")
    def predict():
        picture = np.asarray(Image.open(io.BytesIO(request.get_data())).convert("RGB"), dtype=np.uint8)
        pixels = resize_like_mxnet(picture, h, w)[None].astype(np.float32)
        kept = box_nms(session.run(["candidates"], {"image": pixels})[0][0])
        found = in_image_pixels(kept, (h, w), picture.shape[:2])
        return jsonify([{"class_index": int(k), "score": float(s), "box": b.tolist()}
                        for b, k, s in zip(found.boxes, found.classes, found.scores)])

    @app.get("/ping")
    def ping():
        return jsonify({"health": "healthy!"})

    return app
