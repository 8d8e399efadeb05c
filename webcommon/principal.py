"""The caller of the current request and the one rule for what it may do in a project.

Levels: ``read`` (viewer), ``write`` (editor: submit, stop, upload, deploy), ``admin`` (project
admin: members, delete). What the caller may not see is reported as not found by the caller of
``require`` (404, never 403 confirming that it exists); a visible object it may not change is 403.
Shared objects (``project_id`` None: the demo dataset, uploads by a service admin) are readable
by everyone and changed only by a service admin.
"""

from __future__ import annotations

from flask import g

from webcommon.errors import ApiError
from dao.auth_queries import Identity

LEVELS = {"read": 0, "write": 1, "admin": 2}
ROLE_LEVEL = {"viewer": 0, "editor": 1, "admin": 2}
OFF = Identity(user_id=0, user_name="anonymous (TRAINYARD_AUTH=off)", is_admin=True, token_id=0,
               token_name="none", read_only=False, token_projects=None, expires_at=None, roles={})


class Hidden(Exception):
    """The caller may not see this project's objects: its caller answers 404."""


def current() -> Identity:
    return g.get("identity") or OFF


def role_in(ident: Identity, project_id: str) -> str | None:
    """The caller's role in the project as its token allows, None when it may not see it."""
    if ident.token_projects is not None and project_id not in ident.token_projects:
        return None
    if ident.is_admin:
        return "admin"
    return ident.roles.get(project_id)


def visible_projects(ident: Identity | None = None) -> frozenset[str] | None:
    """The projects whose objects the caller sees; None: every project."""
    ident = ident or current()
    if ident.is_admin:
        return ident.token_projects
    mine = frozenset(ident.roles)
    return mine if ident.token_projects is None else mine & ident.token_projects


def can_see(project_id: str | None, ident: Identity | None = None) -> bool:
    ident = ident or current()
    return project_id is None or role_in(ident, project_id) is not None


def require(project_id: str | None, need: str) -> None:
    """Raises Hidden when the caller may not see the project, ApiError 403 when it sees it but
    may not do ``need`` there (a read-only token, a viewer writing, an editor deleting)."""
    ident = current()
    if project_id is None:
        if need != "read" and not (ident.is_admin and ident.token_projects is None):
            raise ApiError(403, "only a service admin changes shared objects")
        token_may(ident, need)
        return
    role = role_in(ident, project_id)
    if role is None:
        raise Hidden(project_id)
    token_may(ident, need)
    if ROLE_LEVEL[role] < LEVELS[need]:
        raise ApiError(403, f"your role in project {project_id!r} is {role}; this needs "
                            f"{'editor' if need == 'write' else 'admin'}")


def token_may(ident: Identity, need: str) -> None:
    if need != "read" and ident.read_only:
        raise ApiError(403, "this token is read-only")


def require_service_admin() -> None:
    ident = current()
    if not ident.is_admin or ident.read_only:
        raise ApiError(403, "this needs the service admin's token")
