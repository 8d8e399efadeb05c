"""``GET /openapi.json`` (the document) and ``GET /docs`` (a reference page rendered from it on
the server: no script, no CDN), on the API and on the serving role."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("openapi", __name__)
serving_bp = Blueprint("serving_openapi", __name__)
CACHE_KEY = "trainyard_openapi"


def _document(serving: bool) -> dict:
    """Built once per app (the routes do not change after start)."""
    from app.openapi import api_document, serving_document

    cached = current_app.extensions.get(CACHE_KEY)
    if cached is None:
        cached = (serving_document if serving else api_document)(current_app)
        current_app.extensions[CACHE_KEY] = cached
    return cached


def _page(serving: bool) -> Response:
    from app.openapi.page import render

    return Response(render(_document(serving)), mimetype="text/html")


@bp.get("/openapi.json")
def spec():
    return jsonify(_document(False))


@bp.get("/docs")
def docs():
    return _page(False)


@serving_bp.get("/openapi.json")
def serving_spec():
    return jsonify(_document(True))


@serving_bp.get("/docs")
def serving_docs():
    return _page(True)
