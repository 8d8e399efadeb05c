"""Who did what: after the API answers a change (any request that is not a read) with success,
one audit row names the caller, the route (``action``: its endpoint, e.g. ``tasks.stop``), the
project and the object. Recorded for every route by one ``after_request`` hook, so a new route
cannot be left out; written in its own transaction after the change committed (a failure to
write it is logged, never turned into an error for a change that happened)."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from app.auth.principal import current
from dao import audit_queries
from dao.db import session_scope

log = logging.getLogger(__name__)
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def note_project(project_id: str | None) -> None:
    """The project the current request acts in (the guard's object, a submit's proj_id)."""
    g.audit_project = project_id


def install(app: Flask) -> None:
    app.after_request(_record)


def _record(response: Response) -> Response:
    if request.method in READS or response.status_code >= 400 or request.url_rule is None:
        return response
    ident = current()
    try:
        with session_scope() as session:
            audit_queries.add_entry(
                session, user_id=ident.user_id or None, user_name=ident.user_name[:100],
                token_id=ident.token_id or None, action=(request.endpoint or "")[:100], method=request.method,
                path=request.path[:500], status=response.status_code, project_id=g.get("audit_project"),
                target=_target(response), client=(request.remote_addr or "")[:100])
    except Exception as exc:  # noqa: BLE001 - the change stands; the log says the row is missing
        log.warning("audit entry not written for %s %s: %s", request.method, request.path, exc)
    return response


def _target(response: Response) -> str | None:
    """The object: the URL's arguments, else the id a submit answered with."""
    args = request.view_args or {}
    if args:
        return ",".join(f"{k}={v}" for k, v in args.items())[:300]
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
