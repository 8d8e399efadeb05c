"""GET /api/v0/tasks/<id>: the poll. A light view by default (status, progress, latest epoch,
headline metrics, links), the whole task with ``?view=full``; an ETag on both, so an unchanged
task answers 304 to ``If-None-Match``; and ``?wait=S`` (up to 60 s) to wait for a change
instead of polling: with an ETag that is still current the answer comes when the task changes,
or as 304 after S seconds.

Waiting holds one gunicorn thread (gthread workers, see gunicorn.conf.py), not a process, and
one of the worker's bounded waiting slots (app.stream_slots); the wait re-reads the task every
WAIT_STEP_SECONDS.

On PostgreSQL the light view is kept per process until the database says the task changed
(dao.poll_cache), so polling an unchanged task reads nothing but the queue-position snapshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

from flask import Response, request
from prometheus_client import Counter

from app import stream_slots
from app.api.requests import choice_arg, float_arg
from webcommon.principal import Hidden, require
from app.schemas.task_view import detail, light
from contracts.replies import TaskLight
from dao import epoch_queries, log_queries, queue_positions, task_queries
from dao.db import poll_cache, read, session_scope
from dao.errors import TaskNotFound
from contracts.statuses import TaskStatus
from contracts.task_result import METRIC_FIELDS
from webcommon.replies import model_json

MAX_WAIT_SECONDS = 60.0
WAIT_STEP_SECONDS = 0.25
RECENT_EPOCHS = 6  # the ETA's window: the rate over the last five epoch intervals
HEADLINE = tuple(sorted(METRIC_FIELDS))  # the light view's metrics
VIEWS = Counter("trainyard_poll_views", "Light poll views answered, by source: read from the database, "
                "or kept (the task has not changed since it was read, dao.poll_cache)", ["source"])


def read_light_view(task_id: str) -> TaskLight:
    """The light view. Raises TaskNotFound."""
    return _light_view(task_id)[1]


@dataclass(frozen=True)
class _Kept:
    """What the poll keeps of a task between its changes: the light view without its queue
    position (that moves with other tasks), and where to work the position out."""

    project: str
    view: TaskLight
    queued_at: tuple[str, dt.datetime] | None  # (queue, created_at) of a QUEUED task
    keep: bool  # False for MXServer tasks: their phases come from log lines, which notify nothing


def _light_view(task_id: str) -> tuple[str, TaskLight]:
    """(the task's project, its light view). Raises TaskNotFound."""
    cache = poll_cache()
    kept = cache.get(task_id) if cache is not None else None
    if kept is None:
        ticket = cache.ticket(task_id) if cache is not None else None
        kept, position = read(lambda conn: _read_kept(conn, task_id))
        if cache is not None and kept.keep:
            cache.put(task_id, ticket, kept)
        VIEWS.labels("read").inc()
    else:
        position = None if kept.queued_at is None else _position(task_id, *kept.queued_at)
        VIEWS.labels("kept").inc()
    return kept.project, kept.view.model_copy(update={"queue_position": position})


def _position(task_id: str, queue: str, created_at: dt.datetime) -> int:
    known = queue_positions.snapshot_position(queue, created_at, task_id)
    if known is not None:
        return known
    return read(lambda conn: queue_positions.position(conn, queue, created_at, task_id))


def _read_kept(conn, task_id: str) -> tuple[_Kept, int | None]:  # noqa: ANN001 - a Core connection
    task, recent, position, phases = _light_rows(conn, task_id)
    queued = task.status == TaskStatus.QUEUED.value
    kept = _Kept(task.proj_id, light(task, recent, task.headline or {}, None, phases),
                 (task.queue, task.created_at) if queued else None, keep=task.source != "mxserver")
    return kept, position


def _render(task_id: str, full: bool) -> bytes:
    """The view as JSON bytes. Raises TaskNotFound, also for a task the caller may not see:
    the poll checks the project itself, from the row it reads anyway (the guard skips it, see
    poll_task), so the busiest route costs one query rather than two."""
    if full:
        with session_scope() as session:
            task = task_queries.get_task(session, task_id)
            _must_see(task.proj_id, task_id)
            position = task_queries.queue_position(session, task)
            recent = epoch_queries.recent_epochs(session, task_id, RECENT_EPOCHS) if task.epochs_done else []
            phases = log_queries.mxserver_states(session, task_id) if task.form.get("source") == "mxserver" else []
            view = detail(task, recent, position, phases)
    else:
        project, view = _light_view(task_id)
        _must_see(project, task_id)
    return model_json(view)


def _must_see(project: str, task_id: str) -> None:
    try:
        require(project, "read")
    except Hidden:
        raise TaskNotFound(task_id) from None


def _light_rows(conn, task_id: str):  # noqa: ANN001, ANN202 - a Core connection; (row, rows, position)
    task = task_queries.poll_row(conn, task_id, HEADLINE)
    if task is None:
        raise TaskNotFound(task_id)
    recent = epoch_queries.recent_epoch_rows(conn, task_id, RECENT_EPOCHS) if task.epochs_done else []
    position = (queue_positions.position(conn, task.queue, task.created_at, task.id)
                if task.status == TaskStatus.QUEUED.value else None)
    phases = log_queries.mxserver_states(conn, task_id) if task.source == "mxserver" else []
    return task, recent, position, phases


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def poll_task(task_id: str) -> Response:
    """The view that calls this is marked ``checks_own_project("task_id")``: _render checks it.
    Raises TaskNotFound (404) and ApiError 400 for a bad ``view`` or ``wait``; 503 when a
    wait finds this worker's waiting slots all taken (app.stream_slots)."""
    full = choice_arg("view", "light", ("light", "full")) == "full"
    wait = float_arg("wait", 0.0, 0.0, MAX_WAIT_SECONDS)
    body = _render(task_id, full)
    if wait and request.if_none_match.contains(_etag(body)):
        slot = stream_slots.take_slot()
        if slot is None:
            return stream_slots.busy()
        try:
            body = _wait_for_change(task_id, full, body, time.monotonic() + wait)
        finally:
            slot.release()
    response = Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
    response.set_etag(_etag(body))
    return response.make_conditional(request)


def _wait_for_change(task_id: str, full: bool, body: bytes, deadline: float) -> bytes:
    while request.if_none_match.contains(_etag(body)) and time.monotonic() < deadline:
        time.sleep(min(WAIT_STEP_SECONDS, max(0.0, deadline - time.monotonic())))
        body = _render(task_id, full)
    return body
