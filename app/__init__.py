"""The Flask app factory. ``gunicorn 'app:create_app()'`` serves it."""

from __future__ import annotations

import logging

from flask import Flask

from contracts.settings import get_settings
from webcommon.replies import ModelApp


def create_app() -> Flask:
    settings = get_settings()
    app = ModelApp(__name__, static_folder=None)  # no static files: no /static route; views may return models
    # Uploads are the largest bodies; JSON endpoints enforce their own, smaller limit.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.json.sort_keys = False
    from app import metrics
    from app.api import (accounts, catalog, checkpoints, compare, datasets, deploy, fractal_models, gpus, health,
                         mms_management, mxserver, queues, sweeps, task_events, task_logs, tasks)
    from app.auth import audit
    from webcommon import guard
    from app.auth.resources import API_RESOURCES
    from app.errors import register_error_handlers
    from app.web import bp as web_bp
    from app.nul_bytes import refuse_nul_bytes
    from app.uploads import limit_body
    from app.openapi import api_document
    from webcommon.openapi import views as openapi
    from webcommon.openapi.common import HEALTH

    for module in (health, accounts, tasks, task_events, task_logs, checkpoints, compare, datasets, catalog, mxserver,
                   gpus, deploy, mms_management, fractal_models, queues, sweeps):
        app.register_blueprint(module.bp)
    app.register_blueprint(web_bp)  # the dashboard's page shells at / and /ui/
    app.register_blueprint(openapi.blueprint("openapi", HEALTH))  # /openapi.json and /docs
    app.extensions[openapi.BUILDER] = api_document
    metrics.install(app)  # first: its timer sees requests the guard refuses
    app.before_request(limit_body)  # before anything reads a body
    app.before_request(refuse_nul_bytes)  # before the guard looks a URL's object up
    guard.install(app, API_RESOURCES)
    audit.install(app)
    register_error_handlers(app)
    logging.getLogger("trainyard").setLevel(logging.INFO)
    return app
