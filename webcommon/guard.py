"""The one place requests are authenticated and their URL's object checked, for the API and the
serving apps alike: a ``before_request`` hook that denies by default. Only ``/ping``,
``/healthz`` and ``/v2/health/*`` are open (and ``/metrics`` from the scrape networks named in
``TRAINYARD_METRICS_OPEN_NETWORKS``); everything else needs ``Authorization: Bearer <token>``.

The object a URL names (a ``<task_id>``, a dataset's or a model's ``<name>``) is looked up for
its project: a project the caller may not see answers the route's own not-found error, a
visible one the caller may not change 403. What a request names in its body (new_task's
proj_id, trained_task_id and datasets, MXServer's /stop) its handler checks with
``webcommon.principal.require``; listings filter by ``visible_projects()``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request

from webcommon import failures, tokens
from webcommon.principal import Hidden, current, require, token_may
from dao import auth_queries
from dao.db import session_scope
from contracts.settings import get_settings

log = logging.getLogger(__name__)
# The dashboard's page shells and scripts (app/web) are open too: a browser cannot send a
# bearer token when it navigates, and they hold no data; everything they show they fetch from
# the API with the signed-in token.
OPEN_PATHS = frozenset({"/ping", "/healthz", "/"})
OPEN_PREFIXES = ("/v2/health/", "/ui/")
METRICS_PATHS = frozenset({"/metrics", "/serving/metrics"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(Exception):
    """No token, or one that is unknown, revoked or expired: 401."""


class Throttled(Exception):
    """Too many bad tokens from this client address lately: 429 (webcommon.failures)."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many requests with bad tokens from your address; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Resource:
    """How to find the project of the object a view argument names, and the error the route
    gives for an object that does not exist (so a hidden one looks the same)."""

    project_of: Callable[[str], Any]  # key → project id, None (shared) or auth_queries.MISSING
    not_found: Callable[[str], Exception]
    # A served model's routes may name a version too: ``version_of()`` reads it as the route does
    # (None where it names none), and ``not_found(key, version)`` words it as the route words an
    # unknown one, so a hidden model reads exactly as a made-up name.
    version_of: Callable[[], str | None] | None = None

    def hidden(self, key: str) -> Exception:
        if self.version_of is None:
            return self.not_found(key)
        return self.not_found(key, self.version_of())


def in_database(lookup: Callable[[Any, str], Any]) -> Callable[[str], Any]:
    """A ``project_of`` that asks the database (``lookup(session, key)``)."""
    def project_of(key: str) -> Any:
        with session_scope() as session:
            return lookup(session, key)
    return project_of


def install(app: Flask, resources: dict[tuple[str, str], Resource], *, all_reads: bool = False,
            unauthenticated: Callable[[str], Response] | None = None) -> None:
    """``resources``: (blueprint name or "*", view argument) → Resource."""
    settings = get_settings()
    if settings.auth == "off":
        log.warning("TRAINYARD_AUTH=off: every request is let in as a service admin; use it only on a "
                    "trusted network")
        return
    app.extensions["trainyard_auth_resources"] = resources
    open_networks = _networks(settings.metrics_open_networks)

    @app.before_request
    def _guard():  # noqa: ANN202
        if _is_open(open_networks):
            return None
        g.identity = _authenticate()
        _authorize(resources, all_reads)
        return None

    @app.errorhandler(Unauthenticated)
    def _unauthenticated(exc: Unauthenticated):  # noqa: ANN202
        if unauthenticated is not None:
            response = unauthenticated(str(exc))
        else:
            response = jsonify({"error_num": 401, "msg": str(exc)})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="trainyard"'
        return response

    @app.errorhandler(Throttled)
    def _throttled(exc: Throttled):  # noqa: ANN202
        response = unauthenticated(str(exc)) if unauthenticated is not None else \
            jsonify({"error_num": 429, "msg": str(exc)})
        response.status_code = 429
        response.headers["Retry-After"] = str(exc.retry_after)
        return response


def _networks(spec: str) -> tuple:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _is_open(open_networks: tuple) -> bool:
    path = request.path
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return True
    if path in METRICS_PATHS and open_networks and request.remote_addr:
        try:
            addr = ipaddress.ip_address(request.remote_addr)
        except ValueError:
            return False
        return any(addr in net for net in open_networks)
    return False


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _authenticate():  # noqa: ANN202 - an Identity
    secret = bearer()
    if secret is None:
        failures.FAILURES.labels("missing").inc()
        raise Unauthenticated("a token is required: send Authorization: Bearer <token> (see docs/accounts.md)")
    address = failures.client_address()
    if failures.throttled(address):
        failures.FAILURES.labels("throttled").inc()
        raise Throttled(failures.retry_after(address))
    ident = tokens.identify(secret)
    if ident is None:
        failures.failed(address)
        failures.FAILURES.labels("invalid").inc()
        raise Unauthenticated("the token is unknown, revoked or expired")
    return ident


def _need(all_reads: bool) -> str:
    """What the request does: the serving app only reads (inference is reading)."""
    if all_reads or request.method in READ_METHODS:
        return "read"
    return "admin" if request.method == "DELETE" else "write"


def _authorize(resources: dict[tuple[str, str], Resource], all_reads: bool) -> None:
    """Raises the route's not-found error for a hidden object, ApiError 403 for a forbidden one."""
    need = _need(all_reads)
    named = _named(resources)
    if not named:
        require_token_may(need)
        return
    for resource, key in named:
        authorize(resource, key, need)


def authorize(resource: Resource, key: str, need: str) -> None:
    """The caller may ``need`` on the object ``key`` names. Raises the resource's not-found error
    for a hidden one, ApiError 403 for a forbidden one; one that does not exist passes (its route
    answers its own 404)."""
    project = resource.project_of(key)
    if project is auth_queries.MISSING:
        return
    g.audit_project = project
    try:
        require(project, need)
    except Hidden:
        raise resource.hidden(key) from None


def checks_own_project(*args: str) -> Callable:
    """Marks a view that checks the project of these view arguments itself, from a row it
    reads anyway (the status poll: a second query for the guard would double its cost). The
    view must call ``principal.require`` and answer a hidden object as its own not-found."""
    def mark(view: Callable) -> Callable:
        view.checks_own_project = frozenset(args)
        return view
    return mark


def _named(resources: dict[tuple[str, str], Resource]) -> list[tuple[Resource, str]]:
    out = []
    view = current_app.view_functions.get(request.endpoint or "")
    checked_by_view = getattr(view, "checks_own_project", frozenset())
    for arg, value in (request.view_args or {}).items():
        if arg in checked_by_view:
            continue
        resource = resources.get((request.blueprint or "", arg)) or resources.get(("*", arg))
        if resource is not None:
            out.append((resource, str(value)))
    return out


def require_token_may(need: str) -> None:
    """A route naming no object: a read-only token may still not write through it."""
    token_may(current(), need)
