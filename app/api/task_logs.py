"""A task's log (what its job logged on the worker), page by page or followed live.

``GET /api/v0/tasks/<id>/logs?cursor=&limit=&attempt=`` answers a page of lines after the
cursor (a line's ``seq``); ``follow=1`` (or ``Accept: text/event-stream``) streams new lines as
server-sent events until the task has ended and every line is sent (``event: end``). One stream
lasts at most ``TRAINYARD_LOG_FOLLOW_SECONDS`` (a sync gunicorn worker serves it); an
EventSource then reconnects by itself with ``Last-Event-ID``, and a reconnect after the end gets
204, which tells it to stop.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, request

from app.api.requests import int_arg
from webcommon.errors import ApiError
from dao import log_queries, task_queries
from dao.clock import as_utc
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import TaskLogLine, utcnow
from contracts.statuses import TaskStatus
from contracts import replies as r
from webcommon.openapi.common import EVENTS, NOT_MODIFIED, TASKS
from webcommon.openapi.spec_types import Op, Param, choice, documented, integer, string

bp = Blueprint("task_logs", __name__, url_prefix="/api/v0")
TERMINAL = {s.value for s in TaskStatus.terminal()}
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
# The worker logs a line or two right after it records the end ("finished as SUCCEEDED"):
# the stream ends only once the task has been over this long with nothing new.
END_GRACE_SECONDS = 1.0
MAX_SEQ = 2**31 - 1


def _line(row: TaskLogLine) -> r.LogLine:
    return r.LogLine(seq=row.seq, attempt=row.attempt, at=row.at.isoformat(), level=row.level,
                     logger=row.logger, message=row.message)


def _read(task_id: str, cursor: int, limit: int, attempt: int | None) -> tuple[str, list[r.LogLine]]:
    """The task's status and its lines after ``cursor``. Raises NotFound (404)."""
    status, _ended, lines = _read_ended(task_id, cursor, limit, attempt)
    return status, lines


def _read_ended(task_id: str, cursor: int, limit: int, attempt: int | None):  # noqa: ANN202
    """(status, whether it ended over END_GRACE_SECONDS ago, lines after ``cursor``)."""
    with session_scope() as session:
        task = task_queries.get_task(session, task_id)
        finished = as_utc(task.finished_at)
        long_over = task.status in TERMINAL and (
            finished is None or (utcnow() - finished).total_seconds() >= END_GRACE_SECONDS)
        rows = log_queries.lines_after(session, task_id, cursor, limit, attempt)
        return task.status, long_over, [_line(row) for row in rows]


def _follow_requested() -> bool:
    raw = request.args.get("follow")
    if raw is None:
        return request.accept_mimetypes.best == "text/event-stream"
    if raw not in ("0", "1", "true", "false"):
        raise ApiError(400, "follow must be 1 or 0", [{"field": "follow", "problem": "must be 1 or 0"}])
    return raw in ("1", "true")


def _cursor() -> int:
    last_event = request.headers.get("Last-Event-ID")
    if last_event and "cursor" not in request.args and last_event.isdigit():
        return min(int(last_event), MAX_SEQ)
    return int_arg("cursor", 0, 0, MAX_SEQ)


@bp.get("/tasks/<task_id>/logs")
@documented(Op(
    "A task's log, a page at a time or followed (server-sent events)", TASKS,
    {200: (r.LogPage, EVENTS), 204: NOT_MODIFIED}, (404,),
    query=(Param("cursor", integer(0, 2**31 - 1)), Param("limit", integer(1, 1000)),
           Param("attempt", integer(0, 10_000)), Param("follow", choice("0", "1", "true", "false")),
           Param("Last-Event-ID", string(), "header"))))
def get_logs(task_id: str):
    cursor, limit = _cursor(), int_arg("limit", 200, 1, 1000)
    attempt = int_arg("attempt", 0, 0, 10_000) or None
    follow = _follow_requested()
    status, long_over, lines = _read_ended(task_id, cursor, limit, attempt)
    if not follow:
        next_cursor = lines[-1].seq if lines else cursor
        return r.LogPage(task_id=task_id, status=status, lines=lines, next_cursor=next_cursor,
                         done=long_over and len(lines) < limit)
    if long_over and not lines:
        return Response(status=204)
    stream = _events(task_id, cursor, attempt, status, lines, get_settings().log_follow_seconds)
    return Response(stream, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _events(task_id: str, cursor: int, attempt: int | None, status: str, lines: list[r.LogLine],
            seconds: float):
    """Server-sent events: ``line`` per log line (its id is the cursor), ``end`` once the task
    has ended and all its lines went out, ``: keepalive`` comments while nothing happens."""
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    ended_at = None
    yield "retry: 1000\n\n"
    while True:
        for line in lines:
            cursor = line.seq
            yield f"id: {cursor}\nevent: line\ndata: {line.model_dump_json()}\n\n"
        if status in TERMINAL and ended_at is None:
            ended_at = time.monotonic()
        if lines:
            quiet_since = time.monotonic()
        elif ended_at is not None and time.monotonic() - ended_at >= END_GRACE_SECONDS:
            yield f"event: end\ndata: {json.dumps({'task_id': task_id, 'status': status})}\n\n"
            return
        elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        if time.monotonic() > deadline:
            return
        if not lines:
            time.sleep(POLL_SECONDS)
        # Status first, then lines: a task seen ended has written every line we then read.
        status, lines = _read(task_id, cursor, 500, attempt)
