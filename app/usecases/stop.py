"""Stopping a task, for the REST route and MXServer's /stop: the caller must be allowed to
write in the task's project; the task is STOPPED at once when no worker holds it, else STOPPING
until its worker stops at its next batch."""

from __future__ import annotations

from app.auth.resources import TASK
from contracts.statuses import TaskStatus
from dao import task_queries
from dao.db import session_scope, task_write_heard
from webcommon.guard import authorize


def stop_task(task_id: str) -> str:
    """The task's status after the request. Raises TaskNotFound (also for a task of a project the
    caller may not see), InvalidTransition (it already ended), ApiError 403 (a viewer). The
    project check is the guard's own (``authorize``): on the REST route it was made already and
    the task's project is remembered, so it costs no second query."""
    authorize(TASK, task_id, "write")
    with task_write_heard(task_id), session_scope() as session:
        return task_queries.request_stop(session, task_id)


def stop_message(status: str) -> str:
    if status == TaskStatus.STOPPED.value:
        return "task stopped"
    return "stop requested; the worker stops at its next batch and keeps its last checkpoint"
