"""``GET /openapi.json`` (the document) and ``GET /docs`` (a reference page rendered from it on
the server: no script, no CDN), for any app: the app factory names the function that builds its
document in ``app.extensions[BUILDER]`` (a composition of apps may replace it). The two routes
document themselves under the tag the app gives."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from webcommon.openapi.common import DOCUMENT, HTML
from webcommon.openapi.page import render
from webcommon.openapi.spec_types import Op, documented

BUILDER = "trainyard_openapi_builder"  # app.extensions: Callable[[Flask], dict]
_CACHE = "trainyard_openapi"


def document() -> dict:
    """The current app's document, built once (the routes do not change after start)."""
    cached = current_app.extensions.get(_CACHE)
    if cached is None:
        cached = current_app.extensions[_CACHE] = current_app.extensions[BUILDER](current_app)
    return cached


def blueprint(name: str, tag: str) -> Blueprint:
    """The two routes, in the app's blueprint ``name``, documented under ``tag``."""
    bp = Blueprint(name, __name__)

    @bp.get("/openapi.json")
    @documented(Op("This document", tag, {200: DOCUMENT}, database=False))
    def spec():  # noqa: ANN202
        return jsonify(document())

    @bp.get("/docs")
    @documented(Op("This document as a page", tag, {200: HTML}, database=False))
    def docs():  # noqa: ANN202
        return Response(render(document()), mimetype="text/html")

    return bp
