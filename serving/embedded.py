"""The embedded default's one address: the API and the serving role in one WSGI app.

``./start.sh`` with no configuration runs ``gunicorn 'serving.embedded:create_app()'``: requests
for inference paths go to the serving app, everything else to the API, so every route answers at
the address start.sh prints. (Deployments that split them route the same paths in nginx.) The
serving half needs threads to batch concurrent requests, so start.sh runs this app with gthread.
"""

from __future__ import annotations

import re

from flask import Flask

INFERENCE = re.compile(
    r"^/(v2(/.*)?|predictions/.*|serving/metrics|api/v1/models/[^/]+/prediction|api/v0/models/[^/]+/predict)$")


def is_inference(path: str) -> bool:
    return bool(INFERENCE.match(path))


class Dispatcher:
    def __init__(self, api: Flask, serving: Flask):
        self.api, self.serving = api, serving

    def __call__(self, environ, start_response):
        app = self.serving if is_inference(environ.get("PATH_INFO", "")) else self.api
        return app(environ, start_response)


def create_app() -> Dispatcher:
    from app import create_app as create_api
    from serving.app import create_serving_app

    return Dispatcher(create_api(), create_serving_app())
