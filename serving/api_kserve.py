"""KServe v2 / Open Inference Protocol: health, server and model metadata, model readiness,
inference. Errors are ``{"error": "..."}``."""

from __future__ import annotations

import numpy as np
from flask import Blueprint, jsonify

from serving import predict
from serving.bodies import json_object
from serving.errors import BadInput, ServingError
from serving.inputs import kserve_feeds
from serving.loaded import ORT_TYPES

bp = Blueprint("kserve", __name__, url_prefix="/v2")
PLATFORM = "onnxruntime_onnx"
DATATYPE_OF = {np.dtype(dt): name for name, dt in ORT_TYPES.values()}


@bp.errorhandler(ServingError)
def _error(exc: ServingError):
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return jsonify({"error": exc.message}), exc.status, headers


@bp.get("")
@bp.get("/")
def server_metadata():
    return jsonify({"name": "trainyard", "version": "0.1.0", "extensions": []})


@bp.get("/health/live")
def live():
    return jsonify({"live": True})


@bp.get("/health/ready")
def ready():
    ok = predict.registry().all_ready()
    return jsonify({"ready": ok}), 200 if ok else 503


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None):
    model = predict.resolve(name, version)
    versions = sorted(s.entry.version for s in predict.registry().versions(name))
    return jsonify({"name": model.name, "versions": versions, "platform": PLATFORM,
                    "inputs": [p.public() for p in model.inputs],
                    "outputs": [p.public() for p in model.outputs]})


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None):
    slot = predict.registry().find(name, version)
    ok = slot.model is not None
    return jsonify({"name": name, "ready": ok}), 200 if ok else 503


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None):
    model = predict.resolve(name, version)
    body = json_object()
    feeds = kserve_feeds(model, body.get("inputs"))
    wanted = _wanted_outputs(model, body.get("outputs"))
    outputs = predict.run(model, feeds, "kserve")
    reply = {"model_name": model.name, "model_version": model.version,
             "outputs": [_tensor(p.name, out) for p, out in zip(model.outputs, outputs) if p.name in wanted]}
    if isinstance(body.get("id"), str):
        reply["id"] = body["id"]
    return jsonify(reply)


def _wanted_outputs(model, requested) -> set[str]:
    names = {p.name for p in model.outputs}
    if requested is None:
        return names
    if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                 for o in requested):
        raise BadInput("outputs: expected a list of {name}", field="outputs")
    unknown = [o["name"] for o in requested if o["name"] not in names]
    if unknown:
        raise BadInput(f"outputs: the model has no output {unknown[0]!r}; its outputs: {', '.join(sorted(names))}",
                       field="outputs")
    return {o["name"] for o in requested}


def _tensor(name: str, arr: np.ndarray) -> dict:
    arr = np.asarray(arr)
    return {"name": name, "shape": list(arr.shape), "datatype": DATATYPE_OF.get(arr.dtype, "FP32"),
            "data": arr.reshape(-1).tolist()}
