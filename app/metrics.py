"""The API's Prometheus metrics: every request counted by route template, method and status,
and timed per route; ``GET /metrics`` serves them.

gunicorn runs several worker processes, so the client's multiprocess mode adds their counts up
(``PROMETHEUS_MULTIPROC_DIR``, made and emptied by ``start.sh api``; gunicorn.conf.py drops a
dead worker's live gauges). Labels are bounded: the route is the URL rule (``/api/v0/tasks/
<task_id>``, never the id itself), requests that match no route are ``route="unmatched"``, and
unusual methods are ``method="other"``. With ``TRAINYARD_METRICS_FLEET=1`` (the embedded
default) ``/metrics`` also shows the fleet's figures from the database.

A project-scoped caller (a user who is not the service admin, or a token limited to projects)
sees only the series of its projects and those of no project (``OnlyProjects``); the service
admin's unscoped token and the scrape networks (``TRAINYARD_METRICS_OPEN_NETWORKS``) see all.
"""

from __future__ import annotations

import copy
import logging
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.registry import Collector

from contracts.settings import get_settings
from dao import auth_queries
from dao.db import session_scope
from tasks.metrics_registry import scrape_registry
from webcommon.principal import visible_projects

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)
# Label names whose value is a project id (the fleet's trainyard_tasks), and those whose value is
# a served model's name (the serving role's series, on the embedded default's /metrics too).
PROJECT_LABELS = ("project", "proj_id")
MODEL_LABELS = ("model",)
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
def metrics():
    extra = []
    if get_settings().metrics_fleet:
        from tasks.fleet_metrics import FleetCollector

        extra.append(FleetCollector())
    registry = scrape_registry(*extra)
    projects = visible_projects()
    if projects is not None:
        registry = _only(registry, projects)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _only(source: CollectorRegistry, projects: frozenset[str]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OnlyProjects(source, projects))
    return registry


class OnlyProjects(Collector):
    """``source``'s series that a caller seeing only ``projects`` may see: those whose
    ``PROJECT_LABELS`` name one of them, whose ``MODEL_LABELS`` name a served model of one of
    them or a shared one, and those with neither label. ``project="other"`` (the projects
    beyond the largest few, summed) and a model name without a registry row are left out."""

    def __init__(self, source: CollectorRegistry, projects: frozenset[str]):
        self.source, self.projects = source, projects

    def collect(self):  # noqa: ANN201
        families = list(self.source.collect())
        models = self._visible_models({s.labels[name] for family in families for s in family.samples
                                       for name in MODEL_LABELS if name in s.labels})
        for family in families:
            kept = copy.copy(family)
            kept.samples = [s for s in family.samples if self._keep(s.labels, models)]
            yield kept

    def _keep(self, labels: dict[str, str], models: set[str]) -> bool:
        return all(labels[name] in self.projects for name in PROJECT_LABELS if name in labels) \
            and all(labels[name] in models for name in MODEL_LABELS if name in labels)

    def _visible_models(self, names: set[str]) -> set[str]:
        """The names among ``names`` of served models in the caller's projects or shared: one
        query per name (the names a scrape shows are the few models the processes resolved)."""
        if not names:
            return set()
        try:
            with session_scope() as session:
                owners = {name: auth_queries.project_of_model(session, name) for name in names}
        except Exception as exc:  # noqa: BLE001 - the database is down: show no model's series
            log.warning("metrics: the projects of served models are unavailable: %s", exc)
            return set()
        return {name for name, project in owners.items()
                if project is not auth_queries.MISSING and (project is None or project in self.projects)}
