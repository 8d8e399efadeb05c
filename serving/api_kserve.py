"""KServe v2 / Open Inference Protocol: health, server and model metadata, model readiness,
inference, with Triton's binary tensor data and classification extensions (``serving.tensors``).
Errors are ``{"error": "..."}``."""

from __future__ import annotations

import numpy as np
import orjson
from flask import Blueprint, Response, jsonify

from contracts import foreign_replies as f
from serving import detections, predict
from serving.bodies import HEADER_LENGTH, header_and_binary
from serving.errors import BadInput, ModelFailed, NotLoaded, ServingError
from serving.inputs import kserve_feeds
from serving.loaded import ORT_TYPES
from serving.openapi import PREDICT_ERRORS
from serving.tensors import BinaryReader, classification, encode_bytes, to_binary
from webcommon.openapi.common import KSERVE
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("kserve", __name__, url_prefix="/v2")
PLATFORM = "onnxruntime_onnx"
DATATYPE_OF = {np.dtype(dt): name for name, dt in ORT_TYPES.values()}


@bp.errorhandler(ServingError)
def _error(exc: ServingError):
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return jsonify({"error": exc.message}), exc.status, headers


@bp.get("")
@bp.get("/")
@documented(Op("Server metadata", KSERVE, {200: f.KServeServer}, database=False))
def server_metadata():
    return f.KServeServer(name="trainyard", version="0.1.0", extensions=["binary_tensor_data", "classification"])


@bp.get("/health/live")
@documented(Op("Liveness", KSERVE, {200: f.KServeLive}, open=True, database=False))
def live():
    return f.KServeLive(live=True)


@bp.get("/health/ready")
@documented(Op("Readiness: every registered model loaded", KSERVE,
                {200: f.KServeReady, 503: f.KServeReady}, open=True, database=False))
def ready():
    ok = predict.registry().all_ready()
    return f.KServeReady(ready=ok), 200 if ok else 503


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
@documented(Op("Model metadata", KSERVE, {200: f.KServeModel}, (404, 409, 503), database=False))
def model_metadata(name: str, version: str | None = None):
    model = predict.resolve(name, version)
    versions = sorted(predict.version_names(name))
    if model.is_detector:
        return f.KServeModel(name=model.name, versions=versions, platform=PLATFORM,
                             inputs=[p.public() for p in model.inputs], outputs=detections.OUTPUTS,
                             parameters={"task": "detection", "class_names": model.contract["class_names"],
                                         "image_shape": model.contract["image_shape"],
                                         "accepts": "image as BYTES (PNG/JPEG, any size) or FP32/UINT8 pixels "
                                                    "(N, H, W, 3) of any size"})
    return f.KServeModel(name=model.name, versions=versions, platform=PLATFORM,
                         inputs=[p.public() for p in model.inputs], outputs=[p.public() for p in model.outputs])


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
@documented(Op("Model readiness", KSERVE, {200: f.KServeModelReady, 503: f.KServeModelReady}, (404,),
                database=False))
def model_ready(name: str, version: str | None = None):
    """Ready when this process can serve it now (loading it first, as a prediction would); an
    unknown model is a 404."""
    try:
        predict.ready(name, version)
    except (NotLoaded, ModelFailed):
        return f.KServeModelReady(name=name, ready=False), 503
    return f.KServeModelReady(name=name, ready=True), 200


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
@documented(Op("Inference", KSERVE, {200: f.KServeInferReply}, PREDICT_ERRORS, body=f.KServeInferRequest,
                database=False))
def infer(name: str, version: str | None = None):
    model = predict.resolve(name, version)
    body, binary = header_and_binary()
    wanted = _wanted_outputs(model, body.get("outputs"))
    binary_all = _flag(body.get("parameters"), "binary_data_output")
    outputs = _detector_outputs(model, body, binary) if model.is_detector else _outputs(model, body, binary)
    tensors, blobs = [], []
    for i, (out_name, params) in enumerate(wanted.items()):
        arr = outputs[out_name]
        if "classification" in params:
            arr = classification(arr, params["classification"], list(model.contract.get("class_names") or []),
                                 f"outputs[{i}]")
        tensor, blob = _tensor(out_name, arr, binary_all or _flag(params, "binary_data"))
        tensors.append(tensor)
        if blob is not None:
            blobs.append(blob)
    reply = {"model_name": model.name, "model_version": model.version, "outputs": tensors}
    if isinstance(body.get("id"), str):
        reply["id"] = body["id"]
    if not blobs:
        return _json(reply)
    header = orjson.dumps(reply)
    return Response(header + b"".join(blobs), mimetype="application/octet-stream",
                    headers={HEADER_LENGTH: str(len(header))})


def _outputs(model, body: dict, binary) -> dict[str, np.ndarray]:
    feeds = kserve_feeds(model, body.get("inputs"), BinaryReader(binary))
    return dict(zip((p.name for p in model.outputs), predict.run(model, feeds, "kserve")))


def _detector_outputs(model, body: dict, binary) -> dict[str, np.ndarray]:
    pictures = detections.kserve_pictures(body.get("inputs"), BinaryReader(binary))
    return detections.kserve_outputs(detections.detect(model, pictures, "kserve"))


def _flag(params, key: str) -> bool:
    return isinstance(params, dict) and params.get(key) is True


def _json(reply: dict) -> Response:
    return Response(orjson.dumps(reply), mimetype="application/json")


def _wanted_outputs(model, requested) -> dict[str, dict]:
    """Output name → its request parameters (binary_data, classification), in answer order."""
    names = detections.OUTPUT_NAMES if model.is_detector else [p.name for p in model.outputs]
    if requested is None:
        return {n: {} for n in names}
    if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                 for o in requested):
        raise BadInput("outputs: expected a list of {name, parameters}", field="outputs")
    unknown = [o["name"] for o in requested if o["name"] not in names]
    if unknown:
        raise BadInput(f"outputs: the model has no output {unknown[0]!r}; its outputs: {', '.join(sorted(names))}",
                       field="outputs")
    return {o["name"]: (o.get("parameters") if isinstance(o.get("parameters"), dict) else {}) for o in requested}


def _tensor(name: str, arr: np.ndarray, binary: bool) -> tuple[dict, bytes | None]:
    arr = np.asarray(arr)
    datatype = "BYTES" if arr.dtype == np.object_ else DATATYPE_OF.get(arr.dtype, "FP32")
    out = {"name": name, "shape": list(arr.shape), "datatype": datatype}
    if not binary:
        out["data"] = arr.reshape(-1).tolist()
        return out, None
    blob = encode_bytes(arr.reshape(-1).tolist()) if datatype == "BYTES" else to_binary(arr)
    out["parameters"] = {"binary_data_size": len(blob)}
    return out, blob
