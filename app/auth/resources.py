"""Which view arguments of the API name an object whose project the guard checks."""

from __future__ import annotations

from app.auth.guard import Resource, in_database
from dao import auth_queries
from dao.errors import DatasetNotFound, ModelNotFound, TaskNotFound


def _project(session, project_id: str):  # noqa: ANN001, ANN202
    return project_id if auth_queries.find_project(session, project_id) is not None else auth_queries.MISSING


_task_projects: dict[str, str] = {}  # a task's project never changes and tasks are never deleted


def _project_of_task(task_id: str):  # noqa: ANN202
    """Remembered per process (bounded): a poll does not look its task's project up each time."""
    project = _task_projects.get(task_id)
    if project is None:
        project = in_database(auth_queries.project_of_task)(task_id)
        if project is not auth_queries.MISSING:
            if len(_task_projects) > 100_000:
                _task_projects.clear()
            _task_projects[task_id] = project
    return project


TASK = Resource(_project_of_task, TaskNotFound)
DATASET = Resource(in_database(auth_queries.project_of_dataset), DatasetNotFound)
MODEL = Resource(in_database(auth_queries.project_of_model), ModelNotFound)
PROJECT = Resource(in_database(_project), auth_queries.ProjectNotFound)

API_RESOURCES = {
    ("*", "task_id"): TASK,
    ("datasets", "name"): DATASET,
    ("mms_management", "name"): MODEL,
    ("fractal_models", "name"): MODEL,
    ("accounts", "project_id"): PROJECT,
}
