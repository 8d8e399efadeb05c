"""The serving role's app factory: ``gunicorn 'serving.app:create_serving_app()'`` (``start.sh
serve``). Each process follows the registry in a background thread started here (after
gunicorn's fork: the app is built in each worker)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from contracts.settings import get_settings
from serving import arrivals, metrics
from serving.cache import PredictionCache
from serving.registry import Registry
from webcommon.openapi.common import PROMETHEUS, SERVE
from webcommon.openapi.spec_types import Op, documented
from webcommon.replies import ModelApp

log = logging.getLogger(__name__)


def create_serving_app(registry: Registry | None = None) -> Flask:
    settings = get_settings()
    app = ModelApp("trainyard.serving", static_folder=None)  # views may return models (webcommon.replies)
    app.config["MAX_CONTENT_LENGTH"] = settings.serve_max_body_mb * 1024 * 1024
    app.json.sort_keys = False
    app.extensions["trainyard_registry"] = (registry or Registry()).start()
    app.extensions["trainyard_cache"] = PredictionCache(settings.serve_cache_entries)
    register_routes(app)
    _guard(app)
    _count_arrivals(app)
    _errors(app)
    logging.getLogger("trainyard").setLevel(logging.INFO)
    return app


def register_routes(app: Flask) -> None:
    """The serving role's routes (also read, without a registry, by the OpenAPI document)."""
    from serving.openapi import serving_document
    from webcommon.openapi import views as openapi
    from serving import api_connectome, api_fractal, api_kserve, api_mms

    for module in (api_kserve, api_mms, api_fractal, api_connectome):
        app.register_blueprint(module.bp)
    app.register_blueprint(openapi.blueprint("serving_openapi", SERVE))
    app.extensions[openapi.BUILDER] = serving_document
    app.add_url_rule("/metrics", "metrics", _metrics)
    app.add_url_rule("/serving/metrics", "serving_metrics", _metrics)


def routes_only() -> Flask:
    """An app with the serving routes and nothing started: for reading its URL map."""
    app = ModelApp("trainyard.serving.routes", static_folder=None)
    register_routes(app)
    return app


def _guard(app: Flask) -> None:
    """The API's token check (webcommon.guard): every route but /ping and /v2/health/* needs a
    token, and a model of a project the caller may not see is unknown. The model's project
    comes from the request's one read of its versions (``predict.versions_now``), which the
    route reuses; from the registry this process follows while the database cannot be read."""
    from webcommon import guard
    from dao.auth_queries import MISSING
    from dao.errors import ModelNotFound
    from serving.errors import UnknownModel
    from serving.predict import versions_now

    registry: Registry = app.extensions["trainyard_registry"]

    def project_of(name: str):  # noqa: ANN202
        rows = versions_now(name)
        if rows is not None:
            return rows[0].project_id if rows else MISSING
        slots = registry.versions(name)
        return min(slots, key=lambda s: s.entry.id).entry.project_id if slots else MISSING

    def version_of() -> str | None:  # as the routes read it: in the path, or ?version= on connectome's
        args = request.view_args or {}
        if "version" in args:
            return args["version"]
        return (request.args.get("version") or None) if request.endpoint == "connectome.predict_subjects" else None

    model = guard.Resource(project_of, lambda name, version=None: UnknownModel(str(ModelNotFound(name, version))),
                           version_of=version_of)
    resources = {(bp, "name"): model for bp in ("kserve", "mms", "fractal", "connectome")}
    guard.install(app, resources, all_reads=True, unauthenticated=lambda msg: jsonify({"error": msg}))


INFERENCE_ENDPOINTS = frozenset({"kserve.infer", "mms.predictions", "fractal.prediction",
                                 "connectome.predict_subjects"})


def _count_arrivals(app: Flask) -> None:
    """After the guard: a prediction request counts as on its way to its model's batcher from
    here until it is queued there (serving.arrivals)."""
    @app.before_request
    def _begin():  # noqa: ANN202
        if request.endpoint in INFERENCE_ENDPOINTS and request.view_args:
            arrivals.begin(request.view_args["name"])

    @app.teardown_request
    def _end(_exc):  # noqa: ANN001, ANN202
        arrivals.reached()


@documented(Op("Prometheus metrics of this serving process", SERVE, {200: PROMETHEUS}, database=False))
def _metrics():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def _errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return jsonify({"error": exc.description if exc.code != 404 else "no such route on the serving role"}), \
            exc.code or 500

    @app.errorhandler(Exception)
    def _internal(exc: Exception):
        log.exception("unhandled error")
        return jsonify({"error": "internal error; the serving process logged the details"}), 500
