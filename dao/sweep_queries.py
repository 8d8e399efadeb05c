"""The tasks of one sweep, with the numbers a choice among them is made on."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dao.tables import Task


def sweep_tasks(session: Session, sweep_id: str, metric: str,
                projects: Collection[str] | None) -> list[Any]:
    """The sweep's tasks in ``projects`` (None: every project), oldest first, as rows of
    ``id, status, task_name, created_at, params`` (the form's param_set), ``cv_type`` (the form's),
    ``flat`` (the result's ``metric``) and ``cv_mean`` (the result's ``cv.mean.<metric>``)."""
    stmt = (select(Task.id, Task.status, Task.task_name, Task.created_at,
                   Task.form["param_set"].label("params"), Task.form["cv_type"].as_string().label("cv_type"),
                   Task.result[metric].as_float().label("flat"),
                   Task.result[("cv", "mean", metric)].as_float().label("cv_mean"))
            .where(Task.sweep_id == sweep_id).order_by(Task.created_at, Task.id))
    if projects is not None:
        stmt = stmt.where(Task.proj_id.in_(sorted(projects)))
    return list(session.execute(stmt))
