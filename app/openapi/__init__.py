"""The typed contract: the OpenAPI 3.0.3 documents of the API and of the serving role."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.openapi.document import build
from app.openapi.operations import API, SERVING

API_DESCRIPTION = (
    "trainyard's API: the native routes (/api/v0), MXServer's (/train, /eval, /test, /stop, /gpu), "
    "TorchServe / MMS management (/models), Fractal's model routes (/api/v1/models), and the "
    "inference routes (KServe v2, /predictions, Fractal's /prediction, /api/v0/models/<m>/predict) "
    "that the serving role answers at the same address (start.sh's embedded default, or nginx in "
    "front of a split deployment). Every request but /ping, /healthz and /v2/health/* carries "
    "`Authorization: Bearer <token>`.")
SERVING_DESCRIPTION = "The serving role alone (start.sh serve): inference in four protocols, health, metrics."


def is_inference(path: str) -> bool:
    from serving.embedded import is_inference as inference

    return inference(path.replace("<", "x").replace(">", "x"))


def _serving_map():  # noqa: ANN202
    from serving.app import routes_only

    return routes_only().url_map


def api_document(app: Flask) -> dict[str, Any]:
    """The API's document: its own routes and the inference routes served at its address.
    Raises MissingOperation for a route the operations table lacks."""
    return build("trainyard", [(app.url_map, API, lambda rule: True, True),
                               (_serving_map(), SERVING, is_inference, False)], description=API_DESCRIPTION)


def serving_document(app: Flask) -> dict[str, Any]:
    return build("trainyard serving", [(app.url_map, SERVING, lambda rule: True, False)],
                 description=SERVING_DESCRIPTION)
