"""Who did what: after the API answers a change (any request that is not a read) with success,
one audit row names the caller, the route (``action``: its endpoint, e.g. ``tasks.stop``), the
project and the object. Recorded for every route by one ``after_request`` hook, so a new route
cannot be left out. The request only queues the row: a writer thread per process inserts what
is queued every ``FLUSH_SECONDS`` in one transaction (the submit path stays cheap), and at exit;
a process killed outright loses at most that much. A failure to write is logged, never turned
into an error for a change that happened."""

from __future__ import annotations

import atexit
import logging
import queue
import threading

from flask import Flask, Response, g, request

from webcommon.principal import current
from dao import audit_queries
from dao.db import session_scope
from dao.tables import utcnow

log = logging.getLogger(__name__)
READS = frozenset({"GET", "HEAD", "OPTIONS"})
FLUSH_SECONDS = 0.2
_pending: queue.SimpleQueue = queue.SimpleQueue()
_queued = threading.Event()
_flush_lock = threading.Lock()  # a flush returns only once rows taken by an earlier one are committed
_writer_lock = threading.Lock()
_writer: threading.Thread | None = None


def note_project(project_id: str | None) -> None:
    """The project the current request acts in (the guard's object, a submit's proj_id)."""
    g.audit_project = project_id


def note_target(target: str) -> None:
    """The object a request made when its URL names none (an MMS registration's model)."""
    g.audit_target = target


def install(app: Flask) -> None:
    app.after_request(_record)


def _record(response: Response) -> Response:
    if request.method in READS or response.status_code >= 400 or request.url_rule is None:
        return response
    ident = current()
    _pending.put(dict(
        at=utcnow(), user_id=ident.user_id or None, user_name=ident.user_name[:100], token_id=ident.token_id or None,
        action=(request.endpoint or "")[:100], method=request.method, path=request.path[:500],
        status=response.status_code, project_id=g.get("audit_project"), target=_target(response),
        client=(request.remote_addr or "")[:100]))
    _queued.set()
    _start_writer()
    return response


def _start_writer() -> None:
    global _writer
    if _writer is not None and _writer.is_alive():
        return
    with _writer_lock:
        if _writer is None or not _writer.is_alive():  # also after a fork: threads do not survive it
            _writer = threading.Thread(target=_write_forever, name="audit-writer", daemon=True)
            _writer.start()


def _write_forever() -> None:
    while True:
        _queued.wait()
        threading.Event().wait(FLUSH_SECONDS)
        _queued.clear()
        flush()


def flush() -> None:
    """Insert what is queued in one transaction; when it returns, every entry queued before the
    call is committed, including those another flush had already taken."""
    with _flush_lock:
        batch = []
        while True:
            try:
                batch.append(_pending.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return
        try:
            with session_scope() as session:
                audit_queries.add_entries(session, batch)
        except Exception as exc:  # noqa: BLE001 - the changes stand; the log says the rows are missing
            log.warning("%d audit entries not written: %s", len(batch), exc)


atexit.register(flush)


def _target(response: Response) -> str | None:
    """The object: the URL's arguments, else what the view noted, else the id a submit answered with."""
    args = request.view_args or {}
    if args:
        return ",".join(f"{k}={v}" for k, v in args.items())[:300]
    if g.get("audit_target"):
        return g.audit_target[:300]
    if response.is_json:
        body = response.get_json(silent=True) or {}
        task_id = (body.get("task_form") or {}).get("task_id") or body.get("task_id")
        if task_id:
            return f"task_id={task_id}"
        if isinstance(body.get("token"), dict):
            return f"token_id={body['token'].get('id')}"
        if isinstance(body.get("dataset"), dict):
            return f"name={body['dataset'].get('name')}"
    return None
