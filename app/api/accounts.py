"""Accounts: ``whoami``, projects and their members, API tokens (the secret shown once)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, request

from app.api.requests import int_arg, json_body
from webcommon import tokens
from webcommon.principal import current, require, require_service_admin, role_in, visible_projects
from webcommon.errors import ApiError
from app.schemas.accounts import LimitsForm, MemberForm, ProjectForm, TokenForm
from app.schemas.task_view import iso
from dao import audit_queries, auth_queries, project_limits, storage_quota
from dao.db import session_scope
from contracts.settings import get_settings
from dao.tables import ApiToken, utcnow
from contracts import replies as r
from app.api.requests import JSON_ERRORS
from webcommon.openapi.common import ACCOUNTS
from webcommon.openapi.spec_types import Op, Param, documented, integer, string

bp = Blueprint("accounts", __name__, url_prefix="/api/v0")


def _projects_of(session) -> list[r.ProjectRole]:  # noqa: ANN001
    ident = current()
    rows = auth_queries.list_projects(session, visible_projects(ident))
    return [r.ProjectRole(id=p.id, name=p.name, role=role_in(ident, p.id)) for p in rows]


def token_view(row: ApiToken) -> r.Token:
    return r.Token(id=row.id, name=row.name, user_id=row.user_id, read_only=row.read_only,
                   projects=row.projects, created_at=iso(row.created_at), expires_at=iso(row.expires_at),
                   revoked_at=iso(row.revoked_at), last_used_at=iso(row.last_used_at))


@bp.get("/whoami")
@documented(Op("The caller: its user, token and projects", ACCOUNTS, {200: r.Whoami}))
def whoami():
    ident = current()
    with session_scope() as session:
        projects = _projects_of(session)
    return r.Whoami(
        user=r.WhoamiUser(id=ident.user_id, name=ident.user_name, is_admin=ident.is_admin),
        token=r.WhoamiToken(id=ident.token_id, name=ident.token_name, read_only=ident.read_only,
                            projects=None if ident.token_projects is None else sorted(ident.token_projects),
                            expires_at=iso(ident.expires_at)),
        projects=projects,
    )


@bp.get("/projects")
@documented(Op("The projects the caller sees, with its role", ACCOUNTS, {200: r.Projects}))
def list_projects():
    with session_scope() as session:
        return r.Projects(projects=_projects_of(session))


@bp.post("/projects")
@documented(Op("Make a project (a service admin)", ACCOUNTS, {201: r.ProjectCreated}, (*JSON_ERRORS, 409, 422),
                body=ProjectForm))
def create_project():
    """A service admin makes a project (then adds its members)."""
    require_service_admin()
    form = ProjectForm.model_validate(json_body())
    with session_scope() as session:
        if auth_queries.find_project(session, form.id) is not None:
            raise ApiError(409, f"project {form.id!r} already exists", [{"field": "id", "problem": "is taken"}])
        row = auth_queries.create_project(session, form.id, form.name)
        return r.ProjectCreated(error_num=0, msg="project created", project=r.Project(id=row.id, name=row.name)), 201


@bp.get("/projects/<project_id>")
@documented(Op("A project: its limits and what it runs now", ACCOUNTS, {200: r.ProjectDetail}, (404,)))
def show_project(project_id: str):
    """The project, its limits (own and in force) and what it runs now."""
    settings = get_settings()
    with session_scope() as session:
        row = _project(session, project_id)
        running, gpus = project_limits.usage(session, project_id)
        limits = project_limits.limits_of(session, project_id, settings.project_max_running,
                                          settings.project_max_gpus)
        return r.ProjectDetail(
            id=row.id, name=row.name, role=role_in(current(), row.id),
            max_running=row.max_running, max_gpus=row.max_gpus, max_storage_mb=row.max_storage_mb,
            limits=r.ProjectLimits(max_running=limits and limits.max_running, max_gpus=limits and limits.max_gpus),
            usage=r.ProjectUsage(running=running, gpus=gpus,
                                 storage_bytes=storage_quota.used_bytes(session, project_id)))


@bp.patch("/projects/<project_id>")
@documented(Op("Set a project's limits (a service admin)", ACCOUNTS, {200: r.ProjectDetail},
                (*JSON_ERRORS, 404, 422), body=LimitsForm))
def set_limits(project_id: str):
    """A service admin sets a project's limits (``max_running``, ``max_gpus``, ``max_storage_mb``).
    The body is read first, as on every route; then a project that does not exist is 404 before
    the caller's role is looked at: the guard answers a hidden one 404 too, so the answer never
    tells that another's project exists."""
    form = LimitsForm.model_validate(json_body())
    with session_scope() as session:
        row = _project(session, project_id)
        require_service_admin()
        for field in form.model_fields_set:
            setattr(row, field, getattr(form, field))
    project_limits.forget(project_id)
    return show_project(project_id)


@bp.get("/audit")
@documented(Op(
    "Who did what, newest first (service admin: everything; project admin: its projects)", ACCOUNTS,
    {200: r.AuditLog}, (403,),
    query=(Param("proj_id", string()), Param("action", string()), Param("before_id", integer(0, 2**62)),
           Param("limit", integer(1, 1000)))))
def audit_log():
    """Newest first: everything for a service admin, the projects it administers for a project
    admin. ``?proj_id=&action=&before_id=&limit=`` narrow it."""
    ident = current()
    if ident.is_admin and ident.token_projects is None:
        scope = None
    else:
        scope = frozenset(p for p in (visible_projects(ident) or ()) if role_in(ident, p) == "admin")
        if not scope:
            raise ApiError(403, "the audit log is for admins: the service admin, or a project's admins")
    limit = int_arg("limit", 100, 1, 1000)
    before = int_arg("before_id", 0, 0, 2**62) or None
    with session_scope() as session:
        rows = audit_queries.list_entries(session, scope, project=request.args.get("proj_id") or None,
                                          action=request.args.get("action") or None, before_id=before, limit=limit)
        entries = [r.AuditEntry(id=e.id, at=iso(e.at), user=e.user_name, user_id=e.user_id, token_id=e.token_id,
                                action=e.action, method=e.method, path=e.path, status=e.status,
                                proj_id=e.project_id, target=e.target, client=e.client) for e in rows]
    return r.AuditLog(entries=entries, next_before_id=entries[-1].id if len(entries) == limit else None)


@bp.get("/projects/<project_id>/members")
@documented(Op("A project's members", ACCOUNTS, {200: r.Members}, (404,)))
def list_members(project_id: str):
    with session_scope() as session:
        _project(session, project_id)
        return r.Members(project=project_id, members=auth_queries.members(session, project_id))


@bp.post("/projects/<project_id>/members")
@documented(Op("Add or change a member (a project admin)", ACCOUNTS, {201: r.MemberAdded},
                (*JSON_ERRORS, 404, 422), body=MemberForm))
def add_member(project_id: str):
    form = MemberForm.model_validate(json_body())
    with session_scope() as session:
        _project(session, project_id)  # 404 before the role, worded as the guard words a hidden project
    require(project_id, "admin")
    with session_scope() as session:
        _project(session, project_id)
        user = auth_queries.get_or_create_user(session, form.user)
        auth_queries.set_member(session, project_id, user.id, form.role)
    tokens.forget()  # cached identities carry their roles
    return r.MemberAdded(error_num=0, msg=f"{form.user} is {form.role} of {project_id}",
                         member=r.Member(user_id=user.id, user=form.user, role=form.role)), 201


@bp.delete("/projects/<project_id>/members/<user>")
@documented(Op("Remove a member", ACCOUNTS, {200: r.Done}, (404,)))
def remove_member(project_id: str, user: str):
    with session_scope() as session:
        _project(session, project_id)
        row = auth_queries.find_user(session, user)
        if row is None or not auth_queries.remove_member(session, project_id, row.id):
            raise ApiError(404, f"{user!r} is not a member of project {project_id!r}")
    tokens.forget()
    return r.Done(error_num=0, msg=f"{user} removed from {project_id}")


def _project(session, project_id: str):  # noqa: ANN001, ANN202
    row = auth_queries.find_project(session, project_id)
    if row is None:
        raise auth_queries.ProjectNotFound(project_id)
    return row


@bp.post("/tokens")
@documented(Op("Make a token (its secret is in this answer only)", ACCOUNTS, {201: r.TokenCreated},
                (*JSON_ERRORS, 422), body=TokenForm))
def create_token():
    """The new token's secret is in this answer only."""
    form = TokenForm.model_validate(json_body())
    ident = current()
    expires = utcnow() + dt.timedelta(seconds=form.expires_in_seconds) if form.expires_in_seconds else None
    with session_scope() as session:
        user_id = ident.user_id if form.user is None else _other_user(session, form)
        if form.user is None and form.projects is not None and ident.token_projects is not None \
                and not set(form.projects) <= ident.token_projects:
            raise ApiError(403, "a token cannot reach projects beyond the token that makes it",
                           [{"field": "projects", "problem": "outside this token's projects"}])
        if ident.token_projects is not None and form.projects is None:
            form.projects = sorted(ident.token_projects)
        row, secret = auth_queries.create_token(session, user_id, form.name, projects=form.projects,
                                                read_only=form.read_only or ident.read_only, expires_at=expires)
        view = token_view(row)
    return r.TokenCreated(error_num=0, msg="token created; keep the secret now: it is never shown again",
                          token=view, secret=secret), 201


def _other_user(session, form: TokenForm) -> int:  # noqa: ANN001
    """A token for another user: a service admin's, or a project admin's for a member of each
    project named (``projects`` is then required)."""
    ident = current()
    target = auth_queries.find_user(session, form.user)
    if ident.is_admin and ident.token_projects is None:
        if target is None:
            target = auth_queries.get_or_create_user(session, form.user)
        return target.id
    if not form.projects:
        raise ApiError(403, "only a service admin makes another user's token for all its projects",
                       [{"field": "projects", "problem": "name the projects you administer"}])
    for project_id in form.projects:
        if role_in(ident, project_id) != "admin":
            raise ApiError(403, f"you are not an admin of project {project_id!r}",
                           [{"field": "projects", "problem": f"{project_id!r}: not yours to administer"}])
    joined = set() if target is None else {
        p for p in form.projects if any(m["user_id"] == target.id for m in auth_queries.members(session, p))}
    if joined != set(form.projects):
        raise ApiError(422, f"{form.user!r} is not a member of every project named",
                       [{"field": "user", "problem": "not a member of every project named"}])
    return target.id


@bp.get("/tokens")
@documented(Op("The caller's tokens (a service admin's: everyone's)", ACCOUNTS, {200: r.Tokens}))
def list_tokens():
    """The caller's tokens (a service admin's: everyone's)."""
    ident = current()
    with session_scope() as session:
        mine = None if ident.is_admin and ident.token_projects is None else ident.user_id
        return r.Tokens(tokens=[token_view(t) for t in auth_queries.list_tokens(session, mine)])


@bp.delete("/tokens/<int:token_id>")
@documented(Op("Revoke a token", ACCOUNTS, {200: r.TokenRevoked}, (404,)))
def revoke_token(token_id: int):
    ident = current()
    with session_scope() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (row.user_id != ident.user_id and not (ident.is_admin and ident.token_projects is None)):
            raise ApiError(404, f"token {token_id} does not exist")
        auth_queries.revoke(session, row)
        token_hash, view = row.token_hash, token_view(row)
    tokens.forget(token_hash)
    return r.TokenRevoked(error_num=0, msg="token revoked", token=view)
