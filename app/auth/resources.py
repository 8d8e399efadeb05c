"""Which view arguments of the API name an object whose project the guard checks."""

from __future__ import annotations

from app.auth.guard import Resource, in_database
from dao import auth_queries
from dao.errors import DatasetNotFound, ModelNotFound, TaskNotFound


def _project(session, project_id: str):  # noqa: ANN001, ANN202
    return project_id if auth_queries.find_project(session, project_id) is not None else auth_queries.MISSING


TASK = Resource(in_database(auth_queries.project_of_task), TaskNotFound)
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
