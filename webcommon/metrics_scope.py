"""The Prometheus series a caller may read: a project-scoped caller (a user who is not the service
admin, or a token limited to projects) sees only the series of its projects and those of no
project; the service admin's unscoped token and the scrape networks see all. Used by the API's
/metrics and by the serving role's /metrics and /serving/metrics."""

from __future__ import annotations

import copy
import logging

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from dao import auth_queries
from dao.fleet_queries import OTHER_PROJECTS
from dao.db import session_scope
from webcommon.principal import visible_projects

log = logging.getLogger(__name__)
# Label names whose value is a project id (the fleet's trainyard_tasks), and those whose value is
# a served model's name (the serving role's series, on the embedded default's /metrics too).
PROJECT_LABELS = ("project", "proj_id")
MODEL_LABELS = ("model",)


def for_caller(source: CollectorRegistry) -> CollectorRegistry:
    """``source`` as the current caller may see it (itself for the unscoped)."""
    projects = visible_projects()
    if projects is None:
        return source
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
        # "other" sums the projects beyond the largest few: never shown to one project's members,
        # even to a project that happens to be named so.
        return all(labels[name] in self.projects and labels[name] != OTHER_PROJECTS
                   for name in PROJECT_LABELS if name in labels) \
            and all(labels[name] in models for name in MODEL_LABELS if name in labels)

    def _visible_models(self, names: set[str]) -> set[str]:
        """The names among ``names`` of served models in the caller's projects or shared."""
        if not names:
            return set()
        try:
            with session_scope() as session:
                owners = auth_queries.projects_of_models(session, names)
        except Exception as exc:  # noqa: BLE001 - the database is down: show no model's series
            log.warning("metrics: the projects of served models are unavailable: %s", exc)
            return set()
        return {name for name, project in owners.items() if project is None or project in self.projects}
