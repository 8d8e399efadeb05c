"""Connectome-native prediction: ``POST /api/v0/models/<m>/predict`` (optional ``?version=``)
with one matrix, a list, or an uploaded ``.npz`` / DPABI ``.zip`` → per-subject class and
probabilities; for an image model, PNG/JPEG files or pixel values → per-image class and
probabilities. Errors in the API's ``{"error_num", "msg", "errors"}`` envelope."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from contracts import foreign_replies as f
from serving import images, predict, subjects
from serving.bodies import json_value, uploaded_file
from serving.errors import ServingError
from serving.openapi import PREDICT_ERRORS
from webcommon.openapi.common import ANY_JSON, PREDICT_UPLOAD, SERVE
from webcommon.openapi.spec_types import Op, Param, documented, string

bp = Blueprint("connectome", __name__, url_prefix="/api/v0/models")


@bp.errorhandler(ServingError)
def _error(exc: ServingError):
    payload = {"error_num": exc.status, "msg": exc.message}
    if exc.field:
        payload["errors"] = [{"field": exc.field, "problem": exc.message}]
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return jsonify(payload), exc.status, headers


@bp.post("/<name>/predict")
@documented(Op("Predict subjects' classes", SERVE, {200: f.ConnectomePrediction}, PREDICT_ERRORS,
                body=(ANY_JSON, PREDICT_UPLOAD), query=(Param("version", string()),), database=False))
def predict_subjects(name: str):
    model = predict.resolve(name, request.args.get("version") or None)
    predict.need_classifier(model)
    if model.is_image:
        return _predict_images(model)
    upload = uploaded_file()
    if upload is not None:
        feeds, ids = subjects.from_file(model, *upload)
    else:
        feeds, ids = subjects.from_json(model, json_value())
    probabilities = predict.run(model, feeds, "connectome")[0]
    return jsonify({"error_num": 0, "model": model.name, "version": model.version,
                    "class_names": list(model.contract.get("class_names", [])),
                    "predictions": predict.class_results(model, probabilities, ids)})


def _predict_images(model):
    feeds, names, resized = images.from_request(model)
    results = predict.class_results(model, predict.run(model, feeds, "connectome")[0], names, key="image")
    for item, was in zip(results, resized or []):
        item["resized"] = was
    return jsonify({"error_num": 0, "model": model.name, "version": model.version,
                    "class_names": list(model.contract.get("class_names", [])),
                    "image_shape": model.contract["image_shape"], "predictions": results})
