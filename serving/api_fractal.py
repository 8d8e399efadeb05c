"""Fractal ML server's prediction: ``GET`` (its README sends a body with GET) or ``POST``
``/api/v1/models/<m>/prediction`` with ``{"values": [...]}`` or a file, answered in its
``{"http_status": {code, name, description}, "values": [...]}`` envelope. A connectome model's
``values`` are the predicted class indices (Fractal's iris answer ``[1]``), with class names and
probabilities beside them; a detector's, per image its detections ``{"class", "class_index",
"score", "box"}``."""

from __future__ import annotations

from flask import Blueprint, jsonify

from contracts import foreign_replies as f
from contracts import replies as r
from serving import detections, images, predict, subjects
from serving.bodies import json_object, uploaded_file
from serving.errors import BadInput, ServingError
from serving.inputs import values_feeds
from serving.openapi import PREDICT_ERRORS
from webcommon.openapi.common import FRACTAL, PREDICT_UPLOAD
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("fractal", __name__, url_prefix="/api/v1/models")
NAMES = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 413: "Payload Too Large",
         422: "Unprocessable Entity", 503: "Service Unavailable"}


def envelope(code: int, description: str, **extra):
    return {"http_status": {"code": code, "name": NAMES.get(code, "Error"), "description": description}, **extra}


@bp.errorhandler(ServingError)
def _error(exc: ServingError):
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return jsonify(envelope(exc.status, exc.message)), exc.status, headers


@bp.route("/<name>/prediction", methods=["GET", "POST"])
@documented(Op("Prediction (Fractal; its README sends a body with GET)", FRACTAL, {200: f.FractalPrediction},
                PREDICT_ERRORS, database=False), method="GET")
@documented(Op("Prediction (Fractal)", FRACTAL, {200: f.FractalPrediction}, PREDICT_ERRORS,
                body=(r.Open, PREDICT_UPLOAD), database=False), method="POST")
def prediction(name: str):
    model = predict.resolve(name)
    upload = uploaded_file()
    if model.is_detector:
        pictures = detections.from_request() if upload is not None else detections.from_array(_values(), "values")
        found = detections.detect(model, pictures, "fractal")
        return jsonify(envelope(200, "Prediction successful", values=[detections.as_rows(model, d) for d in found],
                                class_names=list(model.contract.get("class_names", []))))
    if model.is_classifier:
        if model.is_image:
            feeds = images.from_request(model)[0] if upload is not None else images.from_array(model, _values(), "values")
        elif upload is not None:
            feeds, _ = subjects.from_file(model, *upload)
        else:
            feeds = values_feeds(model, _values())
        results = predict.class_results(model, predict.run(model, feeds, "fractal")[0])
        return jsonify(envelope(200, "Prediction successful", values=[r["class_index"] for r in results],
                                class_names=list(model.contract.get("class_names", [])),
                                probabilities=[list(r["probabilities"].values()) for r in results]))
    if upload is not None:
        raise BadInput("file: this model takes {\"values\": [...]}; files are read for connectome models only",
                       field="file")
    out = predict.run(model, values_feeds(model, _values()), "fractal")[0]
    return jsonify(envelope(200, "Prediction successful", values=out.tolist()))


def _values():
    body = json_object()
    if "values" not in body:
        raise BadInput("values: is required ({\"values\": [...]})", field="values")
    return body["values"]
