"""Shapes and tag names the operations recorded on the API's and the serving role's views share
(``webcommon.openapi.spec_types.documented``)."""

from __future__ import annotations

from webcommon.openapi.spec_types import Raw

BINARY = Raw("application/octet-stream")
PNG = Raw("image/png")
PROMETHEUS = Raw("text/plain", {"type": "string"})
EVENTS = Raw("text/event-stream", {"type": "string"})
NOT_MODIFIED = Raw("", {})  # no body
REDIRECT = NOT_MODIFIED  # no body: where to is in Location
HTML = Raw("text/html", {"type": "string"})
DOCUMENT = Raw("application/json", {"type": "object", "description": "this OpenAPI 3.0.3 document"})
PREDICT_UPLOAD = Raw("multipart/form-data", {
    "type": "object", "properties": {"file": {"type": "string", "format": "binary",
                                              "description": "an .npz or DPABI .zip of subjects"}}})
ANY_JSON = Raw("application/json", {"description": "any JSON value"})

TASKS, DATA, MODELS, FLEET, HEALTH, ACCOUNTS = "tasks", "datasets", "models", "fleet", "health", "accounts"
MX, MMS, FRACTAL, KSERVE, SERVE = "MXServer", "TorchServe / MMS", "Fractal", "KServe v2", "serving"
WEB = "dashboard"
