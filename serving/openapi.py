"""The serving role's OpenAPI document: every operation of its routes, keyed by (Flask endpoint,
method), and the document built from them. The embedded default adds the inference routes to the
API's document where it composes the two apps (embedded)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from contracts import foreign_replies as f
from contracts import replies as r
from webcommon.openapi.common import (ANY_JSON, BINARY, DOCUMENT, FRACTAL, HTML, KSERVE, MMS, PREDICT_UPLOAD, PROMETHEUS,
                                      SERVE)
from webcommon.openapi.document import build
from webcommon.openapi.spec_types import Op, Param, string

DESCRIPTION = "The serving role alone (start.sh serve): inference in four protocols, health, metrics."

_PREDICT_ERRORS = (400, 404, 409, 413, 422, 503)
SERVING: dict[tuple[str, str], Op] = {
    ("serving_openapi.spec", "GET"): Op("This document", SERVE, {200: DOCUMENT}, database=False),
    ("serving_openapi.docs", "GET"): Op("This document as a page", SERVE, {200: HTML}, database=False),
    ("kserve.server_metadata", "GET"): Op("Server metadata", KSERVE, {200: f.KServeServer}, database=False),
    ("kserve.live", "GET"): Op("Liveness", KSERVE, {200: f.KServeLive}, open=True, database=False),
    ("kserve.ready", "GET"): Op("Readiness: every registered model loaded", KSERVE,
                                {200: f.KServeReady, 503: f.KServeReady}, open=True, database=False),
    ("kserve.model_metadata", "GET"): Op("Model metadata", KSERVE, {200: f.KServeModel}, (404, 409, 503),
                                         database=False),
    ("kserve.model_ready", "GET"): Op("Model readiness", KSERVE, {200: f.KServeModelReady, 503: f.KServeModelReady},
                                      (404,), database=False),
    ("kserve.infer", "POST"): Op("Inference", KSERVE, {200: f.KServeInferReply}, _PREDICT_ERRORS,
                                 body=f.KServeInferRequest, database=False),
    ("mms.ping", "GET"): Op("Liveness (MMS / TorchServe): 500 until the registry is read", MMS,
                            {200: f.ServingPing, 500: f.ServingPing}, open=True, database=False),
    ("mms.predictions", "POST"): Op(
        "Prediction (TorchServe)", MMS, {200: f.MmsPrediction}, _PREDICT_ERRORS,
        body=(ANY_JSON, PREDICT_UPLOAD, BINARY), body_required=False, database=False),
    ("fractal.prediction", "GET"): Op(
        "Prediction (Fractal; its README sends a body with GET)", FRACTAL, {200: f.FractalPrediction},
        _PREDICT_ERRORS, database=False),
    ("fractal.prediction", "POST"): Op(
        "Prediction (Fractal)", FRACTAL, {200: f.FractalPrediction}, _PREDICT_ERRORS,
        body=(r.Open, PREDICT_UPLOAD), database=False),
    ("connectome.predict_subjects", "POST"): Op(
        "Predict subjects' classes", SERVE, {200: f.ConnectomePrediction}, _PREDICT_ERRORS,
        body=(ANY_JSON, PREDICT_UPLOAD), query=(Param("version", string()),), database=False),
    ("metrics", "GET"): Op("Prometheus metrics of this serving process", SERVE, {200: PROMETHEUS},
                           database=False),
    ("serving_metrics", "GET"): Op("Prometheus metrics of this serving process", SERVE, {200: PROMETHEUS},
                                   database=False),
}


def serving_document(app: Flask) -> dict[str, Any]:
    return build("trainyard serving", [(app.url_map, SERVING, lambda rule: True, False)], description=DESCRIPTION)
