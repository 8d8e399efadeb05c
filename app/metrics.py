"""The API's Prometheus metrics: every request counted by route template, method and status,
and timed per route; ``GET /metrics`` serves them.

gunicorn runs several worker processes, so the client's multiprocess mode adds their counts up
(``PROMETHEUS_MULTIPROC_DIR``, made and emptied by ``start.sh api``; gunicorn.conf.py drops a
dead worker's live gauges). Labels are bounded: the route is the URL rule (``/api/v0/tasks/
<task_id>``, never the id itself), requests that match no route are ``route="unmatched"``, and
unusual methods are ``method="other"``. With ``TRAINYARD_METRICS_FLEET=1`` (the embedded
default) ``/metrics`` also shows the fleet's figures from the database.

A project-scoped caller (a user who is not the service admin, or a token limited to projects)
sees only the series of its projects and those of no project (``webcommon.metrics_scope``); the service
admin's unscoped token and the scrape networks (``TRAINYARD_METRICS_OPEN_NETWORKS``) see all.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from contracts.settings import get_settings
from tasks.metrics_registry import scrape_registry
from webcommon.metrics_scope import for_caller
from webcommon.openapi.common import HEALTH, PROMETHEUS
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("metrics", __name__)
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
# Status polls and submits answer in milliseconds; uploads and plots take up to seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 120)

REQUESTS = Counter("trainyard_http_requests", "API requests answered, by route template, method "
                   "and status", ["route", "method", "status"])
LATENCY = Histogram("trainyard_http_request_duration_seconds", "Seconds to answer an API request "
                    "(to the first byte of a streamed answer), by route template and method",
                    ["route", "method"], buckets=LATENCY_BUCKETS)


def route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def method_label() -> str:
    return request.method if request.method in METHODS else "other"


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _answered(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        route, method = route_label(), method_label()
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
    return response


def install(app: Flask) -> None:
    app.before_request(_started)
    app.after_request(_answered)
    app.register_blueprint(bp)


@bp.get("/metrics")
@documented(Op("Prometheus metrics", HEALTH, {200: PROMETHEUS}, database=False))
def metrics():
    extra = []
    if get_settings().metrics_fleet:
        from tasks.fleet_metrics import FleetCollector

        extra.append(FleetCollector())
    return Response(generate_latest(for_caller(scrape_registry(*extra))), content_type=CONTENT_TYPE_LATEST)
