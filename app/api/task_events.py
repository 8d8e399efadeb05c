"""GET /api/v0/tasks/<id>/events: a task's status and epochs as server-sent events.

- ``event: status``: the light view (as GET /api/v0/tasks/<id> answers it), first on every
  connection and again whenever it changes;
- ``event: epoch``: each finished epoch's metrics with its ``attempt``, oldest first; a resumed
  attempt that redoes epochs sends them again (its attempt is higher);
- ``event: end``: the task reached a final state and every epoch was sent; the stream closes.
- ``: heartbeat`` comments after ``TRAINYARD_EVENTS_HEARTBEAT_SECONDS`` of silence, so proxies
  and clients see a live connection.

Each event's ``id`` is the cursor ``<attempt>.<epoch>`` of the last epoch sent (``0.0`` before
any); the end's is ``end``. A client that reconnects with ``Last-Event-ID`` (an EventSource does
by itself) gets the current status and only the epochs it has not seen; one that reconnects
after the end gets 204, which tells an EventSource to stop. A stream lasts at most
``TRAINYARD_EVENTS_STREAM_SECONDS``; the client then reconnects.

A stream holds one gunicorn thread and one of the worker's waiting slots (app.stream_slots):
when they are all taken the request answers 503 with Retry-After.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

from flask import Blueprint, Response, request

from app import stream_slots
from app.api.requests import bad_query
from app.api.task_poll import read_light_view
from dao import epoch_queries
from dao.db import read
from contracts.replies import TaskLight
from contracts.settings import get_settings
from contracts.statuses import TaskStatus
from webcommon.openapi.common import EVENTS, NOT_MODIFIED, TASKS
from webcommon.openapi.spec_types import Op, Param, documented, string

bp = Blueprint("task_events", __name__, url_prefix="/api/v0")
TERMINAL = {s.value for s in TaskStatus.terminal()}
STEP_SECONDS = 0.25
END_ID = "end"
_CURSOR = re.compile(r"^(\d{1,9})\.(\d{1,9})$")


def _cursor() -> tuple[int, int] | None:
    """(attempt, epoch) from Last-Event-ID (or ``?last_event_id=``, for clients that cannot set
    headers); None after the end. Raises ApiError 400 for an id this stream never sent."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0.0"
    if raw == END_ID:
        return None
    match = _CURSOR.match(raw.strip())
    if match is None:
        raise bad_query("Last-Event-ID", "must be an id this stream sent: <attempt>.<epoch> or end")
    return int(match[1]), int(match[2])


@bp.get("/tasks/<task_id>/events")
@documented(Op(
    "A task's status and epochs as server-sent events, ending at its final state", TASKS,
    {200: EVENTS, 204: NOT_MODIFIED}, (404,),
    query=(Param("Last-Event-ID", string(), "header",
                 description="<attempt>.<epoch> of the last event seen: resume after it"),)))
def task_events(task_id: str):
    cursor = _cursor()
    view = read_light_view(task_id)  # 404 before any slot is taken
    if cursor is None and view.status in TERMINAL:
        return Response(status=204)
    slot = stream_slots.take_slot()
    if slot is None:
        return stream_slots.busy()
    settings = get_settings()
    stream = _events(task_id, cursor or (0, 0), view, settings.events_stream_seconds,
                     settings.events_heartbeat_seconds)
    response = Response(stream, mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # The server closes the body when the stream ends or the client went away (a write failed),
    # also when the generator never started: the slot is given back in every case.
    response.call_on_close(slot.release)
    return response


def _event(kind: str, event_id: str, data: dict) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _events(task_id: str, cursor: tuple[int, int], view: TaskLight, seconds: float,
            heartbeat: float) -> Iterator[str]:
    yield "retry: 2000\n\n"
    deadline = time.monotonic() + seconds
    last_sent, sent_view = time.monotonic(), None
    while True:
        # The view first, then the epochs: a final state seen means every epoch is written.
        epochs = read(lambda conn: epoch_queries.epochs_after(conn, task_id, *cursor))
        more = len(epochs) == epoch_queries.EPOCHS_PER_READ  # send those first, then read on
        if epochs:
            cursor = (epochs[-1].attempt, epochs[-1].epoch)
        cursor_id = f"{cursor[0]}.{cursor[1]}"
        out = [_event("epoch", f"{e.attempt}.{e.epoch}", {**e.metrics, "attempt": e.attempt}) for e in epochs]
        if view != sent_view:
            out.append(_event("status", cursor_id, view.model_dump(mode="json", exclude_unset=True)))
            sent_view = view
        ended = view.status in TERMINAL and not more
        if ended:
            out.append(_event("end", END_ID, {"task_id": task_id, "status": view.status}))
        if out:
            yield "".join(out)
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= heartbeat:
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
        if ended or time.monotonic() >= deadline:
            return
        if not more:
            time.sleep(STEP_SECONDS)
        view = read_light_view(task_id)
