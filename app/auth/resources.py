"""Which view arguments of the API name an object whose project the guard checks."""

from __future__ import annotations

from flask import request

from webcommon.guard import Resource, in_database
from dao import auth_queries
from dao.db import read
from dao.errors import DatasetNotFound, ModelNotFound, TaskNotFound


def _project(session, project_id: str):  # noqa: ANN001, ANN202
    return project_id if auth_queries.find_project(session, project_id) is not None else auth_queries.MISSING


def _task_project(task_id: str):  # noqa: ANN202 - a project id, None or MISSING
    """A task's project never changes: remembered per process once seen, read otherwise on an
    autocommit connection (the status poll runs this on every request; a session's BEGIN,
    pre-ping and COMMIT cost more than the poll itself)."""
    known = _TASK_PROJECTS.get(task_id)
    if known is not None:
        return known[0]
    project = read(lambda conn: auth_queries.project_of_task(conn, task_id))
    if project is not auth_queries.MISSING:
        if len(_TASK_PROJECTS) >= 100_000:
            _TASK_PROJECTS.clear()
        _TASK_PROJECTS[task_id] = (project,)
    return project


_TASK_PROJECTS: dict[str, tuple] = {}
TASK = Resource(_task_project, TaskNotFound)
DATASET = Resource(in_database(auth_queries.project_of_dataset), DatasetNotFound)
def _model_version() -> str | None:
    """The version a management route names: MMS's describe reads "all" as every version."""
    version = (request.view_args or {}).get("version")
    return None if version == "all" and request.endpoint == "mms_management.describe" else version


MODEL = Resource(in_database(auth_queries.project_of_model), ModelNotFound, version_of=_model_version)
PROJECT = Resource(in_database(_project), auth_queries.ProjectNotFound)

API_RESOURCES = {
    ("*", "task_id"): TASK,
    ("datasets", "name"): DATASET,
    ("mms_management", "name"): MODEL,
    ("fractal_models", "name"): MODEL,
    ("accounts", "project_id"): PROJECT,
}
