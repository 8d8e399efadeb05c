"""MMS / TorchServe inference: ``POST /predictions/<m>[/<v>]`` (JSON or a file) and ``GET /ping``.
Errors as TorchServe writes them: ``{"code", "type", "message"}``.

An image model (a deployed MXNet task) takes a PNG/JPEG file (the raw body or multipart) or
pixel values as JSON. A connectome or image model answers TorchServe's classifier shape: ``{"<class>": probability, ...}`` for
one subject, a list of those for several; a detector, a list of ``{"class", "class_index", "score", "box"}``
per image (a list of those lists for several). An uploaded ONNX model answers its first output.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from contracts import foreign_replies as f
from serving import detections, images, predict, subjects
from serving.bodies import json_value, raw_body, uploaded_file
from serving.errors import BadInput, ServingError
from serving.inputs import values_feeds
from serving.openapi import PREDICT_ERRORS
from webcommon.openapi.common import ANY_JSON, BINARY, MMS, PREDICT_UPLOAD
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("mms", __name__)
ZIP_MAGIC = b"PK\x03\x04"


@bp.errorhandler(ServingError)
def _error(exc: ServingError):
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return jsonify({"code": exc.status, "type": exc.type_name, "message": exc.message}), exc.status, headers


@bp.get("/ping")
@documented(Op("Liveness (MMS / TorchServe): 500 until the registry is read", MMS,
                {200: f.ServingPing, 500: f.ServingPing}, open=True, database=False))
def ping():
    """The API's answer (MMS 0.x) and TorchServe's, in one body; 200 once the registry is read."""
    ok = predict.registry().synced
    return f.ServingPing(health="healthy!" if ok else "unhealthy", status="Healthy" if ok else "Unhealthy"), \
        200 if ok else 500


@bp.post("/predictions/<name>")
@bp.post("/predictions/<name>/<version>")
@documented(Op("Prediction (TorchServe)", MMS, {200: f.MmsPrediction}, PREDICT_ERRORS,
                body=(ANY_JSON, PREDICT_UPLOAD, BINARY), body_required=False, database=False))
def predictions(name: str, version: str | None = None):
    model = predict.resolve(name, version)
    if model.is_detector:
        found = detections.detect(model, detections.from_request(), "mms")
        rows = [detections.as_rows(model, d) for d in found]
        return jsonify(rows[0] if len(rows) == 1 else rows)
    if model.is_classifier:
        feeds = images.from_request(model)[0] if model.is_image else _connectome_feeds(model)[0]
        probabilities = predict.run(model, feeds, "mms")[0]
        rows = [r["probabilities"] for r in predict.class_results(model, probabilities)]
        return jsonify(rows[0] if len(rows) == 1 else rows)
    body = json_value()
    values = body.get("data", body.get("values")) if isinstance(body, dict) else body
    out = predict.run(model, values_feeds(model, values, "data"), "mms")[0]
    return jsonify(out.tolist())


def _connectome_feeds(model):
    upload = uploaded_file()
    if upload is None and raw_body().startswith(ZIP_MAGIC):
        upload = (subjects.raw_upload_name(raw_body()), raw_body())
    if upload is not None:
        return subjects.from_file(model, *upload)
    body = json_value()
    if body is None:
        raise BadInput("the body is empty; send a matrix as JSON or an .npz file", field="body")
    return subjects.from_json(model, body)
