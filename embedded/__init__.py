"""The embedded default's one address: the API and the serving role in one WSGI app, and the
OpenAPI document of both. The one place the two apps meet; neither imports the other.

``./start.sh`` with no configuration runs ``gunicorn 'embedded:create_app()'``: requests for
inference paths (serving.inference_paths) go to the serving app, everything else to the API, so
every route answers at the address start.sh prints. (Deployments that split them route the same
paths in nginx.) The serving half needs threads to batch concurrent requests, so start.sh runs
this app with gthread.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from serving.inference_paths import is_inference

DESCRIPTION = (
    "trainyard's API: the native routes (/api/v0), MXServer's (/train, /eval, /test, /stop, /gpu), "
    "TorchServe / MMS management (/models), Fractal's model routes (/api/v1/models), and the "
    "inference routes (KServe v2, /predictions, Fractal's /prediction, /api/v0/models/<m>/predict) "
    "that the serving role answers at the same address (start.sh's embedded default, or nginx in "
    "front of a split deployment). Every request but /ping, /healthz and /v2/health/* carries "
    "`Authorization: Bearer <token>`.")


class Dispatcher:
    def __init__(self, api: Flask, serving: Flask):
        self.api, self.serving = api, serving

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204 - WSGI
        app = self.serving if is_inference(environ.get("PATH_INFO", "")) else self.api
        return app(environ, start_response)


def combined_document(api: Flask, serving: Flask) -> dict[str, Any]:
    """The API's document with the serving routes answered at its address."""
    from app.openapi import api_document

    return api_document(api, [(serving, is_inference, False)], DESCRIPTION)


def create_app() -> Dispatcher:
    from app import create_app as create_api
    from serving.app import create_serving_app
    from webcommon.openapi.views import BUILDER

    api, serving = create_api(), create_serving_app()
    api.extensions[BUILDER] = lambda app: combined_document(app, serving)
    return Dispatcher(api, serving)
